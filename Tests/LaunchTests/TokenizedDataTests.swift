import Foundation
import HDF5
import TestSupport
import XCTest

/// `data.tokenizer` end to end: JSONL text segments are encoded with it (the ids
/// `launch tokenize` prints, which TokenizerTests checks against Hugging Face), blocks and
/// generated text print through it, and export ships it.
final class TokenizedDataTests: XCTestCase {
    let tokenizer = ProjectPaths.root.appendingPathComponent("Tests/Fixtures/tokenizer/tessera-600.json").path
    /// tiny with a 768-id text vocabulary (the tokenizer has 600) and 3-code images.
    var settings: [String] {
        [
            "--set", "model.vocab_size=1024", "--set", "data.text_vocab=768", "--set", "data.image_tokens=3", "--set",
            "data.tokenizer=\(tokenizer)"
        ]
    }

    func tokenize(_ text: String) throws -> [Int32] {
        let directory = try makeTemporaryDirectory("tessera-tokenize")
        let input = directory.appendingPathComponent("input.txt").path
        try (text + "\n").write(toFile: input, atomically: true, encoding: .utf8)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = [
            "-c", "\"$0\" tokenize --tokenizer \"$1\" < \"$2\"", ProjectPaths.launch, tokenizer, input
        ]
        let out = Pipe()
        process.standardOutput = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return try JSONDecoder().decode([Int32].self, from: data)
    }

    func testTextSegmentsAreEncodedPrintedAndExported() throws {
        let directory = try makeTemporaryDirectory("tessera-tokenized")
        let jsonl = directory.appendingPathComponent("docs.jsonl").path,
            shards = directory.appendingPathComponent("shards").path
        let caption = "Tessera trains a decoder on text and image tokens"
        try """
        [{"text": "\(caption)"}, {"image": [0, 5, 255]}]
        {"segments": [{"image": [1, 2, 3]}, {"text": "it's"}, {"text": " 2026!"}]}

        """.write(toFile: jsonl, atomically: true, encoding: .utf8)
        let prepared = try runProcess(
            ProjectPaths.launch,
            ["prepare", "--from-jsonl", jsonl, "--out", shards, "--config", ProjectPaths.config("tiny")] + settings)
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        let stored = try HDF5File.open(shards + "/train-00000.h5").readInt32("tokens")
        let expected =
            try tokenize(caption) + [2, 768, 773, 1023, 1] + [769, 770, 771, 2] + (try tokenize("it's 2026!")) + [1]
        XCTAssertEqual(stored, expected)

        // Blocks print their text through the tokenizer.
        let inspected = try runProcess(
            ProjectPaths.launch,
            [
                "inspect-data", "--config", ProjectPaths.config("tiny"), "--count", "1",
                "--set", "data.train=\(shards)/train-00000.h5"
            ] + settings)
        XCTAssertEqual(inspected.status, 0, inspected.stderr)
        XCTAssertTrue(
            inspected.stdout.contains(
                """
                T <mask>  text and image tokens <break> img:0 img:5 img:255 <eos> <infill> essera trains a decoder \
                on <eos> img:1 img:2 img:3 <break> it's <mask> <eos> <infill>  2026! <eos> <pad>
                """
            ), inspected.stdout)

        // A trained model's generated text prints through it, and export ships it.
        let run = directory.appendingPathComponent("run").path
        let trained = try runProcess(
            ProjectPaths.launch,
            [
                "train", "--config", ProjectPaths.config("tiny"), "--run", run, "--set", "train.steps=2",
                "--set", "data.train=\(shards)/train-00000.h5"
            ] + settings)
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let checkpoint = run + "/checkpoints/step-00000002.h5"
        let generated = try runProcess(
            ProjectPaths.launch,
            [
                "generate", "--config", ProjectPaths.config("tiny"), "--checkpoint", checkpoint,
                "--prompt", "img:1 img:2 img:3", "--mode", "text", "--max-tokens", "5", "--json",
                "--set", "data.train=\(shards)/train-00000.h5"
            ] + settings)
        XCTAssertEqual(generated.status, 0, generated.stderr)
        XCTAssertTrue(generated.stdout.contains("\"text\":"), generated.stdout)
        let exported = try runProcess(
            ProjectPaths.launch,
            ["export", "--checkpoint", checkpoint, "--out", directory.appendingPathComponent("hf").path])
        XCTAssertEqual(exported.status, 0, exported.stderr)
        XCTAssertEqual(
            try Data(contentsOf: directory.appendingPathComponent("hf/tokenizer.json")),
            try Data(contentsOf: URL(fileURLWithPath: tokenizer)))
    }

    /// A tokenizer too large for the text vocabulary, and text that encodes to a reserved
    /// special token, are one line each; nothing is written.
    func testTokenizerProblemsAreOneLine() throws {
        let directory = try makeTemporaryDirectory("tessera-tokenized")
        let jsonl = directory.appendingPathComponent("docs.jsonl").path,
            out = directory.appendingPathComponent("out").path
        try "[{\"text\": \"a <mask> here\"}]\n".write(toFile: jsonl, atomically: true, encoding: .utf8)
        let reserved = try runProcess(
            ProjectPaths.launch,
            ["prepare", "--from-jsonl", jsonl, "--out", out, "--config", ProjectPaths.config("tiny")] + settings)
        XCTAssertEqual(reserved.status, 2)
        XCTAssertEqual(
            reserved.stderr,
            "error: \(jsonl): line 1: segment 1: the tokenizer gives id 3, <mask>, which the objective reserves\n")
        let small = try runProcess(
            ProjectPaths.launch,
            [
                "prepare", "--from-jsonl", jsonl, "--out", out, "--config", ProjectPaths.config("tiny"),
                "--set", "data.tokenizer=\(tokenizer)"
            ])
        XCTAssertEqual(small.status, 2)
        XCTAssertEqual(
            small.stderr,
            """
            error: \(ProjectPaths.config("tiny")): data.tokenizer: \(tokenizer) has 600 tokens, more than \
            data.text_vocab 256\n
            """
        )
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    /// A task template on a user's own data reads its text through the tokenizer (with a
    /// space before the field), so training and `eval --task` prompt with the tokenizer's
    /// ids; a field only the built-in pictures have is refused.
    func testTaskTemplatesReadTheTokenizersText() throws {
        let directory = try makeTemporaryDirectory("tessera-tokenized-tasks")
        let jsonl = directory.appendingPathComponent("docs.jsonl").path,
            shards = directory.appendingPathComponent("shards").path
        try (0..<40).map { #"{"segments": [{"image": [\#($0 % 7), 5, 9]}, {"text": "a digit"}]}"# }
            .joined(separator: "\n").write(toFile: jsonl, atomically: true, encoding: .utf8)
        let prepared = try runProcess(
            ProjectPaths.launch,
            ["prepare", "--from-jsonl", jsonl, "--out", shards, "--config", ProjectPaths.config("tiny")] + settings)
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        let tasks = directory.appendingPathComponent("tasks.yaml").path
        try "tasks:\n  - name: name-it\n    template: \"{image} <break> which one ? {caption}\"\n    weight: 1\n"
            .write(toFile: tasks, atomically: true, encoding: .utf8)
        let data = [
            "--set", "data.train=\(shards)/train-00000.h5", "--set", "data.tasks=\(tasks)", "--set",
            "data.retrieval=false", "--set", "data.block_per_example=true"
        ]
        let run = directory.appendingPathComponent("run").path
        let trained = try runProcess(
            ProjectPaths.launch,
            ["train", "--config", ProjectPaths.config("tiny"), "--run", run, "--set", "train.steps=2"] + settings
                + data)
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let generations = directory.appendingPathComponent("generations.jsonl").path
        let evaluated = try runProcess(
            ProjectPaths.launch,
            [
                "eval", "--config", ProjectPaths.config("tiny"), "--checkpoint", run + "/checkpoints/step-00000002.h5",
                "--task", "name-it", "--generations", generations, "--json",
                "--set", "data.validation=\(shards)/train-00000.h5"
            ] + settings + data)
        XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
        let question = try tokenize("which one ? ")
        XCTAssertEqual(question.last, try tokenize(" ").last, "the run ends in a space before the field")
        let line =
            try JSONSerialization.jsonObject(
                with: Data(try String(contentsOfFile: generations, encoding: .utf8).split(separator: "\n")[0].utf8))
            as! [String: Any]
        XCTAssertEqual(line["prompt"] as? [Int], [768, 773, 777, 2] + question.map(Int.init))
        XCTAssertEqual(line["expected"] as? [Int], try tokenize("a digit").map(Int.init))

        try "tasks:\n  - name: shape-it\n    template: \"{image} <break> what shape ? {shape}\"\n    weight: 1\n"
            .write(toFile: tasks, atomically: true, encoding: .utf8)
        let refused = try runProcess(
            ProjectPaths.launch,
            ["inspect-data", "--config", ProjectPaths.config("tiny"), "--count", "1"] + settings + data)
        XCTAssertEqual(refused.status, 2)
        XCTAssertEqual(
            refused.stderr,
            "error: \(tasks): line 2: tasks[0].template: unknown field {shape} (fields: {caption}, {image})\n")
    }
}
