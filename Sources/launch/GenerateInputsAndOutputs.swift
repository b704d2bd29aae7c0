import ArgumentParser
import CM3Objective
import Configuration
import Diagnostics
import Foundation
import Generation
import ShapesCorpus
import TextRendering
import TrainingData

/// What `launch generate` reads and writes around the decoding.
extension Generate {
    /// The prompts: `--prompt`, or every line of `--prompts`; each ends in `<break>`.
    func readPrompts(_ text: TokenText) throws -> [PromptFile.Entry] {
        let breakToken = text.corpus.vocabulary.breakToken
        func ended(_ tokens: [Int32]) -> [Int32] { tokens.last == breakToken ? tokens : tokens + [breakToken] }
        if let prompts {
            let entries = try withReportedErrors { try PromptFile.read(prompts, text: text) }
            return entries.map { PromptFile.Entry(tokens: ended($0.tokens), line: $0.line, id: $0.id) }
        }
        do {
            return [PromptFile.Entry(tokens: ended(try text.parse(prompt ?? "")), line: 1, id: nil)]
        } catch let error as DefaultCorpus.UnknownToken {
            report("--prompt: \(error)")
            throw ExitCode(2)
        }
    }

    /// The training documents `--retrieve` prepends to a prompt, with their indices.
    func promptRetrieval(config: TesseraConfig, vocabulary: Vocabulary) throws
        -> ([Int32]) -> [(index: Int, tokens: [Int32])]
    {
        guard retrieve > 0 else { return { _ in [] } }
        let training = try withReportedErrors { try DataPipeline.trainingDataset(config) }
        guard let retrieval = PromptRetrieval(dataset: training, vocabulary: vocabulary) else {
            report(
                """
                --retrieve: the training shards store their own embeddings, which cannot be computed here for a new \
                prompt
                """
            )
            throw ExitCode(2)
        }
        let count = retrieve
        return { prompt in
            retrieval.retrieve(for: prompt, count: count).map { ($0, Array(training.documents.document($0))) }
        }
    }

    /// How `--out FILE.png` draws images: the built-in corpus's pictures, or any square
    /// image's codes as gray levels.
    func pictureDrawing(_ config: TesseraConfig, codes: Int) throws -> ([[Int32]]) -> PNGImage {
        let vocabulary = config.vocabulary
        if config.usesBuiltInCorpus { return { PictureRendering(vocabulary: vocabulary).grid($0) } }
        guard let palette = PaletteRendering(vocabulary: vocabulary, codes: codes) else {
            guard let out, out.hasSuffix(".png") else { return { _ in PNGImage(width: 1, height: 1) } }
            report(
                """
                --out \(out): \(codes) codes per image form no square grid to draw; draw them with their VQ model: \
                --image-decoder (scripts/decode_images.py)
                """)
            throw ExitCode(2)
        }
        return { palette.grid($0) }
    }

    /// `--prompt`'s samples, as text or one JSON line.
    func show(_ prompt: [Int32], _ retrieved: [(index: Int, tokens: [Int32])], _ outputs: [[Int32]], text: TokenText)
        throws
    {
        if json {
            let samples = outputs.map { GeneratedSample($0, text: text) }
            let line = GenerationOutput(
                line: nil, id: nil, prompt: prompt, promptText: nil, retrieved: retrieved.map(\.index), mode: mode,
                samples: samples)
            print(try JSONLine.encode(line))
            return
        }
        for document in retrieved { print("retrieved \(document.index): \(text.render(document.tokens))") }
        print("prompt: \(text.render(prompt))")
        for (index, output) in outputs.enumerated() { print("sample \(index + 1): \(text.render(output))") }
    }

    /// `--prompts`' results: a JSON line per prompt, in the file's order.
    func writeResults(
        _ entries: [PromptFile.Entry], _ retrieved: [[(index: Int, tokens: [Int32])]], _ outputs: [[[Int32]]],
        text: TokenText, to path: String? = nil
    ) throws {
        let lines = try zip(entries, zip(retrieved, outputs)).map { entry, rest in
            let samples = rest.1.map { GeneratedSample($0, text: text) }
            let line = GenerationOutput(
                line: entry.line, id: entry.id, prompt: entry.tokens, promptText: text.render(entry.tokens),
                retrieved: rest.0.map(\.index), mode: mode, samples: samples)
            return try JSONLine.encode(line) + "\n"
        }
        try writeAtomically(Data(lines.joined().utf8), to: path ?? out ?? "")
    }

    /// Runs `--image-decoder` on the results in `codes` (JSONL); its grid goes beside them
    /// as a .png. A command that fails stops `generate` with its status.
    func draw(_ codes: String, through command: String) throws {
        func quoted(_ path: String) -> String { "'" + path.replacingOccurrences(of: "'", with: "'\\''") + "'" }
        let grid = (codes as NSString).deletingPathExtension + ".png"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "\(command) --codes \(quoted(codes)) --grid \(quoted(grid))"]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            report("--image-decoder: \(command) exited with status \(process.terminationStatus)")
            throw ExitCode(process.terminationStatus)
        }
    }
}

/// One prompt's result: `launch generate --json`'s line, or a line of `--prompts`' output
/// (which adds the prompt's line number, its id and its text).
struct GenerationOutput: Encodable {
    let line: Int?
    let id: String?
    let prompt: [Int32]
    let promptText: String?
    /// The training documents prepended by `--retrieve`.
    let retrieved: [Int]
    let mode: String
    let samples: [GeneratedSample]
}

struct GeneratedSample: Encodable {
    let tokens: [Int32]
    let text: String
    /// The image codes among `tokens` (0-based, as a VQ decoder takes them), nil when there
    /// are none: what scripts/decode_images.py draws.
    let imageCodes: [Int]?

    init(_ tokens: [Int32], text: TokenText) {
        self.tokens = tokens
        self.text = text.render(tokens)
        let codes = text.corpus.vocabulary.imageCodes(in: tokens)
        imageCodes = codes.isEmpty ? nil : codes
    }
}
