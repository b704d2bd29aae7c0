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
        try root.rejectUnknownKeys(["model", "train", "parallel"])
        guard let modelSection = try root.section("model") else { throw root.error("model", "missing") }
        let model = try readModel(modelSection)
        var train = TrainConfig()
        if let section = try root.section("train") { train = try readTrain(section) }
        var parallel = ParallelConfig()
        if let section = try root.section("parallel") {
            try section.rejectUnknownKeys(["tp"])
            parallel.tp = try section.int("tp", default: parallel.tp)
        }
        return TesseraConfig(model: model, train: train, parallel: parallel, source: source)
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
