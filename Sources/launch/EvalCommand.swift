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
            Without --task: validation loss and perplexity as JSON. With --task text-to-image or \
            image-to-text (built-in corpus only): decodes every held-out document's caption into an \
            image, or its image into a caption, greedily, with no guidance, CFG α 2, 3 and 5, and \
            CD-K, and prints the fraction generated exactly right (and per-cell accuracy for images).
            """)

    @OptionGroup var options: RunOptions

    @Option(name: .long, help: "Checkpoint file.")
    var checkpoint: String

    @Option(name: .long, help: "Validation micro-batches per rank (default: train.eval_batches).")
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
        let task = try self.task.map { try generationTask(named: $0, resolved) }
        try withParallelContext(tp: options.tensorParallel(resolved), model: resolved.model) { context in
            try withReportedErrors(context: context) {
                let trained = try TrainedModel(checkpoint: checkpoint, config: resolved, context: context)
                let decoder = trained.decoder, state = trained.state
                if let task {
                    // Scoring needs the held-out documents only, not the training stream.
                    let held = try context.agreeing { try DataPipeline.validationDataset(resolved) }.documents
                    let chosen = (0..<min(documents, held.count)).map { Array(held.document($0)) }
                    let vocabulary = resolved.vocabulary
                    let scores = try score(task, chosen, decoder: decoder, vocabulary: vocabulary)
                    if context.isLeader { try show(scores, step: state.step) }
                    return
                }
                let pipeline = try context.agreeing {
                    try DataPipeline(config: resolved, dpRank: context.dpRank, dp: context.dp)
                }
                let validation = pipeline.validationBatches(
                    microBatch: resolved.train.microBatch, count: batches ?? resolved.train.evalBatches)
                let loss = try decoder.validationLoss(validation, context: context)
                if let blocks, context.isLeader {
                    let lines = try validation.flatMap(ScoredBlock.rows).map { try JSONLine.encode($0) + "\n" }
                    try writeAtomically(Data(lines.joined().utf8), to: blocks)
                }
                if context.isLeader {
                    print(
                        try JSONLine.encode(
                            ValidationScore(checkpoint: checkpoint, step: state.step, valLoss: loss, valPpl: exp(loss))
                        ))
                }
            }
        }
    }

    /// The built-in task or the config's fine-tuning task called `name`.
    func generationTask(named name: String, _ resolved: TesseraConfig) throws -> GenerationTask {
        guard resolved.usesBuiltInCorpus else {
            report(
                """
                --task scores the built-in corpus, whose captions determine their pictures; \(options.config) names \
                shards
                """
            )
            throw ExitCode(2)
        }
        let corpus = DefaultCorpus(vocabulary: resolved.vocabulary)
        let fineTuning = try withReportedErrors { try resolved.fineTuningTasks() ?? [] }
        let tasks =
            GenerationTask.builtin(corpus) + fineTuning.map { GenerationTask(name: $0.name, template: $0.template) }
        guard let task = tasks.first(where: { $0.name == name }) else {
            report(
                """
                --task must be \(ConfigValueKind.phrase(tasks.map(\.name))) (the built-in tasks and those of \
                data.tasks), got '\(name)'
                """
            )
            throw ExitCode(2)
        }
        return task
    }

    /// Greedy decoding with each guidance the paper compares.
    func score(_ task: GenerationTask, _ documents: [[Int32]], decoder: CM3LeonDecoder, vocabulary: Vocabulary) throws
        -> [TaskScore]
    {
        let scoring = ExactScoring(
            generator: Generator(decoder: decoder, vocabulary: vocabulary),
            corpus: DefaultCorpus(vocabulary: vocabulary))
        return try GuidanceComparison.settings(cdK: cdK, cdAlpha: cdAlpha).map { name, decoding in
            try scoring.score(task, documents: documents, settings: decoding, setting: name)
        }
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
