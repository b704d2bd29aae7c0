import Foundation
import TestSupport
import XCTest

/// `launch prepare`, `inspect-data` and bad data through `launch train`, as a user runs them.
final class DataCommandTests: XCTestCase {
    func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    /// Default-corpus shards, then a config that trains on them; JSONL conversion.
    func testPrepareWritesShardsThatTrain() throws {
        let directory = try temporaryDirectory()
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
        let directory = try temporaryDirectory()
        let config = directory.appendingPathComponent("missing.yaml").path
        try String(contentsOfFile: ProjectPaths.config("tiny"), encoding: .utf8)
            .replacingOnce("  documents: 20000\n", with: "  train: [/nonexistent/train-00000.h5]\n")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let result = try runProcess(ProjectPaths.launch, ["train", "--config", config, "--run", directory.appendingPathComponent("run").path])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "error: /nonexistent/train-00000.h5: no such file\n")
    }
}
