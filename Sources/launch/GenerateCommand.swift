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
    var prompt: String

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
            Built-in corpus: write the generated images (image mode) or the prompt's image (text mode) as one PNG \
            grid.
            """
    )
    var out: String?

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
        if let out, !out.hasSuffix(".png") { throw ValidationError("--out must name a .png file, got '\(out)'") }
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
        let builtin = resolved.usesBuiltInCorpus
        if out != nil && !builtin {
            report("--out draws pictures of the built-in corpus; \(options.config) names shards")
            throw ExitCode(2)
        }
        let text = try withReportedErrors { try TokenText(resolved) }
        var tokens: [Int32] = []
        do {
            tokens = try text.parse(prompt)
        } catch let error as DefaultCorpus.UnknownToken {
            report("--prompt: \(error)")
            throw ExitCode(2)
        }
        if tokens.last != vocabulary.breakToken { tokens.append(vocabulary.breakToken) }
        let retrieved = try retrievedDocuments(for: tokens, config: resolved, vocabulary: vocabulary)
        let retrievedContext = retrieved.flatMap(\.tokens)
        let generationMode: GenerationMode =
            mode == "image"
            ? .image(codes: imageTokens ?? (builtin ? DefaultCorpus.cells : resolved.data.imageTokens))
            : .text(
                maxTokens: maxTokens
                    ?? max(1, min(64, resolved.model.seqLen - retrievedContext.count - tokens.count - 1)))
        try withParallelContext(tp: options.tensorParallel(resolved), model: resolved.model) { context in
            try withReportedErrors(context: context) {
                let trained = try TrainedModel(checkpoint: checkpoint, config: resolved, context: context)
                let generator = Generator(decoder: trained.decoder, vocabulary: vocabulary)
                let outputs = try context.agreeing {
                    try generator.generate(prompt: retrievedContext + tokens, mode: generationMode, settings: settings)
                }
                guard context.isLeader else { return }
                let render = text.render
                for document in retrieved where !json {
                    print("retrieved \(document.index): \(render(document.tokens))")
                }
                if json {
                    let samples = outputs.map { GeneratedSample(tokens: $0, text: render($0)) }
                    print(
                        try JSONLine.encode(
                            Generation(prompt: tokens, retrieved: retrieved.map(\.index), mode: mode, samples: samples)
                        ))
                } else {
                    print("prompt: \(render(tokens))")
                    for (index, output) in outputs.enumerated() { print("sample \(index + 1): \(render(output))") }
                }
                if let out {
                    let pictures = mode == "image" ? outputs : [tokens]
                    try writeAtomically(PictureRendering(vocabulary: vocabulary).grid(pictures).encoded(), to: out)
                    if !json { print("wrote \(out)") }
                }
            }
        }
    }
}

extension Generate {
    /// The training documents `--retrieve` prepends, with their indices.
    func retrievedDocuments(for prompt: [Int32], config: TesseraConfig, vocabulary: Vocabulary) throws -> [(
        index: Int, tokens: [Int32]
    )] {
        guard retrieve > 0 else { return [] }
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
        return retrieval.retrieve(for: prompt, count: retrieve).map { ($0, Array(training.documents.document($0))) }
    }
}

/// `launch generate --json`'s line: the prompt's ids, the documents retrieved before it, and
/// each sample's ids and text.
struct Generation: Encodable {
    let prompt: [Int32]
    let retrieved: [Int]
    let mode: String
    let samples: [GeneratedSample]
}

struct GeneratedSample: Encodable {
    let tokens: [Int32]
    let text: String
}
