import CM3Objective
import Foundation

/// Shape of the CM3Leon decoder (DESIGN §2, paper Table 3).
public struct ModelConfig: Equatable, Sendable {
    public var vocabSize: Int
    public var dModel: Int
    public var layers: Int
    public var heads: Int
    public var ffn: Int
    public var seqLen: Int

    public init(vocabSize: Int, dModel: Int, layers: Int, heads: Int, ffn: Int, seqLen: Int) {
        self.vocabSize = vocabSize; self.dModel = dModel; self.layers = layers
        self.heads = heads; self.ffn = ffn; self.seqLen = seqLen
    }

    /// Weights per block: q, k, v, out (d×d each) and fc1, fc2 (d×ffn each).
    public var parametersPerLayer: Int { 4 * dModel * dModel + 2 * dModel * ffn }

    /// Token and position embeddings plus every block; the LM head is tied, nothing has a bias.
    public var parameterCount: Int {
        vocabSize * dModel + seqLen * dModel + layers * parametersPerLayer
    }

    /// Training FLOPs per token: 6 per weight that multiplies (blocks and the LM head; the
    /// embedding lookups are free) plus 12·L·d·seq for the attention scores and values
    /// (forward 4·d·seq, backward twice that, counted without causal savings, as PaLM's
    /// appendix B does). With ffn = 4d this is 6·(12·L·d² + V·d) + 12·L·d·seq.
    public var trainingFlopsPerToken: Double {
        6 * Double(layers * parametersPerLayer + vocabSize * dModel) + 12 * Double(layers * dModel * seqLen)
    }
}

/// Settings of the single-process training loop.
public struct TrainConfig: Equatable, Sendable {
    /// Sequences per forward/backward pass on each rank.
    public var microBatch: Int = 4
    /// Micro-batches whose gradients add up before each optimizer step.
    public var accumulation: Int = 1
    public var steps: Int = 100
    public var lr: Double = 1e-3
    /// Linear warmup steps from 0 to `lr`.
    public var warmup: Int = 0
    public var seed: Int = 0
    /// Train on the first batch over and over (to check the model can fit it).
    public var fixedBatch: Bool = false
    public var logInterval: Int = 1

    public init() {}
}

/// Where the training blocks come from (docs/data-format.md).
public struct DataConfig: Equatable, Sendable {
    /// Training shards; empty means the built-in default corpus.
    public var train: [String] = []
    /// Held-out shards; empty means the default corpus's own held-out documents.
    public var validation: [String] = []
    /// Text ids (special tokens among them); the rest of the model's vocabulary is image codes.
    /// Defaults to CM3Leon's 56320 at vocabulary 64512, half the vocabulary otherwise.
    public var textVocab: Int? = nil
    public var pad: Int32 = 0, eos: Int32 = 1, breakToken: Int32 = 2, mask: Int32 = 3, infill: Int32 = 4
    /// Prepend retrieved documents (CM3Leon §2.1).
    public var retrieval = false
    /// Train on synthetic sequences (a random motif repeated, every weight 1) instead of a
    /// corpus: for smoke tests and checks that need tokens that rarely repeat.
    public var synthetic = false
    /// Size of the default corpus: training and held-out documents.
    public var documents = 20_000
    public var validationDocuments = 1_000
    public var cm3 = CM3Settings()

    public init() {}

    /// The vocabulary for a model of `vocabSize` ids.
    public func vocabulary(vocabSize: Int) -> Vocabulary {
        let text = textVocab ?? (vocabSize == 64512 ? 56320 : vocabSize / 2)
        return Vocabulary(textVocabulary: text, imageCodes: vocabSize - text, pad: pad, eos: eos,
                          breakToken: breakToken, mask: mask, infill: infill)
    }
}

/// How the run is split over ranks.
public struct ParallelConfig: Equatable, Sendable {
    /// Tensor-parallel size; data-parallel size is world / tp.
    public var tp: Int = 1

    public init() {}
}

/// A whole run configuration, read from YAML.
public struct TesseraConfig: Equatable, Sendable {
    public var model: ModelConfig
    public var train: TrainConfig
    public var parallel = ParallelConfig()
    public var data = DataConfig()
    /// Where it was read from (for messages).
    public var source: String

    /// Reads and validates a YAML file; every problem is a `ConfigError` naming file and key.
    public static func load(path: String) throws -> TesseraConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, key: "", message: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, key: "", message: "not UTF-8 text")
        }
        return try parse(text, source: path)
    }

    /// Validates YAML text; `source` names it in errors.
    public static func parse(_ text: String, source: String) throws -> TesseraConfig {
        let root = try ConfigReader(file: source, text: text)
        try root.rejectUnknownKeys(["model", "train", "parallel", "data"])
        guard let modelSection = try root.section("model") else { throw root.error("model", "missing") }
        let model = try readModel(modelSection)
        var train = TrainConfig()
        if let section = try root.section("train") { train = try readTrain(section) }
        var parallel = ParallelConfig()
        if let section = try root.section("parallel") {
            try section.rejectUnknownKeys(["tp"])
            parallel.tp = try section.int("tp", default: parallel.tp)
        }
        var data = DataConfig()
        if let section = try root.section("data") { data = try readData(section, model: model) }
        return TesseraConfig(model: model, train: train, parallel: parallel, data: data, source: source)
    }

    static func readModel(_ reader: ConfigReader) throws -> ModelConfig {
        try reader.rejectUnknownKeys(["vocab_size", "d_model", "layers", "heads", "ffn", "seq_len"])
        let model = ModelConfig(
            vocabSize: try reader.int("vocab_size"), dModel: try reader.int("d_model"),
            layers: try reader.int("layers"), heads: try reader.int("heads"),
            ffn: try reader.int("ffn"), seqLen: try reader.int("seq_len"))
        guard model.dModel % model.heads == 0 else {
            throw reader.error("heads", "\(model.heads) does not divide d_model \(model.dModel)")
        }
        return model
    }

    static func readData(_ reader: ConfigReader, model: ModelConfig) throws -> DataConfig {
        try reader.rejectUnknownKeys(["train", "validation", "text_vocab", "special_tokens", "retrieval", "synthetic",
                                      "documents", "validation_documents", "cm3"])
        var data = DataConfig()
        data.train = try reader.strings("train", default: [])
        data.validation = try reader.strings("validation", default: [])
        if reader.node("text_vocab") != nil {
            data.textVocab = try reader.int("text_vocab")
            guard data.textVocab! < model.vocabSize else {
                throw reader.error("text_vocab", "\(data.textVocab!) leaves no image codes in model.vocab_size \(model.vocabSize)")
            }
        }
        if let specials = try reader.section("special_tokens") {
            try specials.rejectUnknownKeys(["pad", "eos", "break", "mask", "infill"])
            data.pad = Int32(try specials.int("pad", minimum: 0, default: Int(data.pad)))
            data.eos = Int32(try specials.int("eos", minimum: 0, default: Int(data.eos)))
            data.breakToken = Int32(try specials.int("break", minimum: 0, default: Int(data.breakToken)))
            data.mask = Int32(try specials.int("mask", minimum: 0, default: Int(data.mask)))
            data.infill = Int32(try specials.int("infill", minimum: 0, default: Int(data.infill)))
            if let problem = data.vocabulary(vocabSize: model.vocabSize).problem { throw specials.error("", problem) }
        }
        data.retrieval = try reader.bool("retrieval", default: data.retrieval)
        data.synthetic = try reader.bool("synthetic", default: data.synthetic)
        data.documents = try reader.int("documents", default: data.documents)
        data.validationDocuments = try reader.int("validation_documents", default: data.validationDocuments)
        if let cm3 = try reader.section("cm3") {
            try cm3.rejectUnknownKeys(["lambda", "min_spans", "max_spans", "mask_weight"])
            data.cm3.lambda = try cm3.double("lambda", in: 0...64, default: data.cm3.lambda)
            data.cm3.minSpans = try cm3.int("min_spans", minimum: 0, default: data.cm3.minSpans)
            data.cm3.maxSpans = try cm3.int("max_spans", minimum: data.cm3.minSpans, default: data.cm3.maxSpans)
            data.cm3.maskWeight = Float(try cm3.double("mask_weight", in: 0...1, default: Double(data.cm3.maskWeight)))
        }
        guard model.seqLen + 1 > data.cm3.reserve else {
            throw reader.error("cm3", "max_spans \(data.cm3.maxSpans) needs \(data.cm3.reserve) tokens of each block, more than seq_len \(model.seqLen)")
        }
        return data
    }

    static func readTrain(_ reader: ConfigReader) throws -> TrainConfig {
        try reader.rejectUnknownKeys(["micro_batch", "accumulation", "steps", "lr", "warmup", "seed", "fixed_batch", "log_interval"])
        var train = TrainConfig()
        train.microBatch = try reader.int("micro_batch", default: train.microBatch)
        train.accumulation = try reader.int("accumulation", default: train.accumulation)
        train.steps = try reader.int("steps", default: train.steps)
        train.lr = try reader.double("lr", in: 0...1, default: train.lr)
        train.warmup = try reader.int("warmup", minimum: 0, default: train.warmup)
        train.seed = try reader.int("seed", minimum: 0, default: train.seed)
        train.fixedBatch = try reader.bool("fixed_batch", default: train.fixedBatch)
        train.logInterval = try reader.int("log_interval", default: train.logInterval)
        return train
    }
}
