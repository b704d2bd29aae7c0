import CM3Objective
import Optim
import Foundation

/// A whole run configuration, read from YAML.
public struct TesseraConfig: Equatable, Sendable {
    public var model: ModelConfig
    public var train = TrainConfig()
    public var optim = OptimConfig()
    public var parallel = ParallelConfig()
    public var data = DataConfig()
    /// Where it was read from (for messages).
    public var source: String

    public init(model: ModelConfig, source: String) {
        self.model = model
        self.source = source
    }

    /// Reads and validates a YAML file, with `overrides` (`"optim.peak_lr": "3e-4"`, from
    /// `--set`) taking the place of the file's values; every problem is a `ConfigError`
    /// naming the file (or `--set`) and the key.
    public static func load(path: String, overrides: [String: String] = [:]) throws -> TesseraConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, key: "", message: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, key: "", message: "not UTF-8 text")
        }
        return try parse(text, source: path, overrides: overrides)
    }

    /// Validates YAML text; `source` names it in errors.
    public static func parse(_ text: String, source: String, overrides: [String: String] = [:]) throws -> TesseraConfig {
        let overrideBox = ConfigOverrides(overrides)
        let root = try ConfigReader(file: source, text: text, overrides: overrideBox)
        try root.rejectUnknownKeys(["model", "train", "optim", "parallel", "data"])
        guard let modelSection = try root.section("model") else { throw root.error("model", "missing") }
        var config = TesseraConfig(model: try readModel(modelSection), source: source)
        if let section = try root.section("train") { config.train = try readTrain(section) }
        if let section = try root.section("optim") { config.optim = try readOptim(section) }
        if let section = try root.section("parallel") {
            try section.rejectUnknownKeys(["tp"])
            config.parallel.tp = try section.int("tp", default: config.parallel.tp)
        }
        if let section = try root.section("data") { config.data = try readData(section, model: config.model) }
        if let unused = overrideBox.unused.first {
            throw ConfigError(file: "--set", key: unused, message: "unknown key")
        }
        return config
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
        try reader.rejectUnknownKeys(["micro_batch", "accumulation", "batch_tokens", "steps", "total_tokens", "seed", "fixed_batch",
                                      "log_interval", "eval_interval", "eval_batches", "save_interval", "keep_checkpoints",
                                      "activation_checkpointing"])
        var train = TrainConfig()
        train.microBatch = try reader.int("micro_batch", default: train.microBatch)
        train.accumulation = try reader.optionalInt("accumulation")
        train.batchTokens = try reader.optionalInt("batch_tokens")
        train.steps = try reader.optionalInt("steps")
        if reader.has("total_tokens") { train.totalTokens = try reader.double("total_tokens", in: 1...1e16) }
        train.seed = try reader.int("seed", minimum: 0, default: train.seed)
        train.fixedBatch = try reader.bool("fixed_batch", default: train.fixedBatch)
        train.logInterval = try reader.int("log_interval", default: train.logInterval)
        train.evalInterval = try reader.int("eval_interval", minimum: 0, default: train.evalInterval)
        train.evalBatches = try reader.int("eval_batches", default: train.evalBatches)
        train.saveInterval = try reader.int("save_interval", minimum: 0, default: train.saveInterval)
        train.keepCheckpoints = try reader.int("keep_checkpoints", default: train.keepCheckpoints)
        train.activationCheckpointing = try reader.bool("activation_checkpointing", default: train.activationCheckpointing)
        if train.accumulation != nil && train.batchTokens != nil {
            throw reader.error("accumulation", "give accumulation or batch_tokens, not both")
        }
        return train
    }

    static func readOptim(_ reader: ConfigReader) throws -> OptimConfig {
        try reader.rejectUnknownKeys(["peak_lr", "warmup", "decay", "final_lr_fraction", "clip_norm", "beta1", "beta2", "eps", "weight_decay"])
        var optim = OptimConfig()
        optim.peakLr = try reader.double("peak_lr", in: 0...1, default: optim.peakLr)
        optim.warmup = try reader.int("warmup", minimum: 0, default: optim.warmup)
        let decay = try reader.string("decay", default: optim.decay.rawValue)
        guard let shape = LearningRateSchedule.Decay(rawValue: decay) else {
            throw reader.error("decay", "expected linear or cosine, got '\(decay)'")
        }
        optim.decay = shape
        optim.finalLrFraction = try reader.double("final_lr_fraction", in: 0...1, default: optim.finalLrFraction)
        optim.clipNorm = try reader.double("clip_norm", in: 0...1e6, default: optim.clipNorm)
        optim.adamW.beta1 = Float(try reader.double("beta1", in: 0...0.999999, default: Double(optim.adamW.beta1)))
        optim.adamW.beta2 = Float(try reader.double("beta2", in: 0...0.999999, default: Double(optim.adamW.beta2)))
        optim.adamW.eps = Float(try reader.double("eps", in: 0...1, default: Double(optim.adamW.eps)))
        optim.adamW.weightDecay = Float(try reader.double("weight_decay", in: 0...1, default: Double(optim.adamW.weightDecay)))
        return optim
    }
}
