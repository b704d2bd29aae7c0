import CM3Objective
import Diagnostics
import Model
import ShapesCorpus
import TrainingData

/// The facts a run derives from its keys, each derived here once; the components below
/// take them as plain values and never read a `TesseraConfig`.
extension TesseraConfig {
    /// `model.vocab_size` ids split into text and image codes by the `data` keys.
    public var vocabulary: Vocabulary { data.vocabulary(vocabSize: model.vocabSize) }

    /// `train.seed`: seeds initialisation, data order and masking.
    public var seed: UInt64 { UInt64(train.seed) }

    /// Whether the documents are the built-in shapes corpus (no `data.train` shards).
    public var usesBuiltInCorpus: Bool { data.usesBuiltInCorpus }

    /// What the data side reads of this config.
    public var dataPlan: DataPlan {
        DataPlan(settings: data, vocabulary: vocabulary, seqLen: model.seqLen, seed: seed, source: source)
    }

    /// The tasks of `data.tasks`, or nil without a task file; their templates read through
    /// `corpus` (default: `templateCorpus()`).
    public func fineTuningTasks(corpus: (any TemplateCorpus)? = nil) throws -> [FineTuningTask]? {
        guard let path = data.tasks else { return nil }
        if data.retrieval {
            throw ConfigError(
                file: source, key: "data.tasks",
                message: "fine-tuning tasks do not combine with data.retrieval: set it to false")
        }
        _ = try DataPipeline.checkedVocabulary(dataPlan)
        return try TaskFile.load(path: path, corpus: try corpus ?? templateCorpus())
    }
}

extension DataPipeline {
    /// The pipeline of `config`'s data for data-parallel rank `dpRank` of `dp`.
    public convenience init(config: TesseraConfig, dpRank: Int = 0, dp: Int = 1) throws {
        try self.init(plan: config.dataPlan, tasks: try config.fineTuningTasks(), dpRank: dpRank, dp: dp)
    }

    /// `config`'s training documents: its shards, or the built-in default corpus.
    public static func trainingDataset(_ config: TesseraConfig) throws -> Dataset {
        try trainingDataset(config.dataPlan)
    }

    /// `config`'s held-out documents.
    public static func validationDataset(_ config: TesseraConfig) throws -> Dataset {
        try validationDataset(config.dataPlan)
    }
}

extension MemoryPlan {
    /// The plan of one rank of `config` laid out as tp × dp; `distributedOptimizer`
    /// overrides `parallel.distributed_optimizer` (for comparing the two).
    public init(config: TesseraConfig, tp: Int, dp: Int, distributedOptimizer: Bool? = nil) {
        self.init(
            model: config.model, microBatch: config.train.microBatch, tp: tp, dp: dp,
            checkpointing: config.train.activationCheckpointing,
            distributedOptimizer: distributedOptimizer ?? config.parallel.distributedOptimizer)
    }

    /// Fails fast when `config` laid out as tp × dp cannot fit this machine.
    public static func checkFits(_ config: TesseraConfig, tp: Int, dp: Int) throws {
        try MemoryPlan(config: config, tp: tp, dp: dp).checkFits()
    }
}
