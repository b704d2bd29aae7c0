import ArgumentParser
import CM3Objective
import ShapesCorpus
import TextRendering
import Configuration
import Checkpointing
import Diagnostics
import Foundation
import Generation
import Model
import Trainer
import TrainingData

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Score a checkpoint: validation loss and perplexity, or generation on held-out documents.",
        discussion: """
            Without --task: the loss and perplexity of every held-out document (the validation shards, or \
            the built-in corpus's held-out documents), each scored exactly once whatever the layout, as JSON. \
            With --task text-to-image or \
            image-to-text (or a task of data.tasks): decodes the held-out documents' captions into \
            images, or their images into captions, greedily, with no guidance, CFG α 2, 3 and 5, and \
            CD-K, and prints the fraction generated exactly right (and per-code accuracy for images). \
            On the built-in corpus a caption is right when it describes the picture; on other data an \
            answer is right when it is the document's tokens. --generations writes what was generated.
            """)

    @OptionGroup var options: RunOptions

    @Option(name: .long, help: "Checkpoint file.")
    var checkpoint: String

    @Option(
        name: .long,
        help: """
            Score only this many validation micro-batches per rank, the stream training validates on \
            (default: every held-out block once, the same blocks on any layout).
            """)
    var batches: Int?

    @Option(
        name: .long,
        help: "text-to-image, image-to-text or a task of the config's data.tasks: score generation instead of loss.")
    var task: String?

    @Option(name: .long, help: "With --task: held-out documents to score.")
    var documents: Int = 200

    @Option(name: .customLong("cd-k"), help: "With --task: CD-K's k.")
    var cdK: Int = 1

    @Option(name: .customLong("cd-alpha"), help: "With --task: CD-K's α.")
    var cdAlpha: Float = 0.5

    @Flag(name: .long, help: "With --task: print JSON lines instead of a table.")
    var json = false

    @Option(
        name: .long,
        help: """
            With --task: write every generation (each setting, each document) as a JSON line to this file: \
            ids and text of the prompt, the expected answer and the generation.
            """)
    var generations: String?

    @Option(
        name: .long,
        help:
            """
            Without --task: also write the validation blocks scored, one JSON line each ({\"tokens\": [seq+1 ids], \
            \"weights\": [seq loss weights]}), for an outside model to score the same blocks.
            """
    )
    var blocks: String?

    func validate() throws {
        guard documents > 0 else { throw ValidationError("--documents must be positive, got \(documents)") }
        guard cdK > 0 else { throw ValidationError("--cd-k must be positive, got \(cdK)") }
    }

    func run() throws {
        let resolved = try options.load()
        // The tokenizer (or the built-in words) that task templates and scoring read through, loaded once.
        let task = try self.task.map { name in
            let corpus = try withReportedErrors { try resolved.templateCorpus() }
            return (task: try generationTask(named: name, resolved, corpus: corpus), corpus: corpus)
        }
        try withParallelContext(tp: options.tensorParallel(resolved), model: resolved.model) { context in
            try withReportedErrors(context: context) {
                let trained = try TrainedModel(checkpoint: checkpoint, config: resolved, context: context)
                let decoder = trained.decoder, state = trained.state
                if let task {
                    // Scoring needs the held-out documents only, not the training stream.
                    let held = try context.agreeing { try DataPipeline.validationDataset(resolved) }.documents
                    let chosen = (0..<min(documents, held.count)).map { Array(held.document($0)) }
                    let scored = try score(task.task, chosen, decoder: decoder, config: resolved, corpus: task.corpus)
                    if context.isLeader {
                        try show(scored.map(\.score), step: state.step)
                        if let generations { try write(scored, to: generations, config: resolved) }
                    }
                    return
                }
                let pipeline = try context.agreeing {
                    try DataPipeline(config: resolved, dpRank: context.dpRank, dp: context.dp)
                }
                // Every held-out block once, or with --batches the stream training validates on.
                let validation =
                    batches.map { pipeline.validationBatches(microBatch: resolved.train.microBatch, count: $0) }
                    ?? pipeline.heldOutBlocks().map { TokenBatch(blocks: [$0]) }
                let scored = try decoder.heldOutLoss(validation, context: context)
                let sequences = try context.sumOverDataParallel(Double(validation.reduce(0) { $0 + $1.microBatch }))
                if let blocks, context.isLeader {
                    let lines = try validation.flatMap(ScoredBlock.rows).map { try JSONLine.encode($0) + "\n" }
                    try writeAtomically(Data(lines.joined().utf8), to: blocks)
                }
                if context.isLeader {
                    let score = ValidationScore(
                        checkpoint: checkpoint, step: state.step, valLoss: scored.loss, valPpl: exp(scored.loss),
                        blocks: Int(sequences), weight: scored.weight, documents: pipeline.validation.documents.count)
                    print(try JSONLine.encode(score))
                }
            }
        }
    }

    /// A pretraining direction or the config's fine-tuning task called `name`.
    func generationTask(named name: String, _ resolved: TesseraConfig, corpus: any TemplateCorpus) throws
        -> GenerationTask
    {
        let fineTuning = try withReportedErrors { try resolved.fineTuningTasks(corpus: corpus) ?? [] }
        let tasks =
            GenerationTask.pretrainingDirections(corpus)
            + fineTuning.map { GenerationTask(name: $0.name, template: $0.template) }
        guard let task = tasks.first(where: { $0.name == name }) else {
            report(
                """
                --task must be \(ConfigValueKind.phrase(tasks.map(\.name))) (the pretraining directions and the \
                tasks of data.tasks), got '\(name)'
                """
            )
            throw ExitCode(2)
        }
        return task
    }

    /// Greedy decoding with each guidance the paper compares: on the built-in corpus scored
    /// by what the pictures show, on any other data token for token.
    func score(
        _ task: GenerationTask, _ documents: [[Int32]], decoder: CM3LeonDecoder, config: TesseraConfig,
        corpus: any TemplateCorpus
    ) throws -> [(score: TaskScore, generations: [TaskGeneration])] {
        let vocabulary = config.vocabulary
        let generator = Generator(decoder: decoder, vocabulary: vocabulary)
        return try GuidanceComparison.settings(cdK: cdK, cdAlpha: cdAlpha).map { name, decoding in
            config.usesBuiltInCorpus
                ? try ExactScoring(generator: generator, corpus: DefaultCorpus(vocabulary: vocabulary))
                    .score(task, documents: documents, settings: decoding, setting: name)
                : try TokenExactScoring(generator: generator, corpus: corpus, imageTokens: config.data.imageTokens)
                    .score(task, documents: documents, settings: decoding, setting: name)
        }
    }

    /// Every generation of every setting as a JSON line, ids and text, for a scorer of the
    /// user's own.
    func write(_ scored: [(score: TaskScore, generations: [TaskGeneration])], to path: String, config: TesseraConfig)
        throws
    {
        let text = try withReportedErrors { try TokenText(config) }
        var lines: [String] = []
        for (score, generations) in scored {
            for generation in generations {
                let line = GenerationLine(
                    task: score.task, setting: score.setting, document: generation.document, prompt: generation.prompt,
                    expected: generation.expected, generated: generation.generated, exact: generation.exact,
                    promptText: text.render(generation.prompt), expectedText: text.render(generation.expected),
                    generatedText: text.render(generation.generated),
                    expectedImageCodes: config.vocabulary.imageCodes(in: generation.expected),
                    generatedImageCodes: config.vocabulary.imageCodes(in: generation.generated))
                lines.append(try JSONLine.encode(line) + "\n")
            }
        }
        try writeAtomically(Data(lines.joined().utf8), to: path)
    }

    func show(_ scores: [TaskScore], step: Int) throws {
        if json {
            for score in scores {
                print(
                    try JSONLine.encode(
                        ScoreLine(
                            checkpoint: checkpoint, step: step, task: score.task, setting: score.setting,
                            documents: score.documents, exact: score.exact, cellAccuracy: score.cellAccuracy)))
            }
            return
        }
        print(
            """
            \(scores.first?.task ?? ""), \(scores.first?.documents ?? 0) held-out documents, checkpoint step \
            \(step), greedy:
            """
        )
        print("| decoding | exact |" + (scores.first?.cellAccuracy != nil ? " cells right |" : ""))
        print("|---|---|" + (scores.first?.cellAccuracy != nil ? "---|" : ""))
        for score in scores {
            print(
                "| \(score.setting) | " + String(format: "%.1f%%", 100 * score.exact) + " |"
                    + (score.cellAccuracy.map { String(format: " %.1f%% |", 100 * $0) } ?? ""))
        }
    }
}

/// `launch eval`'s line without `--task`.
struct ValidationScore: Encodable {
    let checkpoint: String
    let step: Int
    let valLoss: Double, valPpl: Double
    /// Sequences scored over all ranks, and the sum of their loss weights.
    let blocks: Int
    let weight: Double
    /// Held-out documents.
    let documents: Int
}

/// One line of `launch eval --task --json`: a decoding setting's score.
struct ScoreLine: Encodable {
    let checkpoint: String
    let step: Int
    let task: String, setting: String
    let documents: Int
    let exact: Double
    /// Images only.
    let cellAccuracy: Double?
}

/// One line of `--generations`.
struct GenerationLine: Encodable {
    let task: String, setting: String
    /// Index among the held-out documents.
    let document: Int
    let prompt: [Int32], expected: [Int32], generated: [Int32]
    let exact: Bool
    let promptText: String, expectedText: String, generatedText: String
    /// The image codes of `expected` and `generated` (0-based; empty for text), for
    /// scripts/decode_images.py.
    let expectedImageCodes: [Int], generatedImageCodes: [Int]
}

/// A validation sequence as `--blocks` writes it: its tokens (inputs, then the last target)
/// and the loss weight of each target.
struct ScoredBlock: Encodable {
    let tokens: [Int32]
    let weights: [Float]

    /// Each sequence of `batch`.
    static func rows(_ batch: TokenBatch) -> [ScoredBlock] {
        (0..<batch.microBatch).map { row in
            let range = (row * batch.seqLen)..<((row + 1) * batch.seqLen)
            return ScoredBlock(
                tokens: Array(batch.inputs[range]) + [batch.targets[range.upperBound - 1]],
                weights: Array(batch.weights[range]))
        }
    }
}
