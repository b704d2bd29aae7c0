import Foundation
import HDF5
import TestSupport
import XCTest

/// `launch prepare`, `inspect-data` and bad data through `launch train`, as a user runs them.
final class DataCommandTests: XCTestCase {
    /// Default-corpus shards, then a config that trains on them; JSONL conversion.
    func testPrepareWritesShardsThatTrain() throws {
        let directory = try makeTemporaryDirectory("tessera-cli")
        let out = directory.appendingPathComponent("corpus").path
        let prepared = try runProcess(ProjectPaths.launch, ["prepare", "--out", out, "--config", ProjectPaths.config("tiny"),
                                                            "--documents", "250", "--validation-documents", "40", "--shard-documents", "100"])
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        XCTAssertTrue(prepared.stdout.contains("train shard 3/3: 50 documents"), prepared.stdout)
        XCTAssertTrue(prepared.stdout.contains("validation shard 1/1: 40 documents"), prepared.stdout)

        // data.train is a list, which --set cannot give: an edit of the file that fails
        // loudly if configs/tiny.yaml no longer has the line.
        let config = directory.appendingPathComponent("shards.yaml").path
        try String(contentsOfFile: ProjectPaths.config("tiny"), encoding: .utf8)
            .replacingOnce("  documents: 20000\n", with: "  train: [\(out)/train-00000.h5, \(out)/train-00001.h5, \(out)/train-00002.h5]\n")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let trained = try runProcess(ProjectPaths.launch, ["train", "--config", config, "--set", "train.steps=2",
                                                           "--run", directory.appendingPathComponent("run").path])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stdout.contains("step 1/2"), trained.stdout)

        let jsonl = directory.appendingPathComponent("docs.jsonl").path
        try "[5, 6, 7, 2, 300, 301, 1]\n{\"tokens\": [8, 9]}\n".write(toFile: jsonl, atomically: true, encoding: .utf8)
        let converted = try runProcess(ProjectPaths.launch, ["prepare", "--from-jsonl", jsonl, "--out", directory.appendingPathComponent("j").path,
                                                             "--config", ProjectPaths.config("tiny")])
        XCTAssertEqual(converted.status, 0, converted.stderr)
        XCTAssertTrue(converted.stdout.contains("train shard 1/1: 2 documents, 10 tokens"), converted.stdout)

        try "[5, 6, 9999]\n".write(toFile: jsonl, atomically: true, encoding: .utf8)
        let bad = try runProcess(ProjectPaths.launch, ["prepare", "--from-jsonl", jsonl, "--out", directory.appendingPathComponent("k").path,
                                                       "--config", ProjectPaths.config("tiny")])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertEqual(bad.stderr, "error: \(jsonl): line 1: token 9999 is outside the vocabulary 0..<512\n")
    }

    /// A JSONL file that is empty, or holds a float, a boolean or a reserved id, is refused
    /// with one line naming the file and line, and --out is not created; CRLF lines convert.
    func testPrepareRefusesBadJSONLAndWritesNothing() throws {
        let directory = try makeTemporaryDirectory("tessera-cli")
        let jsonl = directory.appendingPathComponent("docs.jsonl").path
        let out = directory.appendingPathComponent("out").path
        func prepare(_ text: String) throws -> ProcessResult {
            try text.write(toFile: jsonl, atomically: true, encoding: .utf8)
            return try runProcess(ProjectPaths.launch, ["prepare", "--from-jsonl", jsonl, "--out", out, "--config", ProjectPaths.config("tiny")])
        }
        let cases = [
            ("", "no documents (every line is blank)"),
            ("\n  \n", "no documents (every line is blank)"),
            ("[5, 6]\n[5, 6.5]\n", "line 2: item 2 is 6.5, not an integer token id"),
            ("[true, 5]\n", "line 1: item 1 is true, not an integer token id"),
            ("{\"tokens\": [5, \"7\"]}\n", "line 1: item 2 is \"7\", not an integer token id"),
            ("[5, 3, 6]\n", "line 1: token 3 (item 2) is <mask>, which the objective reserves"),
            ("[0]\n", "line 1: token 0 (item 1) is <pad>, which the objective reserves"),
            ("[5, 6, 1]\r\n[5, 1, 6]\r\n", "line 2: token 1 (item 2) is <eos>, which may only end a document"),
        ]
        for (text, message) in cases {
            let result = try prepare(text)
            XCTAssertEqual(result.status, 2, text)
            XCTAssertEqual(result.stderr, "error: \(jsonl): \(message)\n")
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(out) created for \(String(reflecting: text))")
        }
        let crlf = try prepare("[5, 6, 7, 2, 300, 1]\r\n{\"tokens\": [8, 9]}\r\n\r\n")
        XCTAssertEqual(crlf.status, 0, crlf.stderr)
        XCTAssertTrue(crlf.stdout.contains("train shard 1/1: 2 documents, 9 tokens"), crlf.stdout)
    }

    /// Training on shards with no documents, or on a file without the vocabulary attributes,
    /// stops with one line naming the config key or the file.
    func testTrainingOnEmptyOrUnlabelledShardsExitsWithOneLine() throws {
        let directory = try makeTemporaryDirectory("tessera-cli")
        func shard(_ name: String, tokens: [Int32], offsets: [Int64], attributes: Bool) throws -> String {
            let path = directory.appendingPathComponent(name).path
            let file = try HDF5File.create(path)
            try file.write("tokens", int32: tokens, shape: [tokens.count])
            try file.write("doc_offsets", int64: offsets, shape: [offsets.count])
            if attributes {
                try file.setAttribute("text_vocab", Int64(256))
                try file.setAttribute("image_codes", Int64(256))
            }
            try file.flush()
            return path
        }
        let empty = try shard("empty.h5", tokens: [], offsets: [0], attributes: true)
        let unlabelled = try shard("unlabelled.h5", tokens: [5, 6, 1], offsets: [0, 3], attributes: false)
        let config = directory.appendingPathComponent("shards.yaml").path
        for (shards, named, message) in [([empty, empty], config, "data.train: the shards hold no documents"),
                                         ([unlabelled], unlabelled, "no text_vocab attribute: not a shard (see docs/data-format.md)")] {
            try String(contentsOfFile: ProjectPaths.config("tiny"), encoding: .utf8)
                .replacingOnce("  documents: 20000\n", with: "  train: [\(shards.joined(separator: ", "))]\n")
                .write(toFile: config, atomically: true, encoding: .utf8)
            let result = try runProcess(ProjectPaths.launch, ["train", "--config", config, "--run", directory.appendingPathComponent("run").path])
            XCTAssertEqual(result.status, 2, result.stderr)
            XCTAssertEqual(result.stderr, "error: \(named): \(message)\n")
        }
    }

    func testInspectDataShowsBlocks() throws {
        let text = try runProcess(ProjectPaths.launch, ["inspect-data", "--config", ProjectPaths.config("tiny"), "--count", "3"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertEqual(text.stdout.components(separatedBy: "masked span").count - 1, 3)
        for word in ["<break>", "<mask>", "<infill>", "img:", "an image of"] {
            XCTAssertTrue(text.stdout.contains(word), "\(word) missing from:\n\(text.stdout)")
        }
        let json = try runProcess(ProjectPaths.launch, ["inspect-data", "--config", ProjectPaths.config("tiny"), "--count", "2", "--json"])
        let lines = json.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            XCTAssertEqual((object?["tokens"] as? [Int])?.count, 129)
            XCTAssertEqual((object?["weights"] as? [Double])?.count, 128)
        }
    }

    /// A config naming a missing shard stops training with one line naming the file.
    func testTrainingOnAMissingShardExitsWithOneLine() throws {
        let directory = try makeTemporaryDirectory("tessera-cli")
        let config = directory.appendingPathComponent("missing.yaml").path
        try String(contentsOfFile: ProjectPaths.config("tiny"), encoding: .utf8)
            .replacingOnce("  documents: 20000\n", with: "  train: [/nonexistent/train-00000.h5]\n")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let result = try runProcess(ProjectPaths.launch, ["train", "--config", config, "--run", directory.appendingPathComponent("run").path])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "error: /nonexistent/train-00000.h5: no such file\n")
    }
}
