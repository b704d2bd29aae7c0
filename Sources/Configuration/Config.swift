import CM3Objective
import Diagnostics
import Foundation
import Model
import Optim
import Parallel
import TrainingData

/// A whole run configuration, read from YAML.
public struct TesseraConfig: Equatable, Sendable {
    /// The decoder's shape; every key is required.
    public var model: ModelConfig
    public var train = TrainingSettings()
    public var optim = OptimizerSettings()
    public var parallel = ParallelSettings()
    public var data = DataSettings()
    /// Where it was read from (for messages).
    public var source: String

    public init(model: ModelConfig, source: String) {
        self.model = model
        self.source = source
    }

    /// Reads and validates a YAML file, with `overrides` (`"optim.peak_lr": "3e-4"`, from
    /// `--set`) taking the place of the file's values; every problem is a `ConfigError`
    /// naming the file (or `--set`) and the key. Relative data paths (`data.train`,
    /// `data.validation`, `data.tokenizer`, `data.tasks`) of the file are resolved from the
    /// file's folder; `--set` paths and `train.init_from` from the working directory.
    public static func load(path: String, overrides: [String: String] = [:]) throws -> TesseraConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, key: "", message: "cannot read the file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, key: "", message: "not UTF-8 text")
        }
        var config = try parse(text, source: path, overrides: overrides)
        // Data paths in the file are relative to its folder; `--set` values to the working directory.
        let folder = (path as NSString).deletingLastPathComponent
        for key in ConfigKeys.all where overrides[key.name] == nil && !folder.isEmpty {
            key.rebase?(&config) { $0.hasPrefix("/") ? $0 : (folder as NSString).appendingPathComponent($0) }
        }
        return config
    }

    /// Validates YAML text; `source` names it in errors. Every key comes from
    /// `ConfigKeys.all`; the rules that tie keys together come after, in `checkAcrossKeys`.
    public static func parse(_ text: String, source: String, overrides: [String: String] = [:]) throws -> TesseraConfig
    {
        try ConfigKeys.checkOverrides(overrides)
        let file = try ConfigFile(file: source, text: text, overrides: overrides)
        var config = TesseraConfig.defaults(source: source)
        for key in ConfigKeys.all { try file.read(key, into: &config) }
        try config.checkAcrossKeys()
        return config
    }

    /// Every default, with an empty model that the required keys fill in.
    static func defaults(source: String) -> TesseraConfig {
        TesseraConfig(
            model: ModelConfig(vocabSize: 0, dModel: 0, layers: 0, heads: 0, ffn: 0, seqLen: 0), source: source)
    }

    /// The rules no single key can check, each naming the key a user would change.
    func checkAcrossKeys() throws {
        func problem(_ key: String, _ message: String) -> ConfigError {
            ConfigError(file: source, key: key, message: message)
        }
        guard model.dModel % model.heads == 0 else {
            throw problem("model.heads", "\(model.heads) does not divide d_model \(model.dModel)")
        }
        if train.accumulation != nil && train.batchTokens != nil {
            throw problem("train.accumulation", "give accumulation or batch_tokens, not both")
        }
        if let textVocab = data.textVocab, textVocab >= model.vocabSize {
            throw problem(
                "data.text_vocab", "\(textVocab) leaves no image codes in model.vocab_size \(model.vocabSize)")
        }
        if let message = vocabulary.problem { throw problem("data.special_tokens", message) }
        guard data.cm3.maxSpans >= data.cm3.minSpans else {
            throw problem("data.cm3.max_spans", ConfigValueKind.belowMinimum(data.cm3.maxSpans, data.cm3.minSpans))
        }
        // The transform adds up to `reserve` tokens to a block, which must leave room for one.
        guard model.seqLen + 1 > data.cm3.reserve else {
            throw problem(
                "data.cm3",
                """
                max_spans \(data.cm3.maxSpans) needs \(data.cm3.reserve) tokens of each block, more than seq_len \
                \(model.seqLen)
                """
            )
        }
    }
}
