import CM3Objective
import Checkpointing
import Configuration
import Model
import Parallel

/// A trained model read back from a checkpoint, for evaluation, decoding and export: the
/// config's decoder (this rank's shard under tp) with the checkpoint's weights. No optimizer
/// state is read.
public struct TrainedModel {
    public let config: TesseraConfig
    public let decoder: CM3LeonDecoder
    /// The step, tokens and cursor the checkpoint was saved at.
    public let state: TrainingState
    public var vocabulary: Vocabulary { config.vocabulary }

    /// Loads `path` into `config`'s model; every rank of `context` agrees on success or on
    /// the one problem reported.
    public init(checkpoint path: String, config: TesseraConfig, context: ParallelContext = .single()) throws {
        let decoder = CM3LeonDecoder(config: config.model, seed: config.seed, tensorParallel: context.tensorParallel)
        state = try context.agreeing {
            try Checkpoint.load(path: path, model: config.model, into: decoder.parameters, context: context).state
        }
        self.config = config
        self.decoder = decoder
    }

    /// Loads `path` into the model of the config it stores.
    public init(checkpoint path: String, context: ParallelContext = .single()) throws {
        try self.init(checkpoint: path, config: try TesseraConfig.stored(inCheckpoint: path), context: context)
    }
}

extension TesseraConfig {
    /// The resolved config checkpoint `path` was trained with.
    public static func stored(inCheckpoint path: String) throws -> TesseraConfig {
        try TesseraConfig.parse(try Checkpoint.storedConfigYAML(path: path), source: "\(path) (its stored config)")
    }
}
