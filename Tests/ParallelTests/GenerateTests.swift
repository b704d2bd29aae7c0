import Foundation
import TestSupport
import XCTest

/// `launch generate` and `launch eval --task` on a briefly trained tiny model.
final class GenerateTests: XCTestCase {
    var checkpoint = ""

    /// A tiny model trained for 60 steps.
    override func setUpWithError() throws {
        let run = try makeTemporaryDirectory("tessera-generate").appendingPathComponent("run").path
        let trained = try runProcess(
            ProjectPaths.launch,
            [
                "train", "--config", ProjectPaths.config("tiny"), "--run", run,
                "--set", "train.steps=60", "--set", "train.save_interval=60"
            ])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        checkpoint = run + "/checkpoints/step-00000060.h5"
    }

    func generate(_ arguments: [String], ranks: Int = 1) throws -> ProcessResult {
        let all = ["generate", "--config", ProjectPaths.config("tiny"), "--checkpoint", checkpoint] + arguments
        return ranks == 1
            ? try runProcess(ProjectPaths.launch, all)
            : try MPI.run(ranks: ranks, ProjectPaths.launch, all + ["--tp", "\(ranks)"], timeLimit: 120)
    }

    func samples(_ json: String) throws -> [[Int]] {
        let object = try JSONSerialization.jsonObject(with: Data(json.utf8)) as! [String: Any]
        return (object["samples"] as! [[String: Any]]).map { $0["tokens"] as! [Int] }
    }

    /// Image mode: 36 image codes then `<eos>`, drawn as a PNG; text mode: text tokens then
    /// `<eos>`. Under mpirun with tp 2, greedy decoding (plain, CFG and CD-K) gives the
    /// same tokens as one process.
    func testImageAndTextModesAndTensorParallelGreedy() throws {
        let png = try makeTemporaryDirectory("tessera-png").appendingPathComponent("grid.png").path
        let image = try generate([
            "--prompt", "an image of a red circle at top left", "--mode", "image", "--samples", "3",
            "--json", "--out", png
        ])
        XCTAssertEqual(image.status, 0, image.stderr)
        for sample in try samples(image.stdout) {
            XCTAssertEqual(sample.count, 37)
            XCTAssertTrue(sample.dropLast().allSatisfy { $0 >= 256 }, "\(sample)")
            XCTAssertEqual(sample.last, 1)
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: png))
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
        let codes = (0..<36).map { "img:\($0)" }.joined(separator: " ")
        let text = try generate(["--prompt", codes, "--mode", "text", "--json", "--max-tokens", "20"])
        XCTAssertEqual(text.status, 0, text.stderr)
        for sample in try samples(text.stdout) {
            XCTAssertLessThanOrEqual(sample.count, 21)
            XCTAssertTrue(sample.dropLast().allSatisfy { $0 > 4 && $0 < 256 }, "\(sample)")
        }
        for guidance in [[], ["--cfg", "3"], ["--cd-k", "2", "--cd-alpha", "0.3"]] {
            let arguments =
                [
                    "--prompt", "an image of a blue cross at center", "--mode", "image", "--temperature", "0",
                    "--samples", "2", "--json"
                ] + guidance
            let single = try generate(arguments), split = try generate(arguments, ranks: 2)
            XCTAssertEqual(split.status, 0, split.stderr)
            XCTAssertEqual(try samples(split.stdout), try samples(single.stdout), "tp 2 vs one process, \(guidance)")
        }
    }

    /// `--retrieve 1` prepends a training document retrieved by the prompt (tiny's 128 tokens
    /// hold no more beside an image); too many is one line.
    func testRetrievalAtInference() throws {
        let prompt = "an image of a red circle at top left"
        let result = try generate([
            "--prompt", prompt, "--mode", "image", "--retrieve", "1", "--json", "--temperature", "0"
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as! [String: Any]
        XCTAssertEqual((object["retrieved"] as! [Int]).count, 1)
        let text = try generate(["--prompt", prompt, "--mode", "image", "--retrieve", "1", "--temperature", "0"])
        let lines = text.stdout.split(separator: "\n").filter { $0.hasPrefix("retrieved ") }
        XCTAssertEqual(lines.count, 1)
        let tooMany = try generate(["--prompt", prompt, "--mode", "image", "--retrieve", "3"])
        XCTAssertEqual(tooMany.status, 2)
        XCTAssertTrue(tooMany.stderr.hasPrefix("error: a prompt of "), tooMany.stderr)
    }

    /// Bad requests get one line and a non-zero exit.
    func testBadRequestsGetOneLine() throws {
        let unknown = try generate(["--prompt", "an image of a pink circle", "--mode", "image"])
        XCTAssertEqual(unknown.status, 2)
        XCTAssertEqual(
            unknown.stderr,
            """
            error: --prompt: 'pink' is not a word of the built-in corpus, a special token, img:K or a token id of \
            this vocabulary\n
            """
        )
        let both = try generate(["--prompt", "an image", "--mode", "image", "--cfg", "2", "--cd-k", "3"])
        XCTAssertNotEqual(both.status, 0)
        XCTAssertTrue(both.stderr.contains("--cfg and --cd-k are two kinds of guidance: give one"), both.stderr)
        let long = try generate(["--prompt", "an image", "--mode", "image", "--image-tokens", "200"])
        XCTAssertEqual(long.status, 2)
        XCTAssertEqual(long.stderr, "error: a prompt of 3 tokens and up to 201 generated ones exceed seq_len 128\n")
    }

    /// `launch eval --task` prints a row per decoding setting with scores in 0…1.
    func testEvalTasksScoreEverySetting() throws {
        for task in ["text-to-image", "image-to-text"] {
            let result = try runProcess(
                ProjectPaths.launch,
                [
                    "eval", "--config", ProjectPaths.config("tiny"), "--checkpoint",
                    checkpoint, "--task", task, "--documents", "20", "--json"
                ])
            XCTAssertEqual(result.status, 0, result.stderr)
            let rows = try result.stdout.split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
            XCTAssertEqual(
                rows.map { $0["setting"] as! String },
                ["no guidance", "CFG α=2", "CFG α=3", "CFG α=5", "CD-K k=1 α=0.5"])
            for row in rows {
                XCTAssertEqual(row["documents"] as? Int, 20)
                XCTAssertTrue((0...1).contains(row["exact"] as! Double))
                XCTAssertEqual(row["cell_accuracy"] != nil, task == "text-to-image")
            }
        }
    }

    /// `--prompts FILE.jsonl`: every prompt of the file in one process, batched, gives the
    /// samples each prompt gets alone (sampled, and greedy with CFG), with its line and id;
    /// a bad line is one error naming the file and line.
    func testManyPromptsInOneProcessMatchOnePromptAtATime() throws {
        let directory = try makeTemporaryDirectory("tessera-prompts")
        let captions = [
            "an image of a red circle at top left", "an image of a blue square at center",
            "an image of a green cross at bottom right and a yellow triangle at top",
            "an image of a purple circle at left"
        ]
        let file = directory.appendingPathComponent("prompts.jsonl").path
        let lines =
            captions.enumerated().map { #"{"prompt": "\#($1)", "id": "p\#($0)"}"# } + [#"{"tokens": [5, 6, 7]}"#]
        try (lines.joined(separator: "\n") + "\n").write(toFile: file, atomically: true, encoding: .utf8)
        for decoding in [
            ["--temperature", "0.9", "--samples", "3", "--seed", "4"], ["--temperature", "0", "--cfg", "3"]
        ] {
            let out = directory.appendingPathComponent("out-\(decoding.count).jsonl").path
            let batched = try generate(["--prompts", file, "--out", out, "--mode", "image", "--batch", "5"] + decoding)
            XCTAssertEqual(batched.status, 0, batched.stderr)
            let results = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
            XCTAssertEqual(results.count, 5)
            XCTAssertEqual(results.map { $0["line"] as? Int }, [1, 2, 3, 4, 5])
            XCTAssertEqual(results[1]["id"] as? String, "p1")
            for (caption, result) in zip(captions, results) {
                let alone = try generate(["--prompt", caption, "--mode", "image", "--json"] + decoding)
                XCTAssertEqual(alone.status, 0, alone.stderr)
                let many = (result["samples"] as! [[String: Any]]).map { $0["tokens"] as! [Int] }
                XCTAssertEqual(many, try samples(alone.stdout), caption)
            }
        }
        let bad = directory.appendingPathComponent("bad.jsonl").path
        try "{\"prompt\": \"an image\"}\n[1, 2]\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let refused = try generate([
            "--prompts", bad, "--out", directory.appendingPathComponent("x.jsonl").path, "--mode", "image"
        ])
        XCTAssertEqual(refused.status, 2)
        XCTAssertEqual(
            refused.stderr,
            "error: \(bad): line 2: expected a JSON object {\"prompt\": \"...\"} or {\"tokens\": [ids]}\n")
    }

    /// `eval --task` on shards (here the built-in corpus written out, so the documents are the
    /// same) scores token for token: a text-to-image answer is exact when every code is the
    /// document's, as on the built-in corpus, so both give the same scores. `--generations`
    /// writes each setting's generation of each document.
    /// `--image-decoder` gets the results as JSONL with each sample's 0-based codes, and
    /// the .png beside `--out`; a failing decoder fails `generate`. (The real decoder,
    /// scripts/decode_images.py, is checked by scripts/check_image_tokenizers.py.)
    func testAnImageDecoderCommandGetsTheCodes() throws {
        let directory = try makeTemporaryDirectory("tessera-decoder")
        let decoder = directory.appendingPathComponent("decoder.sh").path
        // Records its arguments and "draws" by copying the codes to the grid path.
        try "#!/bin/sh\necho \"$@\" > \"$(dirname \"$0\")/arguments\"\ncp \"$2\" \"$4\"\n"
            .write(toFile: decoder, atomically: true, encoding: .utf8)
        let out = directory.appendingPathComponent("drawn.png").path
        let result = try generate([
            "--prompt", "an image of a red circle at top left", "--mode", "image", "--samples", "2",
            "--out", out, "--image-decoder", "sh \(decoder)"
        ])
        XCTAssertEqual(result.status, 0, result.stderr)
        let codes = directory.appendingPathComponent("drawn.jsonl").path
        let arguments = try String(contentsOfFile: directory.appendingPathComponent("arguments").path, encoding: .utf8)
        XCTAssertEqual(arguments, "--codes \(codes) --grid \(out)\n")
        let drawn = try Data(contentsOf: URL(fileURLWithPath: out))
        let line = try JSONSerialization.jsonObject(with: drawn) as! [String: Any]
        for sample in line["samples"] as! [[String: Any]] {
            let tokens = sample["tokens"] as! [Int], imageCodes = sample["image_codes"] as! [Int]
            XCTAssertEqual(imageCodes, tokens.filter { $0 >= 256 }.map { $0 - 256 })
            XCTAssertEqual(imageCodes.count, 36)
        }
        let failing = try generate([
            "--prompt", "an image of a red circle", "--mode", "image", "--out", out, "--image-decoder", "false"
        ])
        XCTAssertEqual(failing.status, 1)
        XCTAssertEqual(failing.stderr, "error: --image-decoder: false exited with status 1\n")
    }

    func testEvalTasksOnShardsScoreTokensAndWriteTheGenerations() throws {
        let directory = try makeTemporaryDirectory("tessera-eval-shards")
        let shards = directory.appendingPathComponent("shards").path
        let prepared = try runProcess(
            ProjectPaths.launch, ["prepare", "--config", ProjectPaths.config("tiny"), "--out", shards])
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        let generations = directory.appendingPathComponent("generations.jsonl").path
        func scores(_ extra: [String]) throws -> [[String: Any]] {
            let result = try runProcess(
                ProjectPaths.launch,
                [
                    "eval", "--config", ProjectPaths.config("tiny"), "--checkpoint", checkpoint, "--task",
                    "text-to-image",
                    "--documents", "30", "--json"
                ] + extra)
            XCTAssertEqual(result.status, 0, result.stderr)
            return try result.stdout.split(separator: "\n").map {
                try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
            }
        }
        let builtIn = try scores([])
        let onShards = try scores([
            "--set", "data.train=\(shards)/train-00000.h5", "--set", "data.validation=\(shards)/validation-00000.h5",
            "--set", "data.image_tokens=36", "--generations", generations
        ])
        XCTAssertEqual(onShards.map { $0["exact"] as! Double }, builtIn.map { $0["exact"] as! Double })
        XCTAssertEqual(onShards.map { $0["cell_accuracy"] as! Double }, builtIn.map { $0["cell_accuracy"] as! Double })
        let lines = try String(contentsOfFile: generations, encoding: .utf8).split(separator: "\n").map {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as! [String: Any]
        }
        XCTAssertEqual(lines.count, 30 * 5, "each document under each of the five settings")
        for line in lines {
            XCTAssertEqual((line["expected"] as! [Int]).count, 36)
            XCTAssertEqual((line["generated"] as! [Int]).prefix(36).count, 36)
            XCTAssertEqual(
                line["exact"] as? Bool, (line["generated"] as! [Int]).prefix(36) == (line["expected"] as! [Int])[...])
            XCTAssertTrue((line["prompt_text"] as! String).hasSuffix("<break>"), "\(line)")
        }
    }
}
