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
        let prepared = try runProcess(
            ProjectPaths.launch,
            [
                "prepare", "--out", out, "--config", ProjectPaths.config("tiny"),
                "--documents", "250", "--validation-documents", "40", "--shard-documents", "100"
            ])
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        XCTAssertTrue(prepared.stdout.contains("train shard 3/3: 50 documents"), prepared.stdout)
        XCTAssertTrue(prepared.stdout.contains("validation shard 1/1: 40 documents"), prepared.stdout)

        // data.train is a list, which --set cannot give: an edit of the file that fails
        // loudly if configs/tiny.yaml no longer has the line.
        let config = directory.appendingPathComponent("shards.yaml").path
        try String(contentsOfFile: ProjectPaths.config("tiny"), encoding: .utf8)
            .replacingOnce(
                "  documents: 20000\n",
                with: "  train: [\(out)/train-00000.h5, \(out)/train-00001.h5, \(out)/train-00002.h5]\n"
            )
            .write(toFile: config, atomically: true, encoding: .utf8)
        let trained = try runProcess(
            ProjectPaths.launch,
            [
                "train", "--config", config, "--set", "train.steps=2",
                "--run", directory.appendingPathComponent("run").path
            ])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        XCTAssertTrue(trained.stdout.contains("step 1/2"), trained.stdout)

        let jsonl = directory.appendingPathComponent("docs.jsonl").path
        try "[5, 6, 7, 2, 300, 301, 1]\n{\"tokens\": [8, 9]}\n".write(toFile: jsonl, atomically: true, encoding: .utf8)
        let converted = try runProcess(
            ProjectPaths.launch,
            [
                "prepare", "--from-jsonl", jsonl, "--out", directory.appendingPathComponent("j").path,
                "--config", ProjectPaths.config("tiny")
            ])
        XCTAssertEqual(converted.status, 0, converted.stderr)
        XCTAssertTrue(converted.stdout.contains("train shard 1/1: 2 documents, 10 tokens"), converted.stdout)

        try "[5, 6, 9999]\n".write(toFile: jsonl, atomically: true, encoding: .utf8)
        let bad = try runProcess(
            ProjectPaths.launch,
            [
                "prepare", "--from-jsonl", jsonl, "--out", directory.appendingPathComponent("k").path,
                "--config", ProjectPaths.config("tiny")
            ])
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
            return try runProcess(
                ProjectPaths.launch,
                ["prepare", "--from-jsonl", jsonl, "--out", out, "--config", ProjectPaths.config("tiny")])
        }
        let cases = [
            ("", "no documents (every line is blank)"),
            ("\n  \n", "no documents (every line is blank)"),
            ("[5, 6]\n[5, 6.5]\n", "line 2: item 2 is 6.5, not an integer token id"),
            ("[true, 5]\n", "line 1: item 1 is true, not an integer token id"),
            ("{\"tokens\": [5, \"7\"]}\n", "line 1: item 2 is \"7\", not an integer token id"),
            ("[5, 3, 6]\n", "line 1: token 3 (item 2) is <mask>, which the objective reserves"),
            ("[0]\n", "line 1: token 0 (item 1) is <pad>, which the objective reserves"),
            ("[5, 6, 1]\r\n[5, 1, 6]\r\n", "line 2: token 1 (item 2) is <eos>, which may only end a document")
        ]
        for (text, message) in cases {
            let result = try prepare(text)
            XCTAssertEqual(result.status, 2, text)
            XCTAssertEqual(result.stderr, "error: \(jsonl): \(message)\n")
            XCTAssertFalse(
                FileManager.default.fileExists(atPath: out), "\(out) created for \(String(reflecting: text))")
        }
        let crlf = try prepare("[5, 6, 7, 2, 300, 1]\r\n{\"tokens\": [8, 9]}\r\n\r\n")
        XCTAssertEqual(crlf.status, 0, crlf.stderr)
        XCTAssertTrue(crlf.stdout.contains("train shard 1/1: 2 documents, 9 tokens"), crlf.stdout)
    }

    /// Interleaved segments: image codes offset past the text vocabulary, `<break>` between
    /// segments (not between two texts); a wrong image length, a code out of range, a text
    /// segment without a tokenizer or a malformed segment is one line naming the file, line
    /// and segment, and nothing is written.
    func testPrepareReadsImageSegmentsAndRefusesBadOnes() throws {
        let directory = try makeTemporaryDirectory("tessera-cli")
        let jsonl = directory.appendingPathComponent("segments.jsonl").path
        let out = directory.appendingPathComponent("out").path
        func prepare(_ text: String) throws -> ProcessResult {
            try text.write(toFile: jsonl, atomically: true, encoding: .utf8)
            return try runProcess(
                ProjectPaths.launch,
                [
                    "prepare", "--from-jsonl", jsonl, "--out", out, "--config", ProjectPaths.config("tiny"),
                    "--set", "data.image_tokens=3"
                ])
        }
        let good = try prepare(
            """
            [{\"image\": [0, 1, 255]}, {\"image\": [7, 7, 7]}]\n{\"segments\": [{\"image\": [2, 3, 4]}], \"source\": \
            \"ignored\"}\n
            """
        )
        XCTAssertEqual(good.status, 0, good.stderr)
        XCTAssertTrue(good.stdout.contains("documents/s"), good.stdout)
        XCTAssertEqual(
            try HDF5File.open(out + "/train-00000.h5").readInt32("tokens"),
            [256, 257, 511, 2, 263, 263, 263, 1, 258, 259, 260, 1])
        try FileManager.default.removeItem(atPath: out)
        // Segments take embeddings as token lists do.
        let embedded = try prepare("{\"segments\": [{\"image\": [2, 3, 4]}], \"image_embedding\": [0, 2]}\n")
        XCTAssertEqual(embedded.status, 0, embedded.stderr)
        XCTAssertEqual(try HDF5File.open(out + "/train-00000.h5").readFloats("image_embeddings"), [0, 1])
        try FileManager.default.removeItem(atPath: out)
        let cases = [
            ("[{\"image\": [1, 2]}]\n", "line 1: segment 1.image has 2 codes, but data.image_tokens is 3"),
            (
                "[{\"image\": [1, 2, 3]}]\n[{\"image\": [1, 256, 3]}]\n",
                "line 2: segment 1.image: code 256 (item 2) is outside 0..<256"
            ),
            (
                "[{\"image\": [1, 2, 3]}, {\"text\": \"a red circle\"}]\n",
                "line 1: segment 2 is text, but the config names no data.tokenizer to encode it"
            ),
            (
                "[{\"image\": [1, 2, 3], \"text\": \"both\"}]\n",
                "line 1: each segment is {\"text\": \"...\"} or {\"image\": [codes]}"
            ),
            ("[{\"image\": \"abc\"}]\n", "line 1: an image segment's \"image\" must be a list of codes")
        ]
        for (text, message) in cases {
            let result = try prepare(text)
            XCTAssertEqual(result.status, 2, text)
            XCTAssertEqual(result.stderr, "error: \(jsonl): \(message)\n")
            XCTAssertFalse(
                FileManager.default.fileExists(atPath: out), "\(out) created for \(String(reflecting: text))")
        }
    }

    /// JSONL embeddings of any length are stored L2-normalised, one row per document, with a
    /// zero row for the part a document lacks (tiny: ids 256-511 are image codes).
    func testPrepareStoresNormalisedJSONLEmbeddings() throws {
        let directory = try makeTemporaryDirectory("tessera-cli")
        let jsonl = directory.appendingPathComponent("docs.jsonl").path
        let out = directory.appendingPathComponent("out").path
        try """
        {"tokens": [5, 6, 2, 300, 301, 1], "text_embedding": [3, 0, 4, 0], "image_embedding": [0, -2, 0, 0]}
        {"tokens": [7, 8], "text_embedding": [1, 1, 1, 1]}
        {"tokens": [300, 302], "image_embedding": [0.5, 0, 0, 0.5]}

        """.write(toFile: jsonl, atomically: true, encoding: .utf8)
        let result = try runProcess(
            ProjectPaths.launch,
            ["prepare", "--from-jsonl", jsonl, "--out", out, "--config", ProjectPaths.config("tiny")])
        XCTAssertEqual(result.status, 0, result.stderr)
        XCTAssertTrue(result.stdout.contains("train shard 1/1: 3 documents, 12 tokens"), result.stdout)

        let file = try HDF5File.open(out + "/train-00000.h5")
        XCTAssertEqual(try file.readInt32("tokens"), [5, 6, 2, 300, 301, 1, 7, 8, 1, 300, 302, 1])
        let half = Float(0.5).squareRoot()
        let expected: [(name: String, rows: [Float])] = [
            ("text_embeddings", [0.6, 0, 0.8, 0, /**/ 0.5, 0.5, 0.5, 0.5, /**/ 0, 0, 0, 0]),
            ("image_embeddings", [0, -1, 0, 0, /**/ 0, 0, 0, 0, /**/ half, 0, 0, half])
        ]
        for (name, rows) in expected {
            XCTAssertEqual(try file.shape(of: name), [3, 4], name)
            let stored = try file.readFloats(name)
            XCTAssertEqual(stored.count, rows.count, name)
            for (index, (got, want)) in zip(stored, rows).enumerated() {
                XCTAssertEqual(got, want, accuracy: 1e-6, "\(name)[\(index / 4), \(index % 4)]")
            }
        }
    }

    /// Bad embeddings are refused with one line naming the file and line, and --out is not
    /// created.
    func testPrepareRefusesBadJSONLEmbeddingsAndWritesNothing() throws {
        let directory = try makeTemporaryDirectory("tessera-cli")
        let jsonl = directory.appendingPathComponent("docs.jsonl").path
        let out = directory.appendingPathComponent("out").path
        let good = #"{"tokens": [5, 2, 300], "text_embedding": [1, 2, 3, 4], "image_embedding": [4, 3, 2, 1]}"#
        let cases = [
            (
                [good, #"{"tokens": [6, 2, 301], "text_embedding": [1, 2, 3], "image_embedding": [4, 3, 2, 1]}"#],
                "line 2: text_embedding has 3 dimensions, but the file's embeddings so far have 4"
            ),
            (
                [good, #"{"tokens": [6, 2, 301], "text_embedding": [1, 2, 3, 4], "image_embedding": [0, 0, 0, 0]}"#],
                "line 2: image_embedding is a zero vector"
            ),
            (
                [good, #"{"tokens": [6, 2, 301], "text_embedding": [1, 2, 3, 4]}"#],
                """
                line 2: no image_embedding, but the document has image tokens (the file gives embeddings from line 1 \
                on)
                """
            ),
            (
                ["[5, 6]", good],
                "line 2: gives embeddings but line 1 gives none: give them on every line or none"
            ),
            (
                [#"{"tokens": [5, 2, 300], "text_embedding": [1, "2", 3, 4], "image_embedding": [4, 3, 2, 1]}"#],
                "line 1: text_embedding must be a list of finite numbers"
            ),
            (
                [
                    good,
                    #"{"tokens": [6, 2, 301], "text_embedding": [1, 2, 3, 4], "image_embedding": [4, null, 2, 1]}"#
                ],
                "line 2: image_embedding must be a list of finite numbers"
            ),
            (
                [good, #"{"tokens": [6, 7], "text_embedding": [1, 2, 3, 4], "image_embedding": [4, 3, 2, 1]}"#],
                "line 2: image_embedding given, but the document has no image tokens"
            )
        ]
        for (lines, message) in cases {
            try (lines.joined(separator: "\n") + "\n").write(toFile: jsonl, atomically: true, encoding: .utf8)
            let result = try runProcess(
                ProjectPaths.launch,
                ["prepare", "--from-jsonl", jsonl, "--out", out, "--config", ProjectPaths.config("tiny")])
            XCTAssertEqual(result.status, 2, message)
            XCTAssertEqual(result.stderr, "error: \(jsonl): \(message)\n")
            XCTAssertEqual(result.stdout, "", message)
            XCTAssertFalse(FileManager.default.fileExists(atPath: out), "\(out) created for: \(message)")
        }
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
        for (shards, named, message) in [
            ([empty, empty], config, "data.train: the shards hold no documents"),
            ([unlabelled], unlabelled, "no text_vocab attribute: not a shard (see docs/data-format.md)")
        ] {
            try String(contentsOfFile: ProjectPaths.config("tiny"), encoding: .utf8)
                .replacingOnce("  documents: 20000\n", with: "  train: [\(shards.joined(separator: ", "))]\n")
                .write(toFile: config, atomically: true, encoding: .utf8)
            let result = try runProcess(
                ProjectPaths.launch,
                ["train", "--config", config, "--run", directory.appendingPathComponent("run").path])
            XCTAssertEqual(result.status, 2, result.stderr)
            XCTAssertEqual(result.stderr, "error: \(named): \(message)\n")
        }
    }

    func testInspectDataShowsBlocks() throws {
        let text = try runProcess(
            ProjectPaths.launch, ["inspect-data", "--config", ProjectPaths.config("tiny"), "--count", "3"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertEqual(text.stdout.components(separatedBy: "masked span").count - 1, 3)
        for word in ["<break>", "<mask>", "<infill>", "img:", "an image of"] {
            XCTAssertTrue(text.stdout.contains(word), "\(word) missing from:\n\(text.stdout)")
        }
        let json = try runProcess(
            ProjectPaths.launch, ["inspect-data", "--config", ProjectPaths.config("tiny"), "--count", "2", "--json"])
        let lines = json.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            XCTAssertEqual((object?["tokens"] as? [Int])?.count, 129)
            XCTAssertEqual((object?["weights"] as? [Double])?.count, 128)
        }
    }

    /// With retrieval, `inspect-data --json` names each example's query, its source, and the
    /// documents retrieved for it with their relevance and modality; the padding summary goes
    /// to standard error. tiny's 128-token blocks are too short for `r1 r2 r3 query`, hence
    /// a copy with seq_len 256.
    func testInspectDataJSONShowsRetrieval() throws {
        let directory = try makeTemporaryDirectory("tessera-cli")
        let config = directory.appendingPathComponent("retrieval.yaml").path
        try String(contentsOfFile: ProjectPaths.config("tiny"), encoding: .utf8)
            .replacingOnce("  seq_len: 128\n", with: "  seq_len: 256\n")
            .replacingOnce("  documents: 20000\n", with: "  documents: 20000\n  retrieval: true\n")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let result = try runProcess(
            ProjectPaths.launch, ["inspect-data", "--config", config, "--count", "3", "--json"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 3, result.stdout)
        var retrievedCount = 0
        for line in lines {
            let object = try XCTUnwrap(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
            XCTAssertEqual((object["tokens"] as? [Int])?.count, 257)
            XCTAssertNotNil(object["padding"] as? Int, String(line))
            let examples = try XCTUnwrap(object["examples"] as? [[String: Any]], String(line))
            XCTAssertFalse(examples.isEmpty, String(line))
            for example in examples {
                XCTAssertNotNil(example["query"] as? Int, "\(example)")
                XCTAssertEqual(example["source"] as? String, "default corpus")
                XCTAssertNotNil(example["source_index"] as? Int, "\(example)")
                let retrieved = try XCTUnwrap(example["retrieved"] as? [[String: Any]], "\(example)")
                for document in retrieved {
                    XCTAssertNotNil(document["document"] as? Int, "\(document)")
                    XCTAssertNotNil(document["relevance"] as? Double, "\(document)")
                    XCTAssertTrue(["text", "image"].contains(document["modality"] as? String), "\(document)")
                }
                retrievedCount += retrieved.count
            }
        }
        XCTAssertGreaterThan(retrievedCount, 0, "nothing retrieved in:\n\(result.stdout)")
        let summary = result.stderr.split(separator: "\n")
        XCTAssertEqual(summary.count, 1, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("padding: "), result.stderr)
    }

    /// A config naming a missing shard stops training with one line naming the file.
    func testTrainingOnAMissingShardExitsWithOneLine() throws {
        let directory = try makeTemporaryDirectory("tessera-cli")
        let config = directory.appendingPathComponent("missing.yaml").path
        try String(contentsOfFile: ProjectPaths.config("tiny"), encoding: .utf8)
            .replacingOnce("  documents: 20000\n", with: "  train: [/nonexistent/train-00000.h5]\n")
            .write(toFile: config, atomically: true, encoding: .utf8)
        let result = try runProcess(
            ProjectPaths.launch, ["train", "--config", config, "--run", directory.appendingPathComponent("run").path])
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(result.stderr, "error: /nonexistent/train-00000.h5: no such file\n")
    }

    /// `--validation-fraction` holds out that share of a JSONL file as validation shards,
    /// the same documents for the same seed, none of them also in training; a config then
    /// names the shards relative to its own folder, and trains and evaluates on them.
    func testPrepareHoldsOutAValidationSplitAndConfigsReadDataPathsFromTheirFolder() throws {
        let directory = try makeTemporaryDirectory("tessera-split")
        let jsonl = directory.appendingPathComponent("docs.jsonl").path
        let documents = (0..<200).map { i in [5 + i % 200, 6, 2, 300 + i % 200, 1] }
        try documents.map { "\($0)" }.joined(separator: "\n").write(toFile: jsonl, atomically: true, encoding: .utf8)
        func split(_ name: String, seed: Int) throws -> (train: [[Int32]], validation: [[Int32]]) {
            let out = directory.appendingPathComponent(name).path
            let result = try runProcess(
                ProjectPaths.launch,
                [
                    "prepare", "--from-jsonl", jsonl, "--out", out, "--config", ProjectPaths.config("tiny"),
                    "--validation-fraction", "0.1", "--set", "train.seed=\(seed)"
                ])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(result.stdout.contains("held out 20 of 200 documents for validation"), result.stdout)
            func read(_ file: String) throws -> [[Int32]] {
                let shard = try HDF5File.open("\(out)/\(file)")
                let tokens = try shard.readInt32("tokens"), offsets = try shard.readInt64("doc_offsets")
                return (0..<(offsets.count - 1)).map { Array(tokens[Int(offsets[$0])..<Int(offsets[$0 + 1])]) }
            }
            return (try read("train-00000.h5"), try read("validation-00000.h5"))
        }
        let first = try split("a", seed: 0), again = try split("b", seed: 0), other = try split("c", seed: 1)
        XCTAssertEqual(first.validation.count, 20)
        XCTAssertEqual(first.train.count, 180)
        XCTAssertEqual(first.validation, again.validation, "the same seed holds out the same documents")
        XCTAssertNotEqual(first.validation, other.validation)
        XCTAssertTrue(Set(first.validation.map { "\($0)" }).isDisjoint(with: first.train.map { "\($0)" }))

        // A config beside the shards names them relative to its own folder; it is run from elsewhere.
        let config = directory.appendingPathComponent("a/config.yaml").path
        try String(contentsOfFile: ProjectPaths.config("tiny"), encoding: .utf8)
            .replacingOnce(
                "  documents: 20000\n", with: "  train: train-00000.h5\n  validation: validation-00000.h5\n"
            )
            .write(toFile: config, atomically: true, encoding: .utf8)
        let run = directory.appendingPathComponent("run").path
        let trained = try runProcess(
            ProjectPaths.launch, ["train", "--config", config, "--set", "train.steps=2", "--run", run])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let written = try String(contentsOfFile: run + "/config.yaml", encoding: .utf8)
        XCTAssertTrue(written.contains("train: [\"\(directory.path)/a/train-00000.h5\"]"), written)
        let evaluated = try runProcess(
            ProjectPaths.launch, ["eval", "--config", config, "--checkpoint", run + "/checkpoints/step-00000002.h5"])
        XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
        let score = try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as! [String: Any]
        XCTAssertEqual(score["documents"] as? Int, 20)
        XCTAssertEqual(score["blocks"] as? Int, 20)
    }
}
