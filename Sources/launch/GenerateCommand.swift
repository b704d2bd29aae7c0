import ArgumentParser
import CM3Objective
import ShapesCorpus
import TextRendering
import Checkpointing
import Configuration
import Diagnostics
import Foundation
import Trainer
import Generation
import Model
import TrainingData

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Generate an image from a caption or a caption from an image with a trained checkpoint.",
        discussion: """
            The prompt is words of the built-in corpus, special tokens such as <break>, image codes \
            img:K, or token ids. Image mode decodes, after `prompt <break>`, exactly one image's worth \
            of image codes and then <eos>; text mode decodes text tokens until <eos> or --max-tokens. \
            Under mpirun the ranks split the model by --tp and decode together.
            """)

    @OptionGroup var options: RunOptions

    @Option(name: .long, help: "Checkpoint file.")
    var checkpoint: String

    @Option(name: .long, help: "The prompt: a caption for image mode, image codes for text mode.")
    var prompt: String?

    @Option(
        name: .long,
        help: """
            A JSONL file of prompts, {"prompt": "..."} or {"tokens": [ids]} (optionally with an "id"), decoded in \
            one process, --batch sequences at a time; the results go to --out FILE.jsonl.
            """)
    var prompts: String?

    @Option(name: .long, help: "With --prompts: sequences (prompts × samples) decoded together.")
    var batch: Int = 16

    @Option(name: .long, help: "image or text.")
    var mode: String

    @Option(name: .long, help: "Classifier-free guidance scale α (CM3Leon eq. 2).")
    var cfg: Float?

    @Option(name: .customLong("cd-k"), help: "Contrastive decoding top-k: k (CM3Leon eq. 3).")
    var cdK: Int?

    @Option(name: .customLong("cd-alpha"), help: "Contrastive decoding top-k: α.")
    var cdAlpha: Float = 0.5

    @Option(name: .long, help: "Sampling temperature; 0 decodes greedily.")
    var temperature: Float = 1

    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass (1: off).")
    var topP: Float = 1

    @Option(name: .customLong("top-k"), help: "Sample among the k most likely tokens (0: off).")
    var topK: Int = 0

    @Option(name: .long, help: "Samples to draw.")
    var samples: Int = 1

    @Option(name: .long, help: "Random seed of the samples.")
    var seed: UInt64 = 0

    @Option(
        name: .customLong("image-tokens"),
        help: "Image codes in one image (default: 36 on the built-in corpus, else data.image_tokens).")
    var imageTokens: Int?

    @Option(
        name: .customLong("max-tokens"),
        help:
            """
            Text mode: the most text tokens before <eos> (default: as many as seq_len leaves after the prompt, at \
            most 64).
            """
    )
    var maxTokens: Int?

    @Flag(name: .long, help: "Print JSON with the token ids instead of text.")
    var json = false

    @Option(
        name: .long,
        help: "Prepend this many documents retrieved from the training bank by the prompt, as in training.")
    var retrieve: Int = 0

    @Option(
        name: .long,
        help:
            """
            With --prompt: write the generated images (image mode) or the prompt's image (text mode) as one PNG \
            grid (the built-in corpus's pictures, or any square image as gray levels). With --prompts: the \
            JSONL file of results, one line per prompt.
            """
    )
    var out: String?

    @Option(
        name: .customLong("image-decoder"),
        help: """
            A command that draws image codes, e.g. "python3 scripts/decode_images.py --model emu3 --weights W": \
            the results are written as JSONL and the command is run with --codes FILE.jsonl --grid FILE.png (the \
            .png beside --out).
            """)
    var imageDecoder: String?

    func validate() throws {
        guard ["image", "text"].contains(mode) else {
            throw ValidationError("--mode must be image or text, got '\(mode)'")
        }
        if cfg != nil && cdK != nil { throw ValidationError("--cfg and --cd-k are two kinds of guidance: give one") }
        if let cdK, cdK < 1 { throw ValidationError("--cd-k must be positive, got \(cdK)") }
        guard cdAlpha >= 0 && cdAlpha <= 1 else {
            throw ValidationError("--cd-alpha must be in 0...1, got \(cdAlpha)")
        }
        guard temperature >= 0 && temperature.isFinite else {
            throw ValidationError("--temperature must be 0 or more, got \(temperature)")
        }
        guard topP > 0 && topP <= 1 else { throw ValidationError("--top-p must be in (0, 1], got \(topP)") }
        guard topK >= 0 else { throw ValidationError("--top-k must be 0 or more, got \(topK)") }
        guard (1...1024).contains(samples) else {
            throw ValidationError("--samples must be in 1...1024, got \(samples)")
        }
        if let imageTokens, imageTokens < 1 {
            throw ValidationError("--image-tokens must be positive, got \(imageTokens)")
        }
        guard (prompt == nil) != (prompts == nil) else {
            throw ValidationError("give --prompt or --prompts, one of them")
        }
        if let out, prompt != nil, !out.hasSuffix(".png") {
            throw ValidationError("--out must name a .png file with --prompt, got '\(out)'")
        }
        if prompts != nil, !(out?.hasSuffix(".jsonl") ?? false) {
            throw ValidationError("--prompts needs --out FILE.jsonl for its results")
        }
        guard batch > 0 else { throw ValidationError("--batch must be positive, got \(batch)") }
        guard retrieve >= 0 else { throw ValidationError("--retrieve must be 0 or more, got \(retrieve)") }
        if let maxTokens, maxTokens < 1 { throw ValidationError("--max-tokens must be positive, got \(maxTokens)") }
    }

    var settings: DecodingSettings {
        let guidance: Guidance =
            cfg.map { .classifierFree(scale: $0) } ?? cdK.map { .contrastive(k: $0, alpha: cdAlpha) } ?? .none
        return DecodingSettings(
            sampling: SamplingSettings(temperature: temperature, topK: topK, topP: topP),
            guidance: guidance, samples: samples, seed: seed)
    }

    func run() throws {
        let resolved = try options.load()
        let vocabulary = resolved.vocabulary
        let text = try withReportedErrors { try TokenText(resolved) }
        let entries = try readPrompts(text)
        let retrieval = try promptRetrieval(config: resolved, vocabulary: vocabulary)
        let contexts = entries.map { retrieval($0.tokens) }
        let imageCodes = imageTokens ?? (resolved.usesBuiltInCorpus ? DefaultCorpus.cells : resolved.data.imageTokens)
        let longest = zip(entries, contexts).map { $0.tokens.count + $1.flatMap(\.tokens).count }.max() ?? 0
        let generationMode: GenerationMode =
            mode == "image"
            ? .image(codes: imageCodes)
            : .text(maxTokens: maxTokens ?? max(1, min(64, resolved.model.seqLen - longest - 1)))
        let drawing = imageDecoder == nil ? try pictureDrawing(resolved, codes: imageCodes) : nil
        try withParallelContext(tp: options.tensorParallel(resolved), model: resolved.model) { context in
            try withReportedErrors(context: context) {
                let trained = try TrainedModel(checkpoint: checkpoint, config: resolved, context: context)
                let generator = Generator(decoder: trained.decoder, vocabulary: vocabulary)
                let inputs = zip(entries, contexts).map { $1.flatMap(\.tokens) + $0.tokens }
                let started = Date()
                let outputs = try context.agreeing {
                    // One prompt's samples are decoded together, as they always were.
                    try generator.generate(
                        eachOf: inputs, mode: generationMode, settings: settings,
                        batch: prompts == nil ? samples : batch)
                }
                guard context.isLeader else { return }
                if prompts != nil {
                    let seconds = Date().timeIntervalSince(started)
                    try writeResults(entries, contexts, outputs, text: text)
                    let line = String(
                        format: "%ld prompts × %ld samples in %.2f s: %.2f prompts/s", entries.count, samples, seconds,
                        Double(entries.count) / seconds)
                    if !json { print("wrote \(out ?? "") (\(line))") }
                    if let imageDecoder, let out { try draw(out, through: imageDecoder) }
                    return
                }
                try show(entries[0].tokens, contexts[0], outputs[0], text: text)
                if let out, let imageDecoder {
                    let codes = (out as NSString).deletingPathExtension + ".jsonl"
                    try writeResults(entries, contexts, outputs, text: text, to: codes)
                    try draw(codes, through: imageDecoder)
                } else if let out, let drawing {
                    try writeAtomically(drawing(mode == "image" ? outputs[0] : [entries[0].tokens]).encoded(), to: out)
                    if !json { print("wrote \(out)") }
                }
            }
        }
    }
}
