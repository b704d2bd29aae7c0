import Autograd
import CM3Objective
import Configuration
import Foundation
import HDF5
import Model
import Optim
import Parallel

/// Everything besides tensors that a run needs to continue exactly.
public struct TrainingState: Equatable, Sendable {
    /// Optimizer steps completed.
    public var step: Int = 0
    /// Tokens trained on so far.
    public var tokens: Int = 0
    /// Where the data stream continues (rank 0's cursor: the global one after whole steps).
    public var cursor = BlockCursor()
    /// Sequences per optimizer step over all ranks (0: not recorded, format 1), which a
    /// resume under another dp keeps.
    public var globalBatch = 0

    public init(step: Int = 0, tokens: Int = 0, cursor: BlockCursor = BlockCursor(), globalBatch: Int = 0) {
        self.step = step; self.tokens = tokens; self.cursor = cursor; self.globalBatch = globalBatch
    }
}

/// HDF5 checkpoints (docs/checkpoint-format.md): full, unsharded tensors under their
/// PyTorch names, AdamW's moments under `optimizer/exp_avg/<name>` and
/// `optimizer/exp_avg_sq/<name>`, a checksum per tensor, and the state, schedule, seed and
/// resolved config as attributes. Written to a temporary name, fsynced and renamed, so a
/// file under its final name is always complete.
public enum Checkpoint {
    /// The format written: 2 adds `attributes_checksum`. Format 1 files still load.
    public static let formatVersion: Int64 = 2
    static let readableFormats: ClosedRange<Int64> = 1...2

    /// A checkpoint read into a model.
    public struct Loaded: Sendable {
        public let state: TrainingState
        /// False for format 1 files, whose step, cursor, lr and config carry no checksum.
        public let attributesChecked: Bool
    }

    /// The datasets a checkpoint holds for the parameter `name`: its values, then AdamW's
    /// two moments, all of the parameter's shape.
    static func datasetNames(_ name: String) -> [String] {
        [name, "optimizer/exp_avg/\(name)", "optimizer/exp_avg_sq/\(name)"]
    }

    /// This rank's tensors behind those datasets, in the same order: the parameter, and its
    /// moments when there is an optimizer.
    static func tensors(of parameter: NamedParameter, optimizer: AdamW?) -> [(name: String, tensor: Tensor)] {
        let names = datasetNames(parameter.name)
        guard let optimizer else { return [(names[0], parameter.tensor)] }
        guard let moments = optimizer.state(named: parameter.name) else { preconditionFailure("AdamW has no state for \(parameter.name)") }
        return Array(zip(names, [parameter.tensor, moments.expAvg, moments.expAvgSq]))
    }

    /// Gathers `parameters` and `optimizer`'s moments over the tensor-parallel group and,
    /// on world rank 0, writes them with `state`, `lr` and `config` to `path` atomically.
    /// Every rank of the first data-parallel replica must call it.
    public static func save(path: String, parameters: [NamedParameter], optimizer: AdamW, state: TrainingState,
                            lr: Double, config: TesseraConfig, context: ParallelContext) throws {
        guard context.dpRank == 0 else { return }
        var tensors: [(name: String, values: [Float], shape: [Int])] = []
        for parameter in parameters {
            for (name, tensor) in self.tensors(of: parameter, optimizer: optimizer) {
                let view = NamedParameter(spec: parameter.spec, tensor: tensor, sharding: parameter.sharding)
                tensors.append((name, try context.fullTensor(view), parameter.fullShape))
            }
        }
        guard context.isLeader else { return }
        let temporary = path + ".tmp"
        // Test hook: die by SIGKILL half-way through writing, as a crash or OOM kill would.
        let crashAfter = ProcessInfo.processInfo.environment["TESSERA_TEST_KILL_DURING_SAVE"] != nil ? tensors.count / 2 : nil
        do {
            let file = try HDF5File.create(temporary)
            var checksums: [String: String] = [:]
            for (index, tensor) in tensors.enumerated() {
                if index == crashAfter { try file.flush(); kill(getpid(), SIGKILL) }
                try file.write(tensor.name, floats: tensor.values, shape: tensor.shape)
                checksums[tensor.name] = String(checksum(tensor.values), radix: 16)
            }
            let cursor = state.cursor
            try CheckpointAttributes(
                formatVersion: formatVersion, step: Int64(state.step), tokens: Int64(state.tokens),
                optimizerStep: Int64(optimizer.stepCount), cursor: "\(cursor.epoch) \(cursor.position) \(cursor.offset) \(cursor.block)",
                globalBatch: Int64(state.globalBatch),
                seed: Int64(config.train.seed), lr: lr, config: config.yaml,
                checksums: checksums.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: "\n")
            ).write(to: file)
            try file.flush()
        } catch {
            // Out of disk or quota: leave no partial file behind; earlier checkpoints stay.
            try? FileManager.default.removeItem(atPath: temporary)
            throw CheckpointError(path: path, problem: .unwritable("\(error)"))
        }
        try syncAndRename(temporary, to: path)
    }

    /// Reads `path` into this rank's shards of `parameters` (and of `optimizer`'s moments,
    /// when given), checking every tensor's checksum as it is read: each tensor is read once.
    /// Any tp × dp layout loads: each rank reads the full tensors and keeps its part. A
    /// `CheckpointError` names the file and what is wrong; after a corrupt one the tensors
    /// read so far have been overwritten.
    public static func load(path: String, model: ModelConfig, into parameters: [NamedParameter],
                            optimizer: AdamW? = nil) throws -> Loaded {
        let (file, attributes) = try openMatching(path, model: model)
        let sums = attributes.tensorChecksums
        for parameter in parameters {
            for (name, tensor) in tensors(of: parameter, optimizer: optimizer) {
                let full = try readVerified(file, name, sums: sums, path: path)
                parameter.sharding.slice(full, fullShape: parameter.fullShape, into: tensor)
            }
        }
        if let optimizer { optimizer.stepCount = Int(attributes.optimizerStep) }
        return Loaded(state: try attributes.trainingState(path: path), attributesChecked: attributes.formatVersion >= 2)
    }

    /// Checks a checkpoint without a model in memory: readable, every tensor present with
    /// the shape `model` needs and a matching checksum. Returns its state.
    public static func verify(path: String, model: ModelConfig) throws -> TrainingState {
        let (file, attributes) = try openMatching(path, model: model)
        let sums = attributes.tensorChecksums
        for spec in ParameterTable(model).specs {
            for name in datasetNames(spec.name) { _ = try readVerified(file, name, sums: sums, path: path) }
        }
        return try attributes.trainingState(path: path)
    }

    /// The resolved config a checkpoint was trained with, as its attributes store it.
    public static func storedConfig(path: String) throws -> TesseraConfig {
        let file: HDF5File
        do { file = try HDF5File.open(path) } catch { throw CheckpointError(path: path, problem: .unreadable) }
        let attributes = try CheckpointAttributes(reading: file, path: path)
        return try TesseraConfig.parse(attributes.config, source: "\(path) (its stored config)")
    }

    /// Checks from metadata alone that `path` holds `model`'s tensors with their shapes (and
    /// its activation): a mismatch is a `CheckpointError` naming the tensor.
    public static func checkHoldsModel(path: String, model: ModelConfig) throws {
        _ = try openMatching(path, model: model)
    }

    /// Opens `path` and checks, from metadata alone, its attributes, that it holds every
    /// tensor of `model` with the right shape, and that it was trained with `model`'s
    /// activation (one recorded in no config, as before `model.activation` existed, is GELU).
    static func openMatching(_ path: String, model: ModelConfig) throws -> (HDF5File, CheckpointAttributes) {
        let file: HDF5File
        do { file = try HDF5File.open(path) } catch { throw CheckpointError(path: path, problem: .unreadable) }
        let attributes = try CheckpointAttributes(reading: file, path: path)
        for spec in ParameterTable(model).specs {
            for name in datasetNames(spec.name) {
                guard file.contains(name) else { throw CheckpointError(path: path, problem: .missingTensor(name)) }
                let stored = try file.shape(of: name)
                guard stored == spec.shape else {
                    throw CheckpointError(path: path, problem: .otherModel(tensor: name, stored: stored, needed: spec.shape))
                }
            }
        }
        let activation = TesseraConfig.recordedValue("model.activation", inYAML: attributes.config)
            ?? ModelConfig.Activation.gelu.rawValue
        guard activation == model.activation.rawValue else {
            throw CheckpointError(path: path, problem: .otherActivation(stored: activation, needed: model.activation.rawValue))
        }
        return (file, attributes)
    }

    static func readVerified(_ file: HDF5File, _ name: String, sums: [String: String], path: String) throws -> [Float] {
        let values: [Float]
        do { values = try file.readFloats(name) } catch { throw CheckpointError(path: path, problem: .unreadableTensor(name)) }
        guard sums[name] == String(checksum(values), radix: 16) else {
            throw CheckpointError(path: path, problem: .checksumMismatch(name))
        }
        return values
    }

}
