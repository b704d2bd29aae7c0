import Autograd
import CM3Objective
import Foundation
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

    public init(step: Int = 0, tokens: Int = 0, cursor: BlockCursor = BlockCursor()) {
        self.step = step; self.tokens = tokens; self.cursor = cursor
    }
}

/// HDF5 checkpoints (docs/checkpoint-format.md): full, unsharded tensors under their
/// PyTorch names, AdamW's moments under `optimizer/exp_avg/<name>` and
/// `optimizer/exp_avg_sq/<name>`, a checksum per tensor, and the state, schedule, seed and
/// resolved config as attributes. Written to a temporary name, fsynced and renamed, so a
/// file under its final name is always complete.
public enum Checkpoint {
    public static let formatVersion: Int64 = 1

    /// Gathers every tensor over the tensor-parallel group and, on world rank 0, writes
    /// `path` atomically. Every rank of the first data-parallel replica must call it.
    public static func save(path: String, step trainingStep: TrainingStep, state: TrainingState,
                            config: TesseraConfig) throws {
        let context = trainingStep.context
        guard context.dpRank == 0 else { return }
        let parameters = trainingStep.decoder.parameters
        let optimizer = trainingStep.optimizer
        var tensors: [(name: String, values: [Float], shape: [Int])] = []
        for (index, parameter) in parameters.enumerated() {
            tensors.append((parameter.name, try context.fullTensor(parameter), parameter.fullShape))
            for (group, moment) in [("exp_avg", optimizer.expAvg[index]), ("exp_avg_sq", optimizer.expAvgSq[index])] {
                let view = NamedParameter(name: parameter.name, tensor: moment, fullShape: parameter.fullShape, sharding: parameter.sharding)
                tensors.append(("optimizer/\(group)/\(parameter.name)", try context.fullTensor(view), parameter.fullShape))
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
            try file.setAttribute("format_version", formatVersion)
            try file.setAttribute("step", Int64(state.step))
            try file.setAttribute("tokens", Int64(state.tokens))
            try file.setAttribute("optimizer_step", Int64(optimizer.stepCount))
            try file.setAttribute("cursor", "\(state.cursor.epoch) \(state.cursor.position) \(state.cursor.offset) \(state.cursor.block)")
            try file.setAttribute("seed", Int64(config.train.seed))
            try file.setAttribute("lr", config.optim.schedule(totalSteps: max(1, try config.train.totalSteps(seqLen: config.model.seqLen, dp: context.dp)))(state.step))
            try file.setAttribute("config", config.yaml)
            try file.setAttribute("checksums", checksums.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: "\n"))
            try file.flush()
        } catch {
            // Out of disk or quota: leave no partial file behind; earlier checkpoints stay.
            try? FileManager.default.removeItem(atPath: temporary)
            throw CheckpointError(path: path, message: "could not be written: \(error)", corrupt: false)
        }
        try syncAndRename(temporary, to: path)
    }

    /// Checks a checkpoint without loading it into a model: readable, every tensor present
    /// with a matching checksum, and shapes that fit `model`. Returns the state, or throws a
    /// `CheckpointError` naming the file and what is wrong.
    public static func verify(path: String, model: ModelConfig) throws -> TrainingState {
        let file: HDF5File
        do { file = try HDF5File.open(path) } catch { throw CheckpointError(path: path, message: "cannot be read (truncated or not HDF5)", corrupt: true) }
        guard try file.integerAttribute("format_version") == formatVersion else {
            throw CheckpointError(path: path, message: "has no format_version \(formatVersion)", corrupt: true)
        }
        let expected = expectedShapes(model)
        for (name, shape) in expected {
            guard file.contains(name) else { throw CheckpointError(path: path, message: "lacks tensor '\(name)'", corrupt: false) }
            let stored = try file.shape(of: name)
            guard stored == shape else {
                throw CheckpointError(path: path, message: "holds another model: \(name) is \(stored), this config needs \(shape)", corrupt: false)
            }
        }
        var sums: [String: String] = [:]
        for line in (try file.stringAttribute("checksums") ?? "").split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { sums[String(parts[0])] = String(parts[1]) }
        }
        for (name, _) in expected {
            let values: [Float]
            do { values = try file.readFloats(name) } catch { throw CheckpointError(path: path, message: "tensor '\(name)' cannot be read", corrupt: true) }
            guard sums[name] == String(checksum(values), radix: 16) else {
                throw CheckpointError(path: path, message: "tensor '\(name)' fails its checksum", corrupt: true)
            }
        }
        return try state(of: file, path: path)
    }

    /// Loads a verified checkpoint into this rank's shards of the model and optimizer
    /// (any tp × dp layout: each rank reads the full tensors and keeps its part).
    public static func load(path: String, into trainingStep: TrainingStep) throws -> TrainingState {
        let file = try HDF5File.open(path)
        let optimizer = trainingStep.optimizer
        for (index, parameter) in trainingStep.decoder.parameters.enumerated() {
            for (name, tensor) in [(parameter.name, parameter.tensor),
                                   ("optimizer/exp_avg/\(parameter.name)", optimizer.expAvg[index]),
                                   ("optimizer/exp_avg_sq/\(parameter.name)", optimizer.expAvgSq[index])] {
                let full = try file.readFloats(name)
                parameter.sharding.slice(full, fullShape: parameter.fullShape, into: tensor)
            }
        }
        optimizer.stepCount = Int(try file.integerAttribute("optimizer_step") ?? 0)
        return try state(of: file, path: path)
    }

    static func state(of file: HDF5File, path: String) throws -> TrainingState {
        let cursor = (try file.stringAttribute("cursor") ?? "").split(separator: " ").compactMap { Int($0) }
        guard cursor.count == 4, let step = try file.integerAttribute("step"), let tokens = try file.integerAttribute("tokens") else {
            throw CheckpointError(path: path, message: "lacks its training state", corrupt: true)
        }
        return TrainingState(step: Int(step), tokens: Int(tokens),
                             cursor: BlockCursor(epoch: cursor[0], position: cursor[1], offset: cursor[2], block: cursor[3]))
    }

    /// Every tensor name a checkpoint of `model` holds, with its full shape.
    static func expectedShapes(_ model: ModelConfig) -> [(String, [Int])] {
        let decoder = CheckpointNames(model: model)
        return decoder.parameters.flatMap { name, shape in
            [(name, shape), ("optimizer/exp_avg/\(name)", shape), ("optimizer/exp_avg_sq/\(name)", shape)]
        }
    }

    /// 64-bit hash of the values' bytes (FNV-1a over 8-byte words, then mixed).
    public static func checksum(_ values: [Float]) -> UInt64 {
        values.withUnsafeBytes { raw in
            var hash: UInt64 = 0xcbf2_9ce4_8422_2325
            let words = raw.count / 8
            let base = raw.baseAddress!
            for i in 0..<words { hash = (hash ^ base.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* 0x100_0000_01b3 }
            for i in (words * 8)..<raw.count { hash = (hash ^ UInt64(raw[i])) &* 0x100_0000_01b3 }
            return hash ^ (hash >> 29)
        }
    }

    /// fsync the file, rename it into place, fsync the directory: after a crash the final
    /// name holds either the old file or the whole new one.
    static func syncAndRename(_ temporary: String, to path: String) throws {
        let descriptor = open(temporary, O_RDONLY)
        guard descriptor >= 0 else { throw CheckpointError(path: path, message: "cannot reopen \(temporary) to sync it", corrupt: false) }
        let synced = fsync(descriptor)
        close(descriptor)
        guard synced == 0 else { throw CheckpointError(path: path, message: "fsync failed (errno \(errno))", corrupt: false) }
        guard rename(temporary, path) == 0 else { throw CheckpointError(path: path, message: "cannot rename into place (errno \(errno))", corrupt: false) }
        let directory = open((path as NSString).deletingLastPathComponent, O_RDONLY)
        if directory >= 0 { fsync(directory); close(directory) }
    }
}

/// A checkpoint that cannot be used. `corrupt` ones (truncated, failed checksum) are skipped
/// in favour of an older one; others (another model) stop the run.
public struct CheckpointError: ReportableError {
    public let path: String
    public let message: String
    public let corrupt: Bool
    public var description: String { "checkpoint \(path) \(message)" }
}

/// The parameter names and full shapes of a model, without building it.
struct CheckpointNames {
    let parameters: [(String, [Int])]

    init(model: ModelConfig) {
        let d = model.dModel
        var names: [(String, [Int])] = [("decoder.embed_tokens.weight", [model.vocabSize, d]),
                                        ("decoder.embed_positions.weight", [model.seqLen, d])]
        for i in 0..<model.layers {
            let prefix = "decoder.layers.\(i)."
            for projection in ["q", "k", "v", "out"] { names.append((prefix + "self_attn.\(projection)_proj.weight", [d, d])) }
            names.append((prefix + "fc1.weight", [model.ffn, d]))
            names.append((prefix + "fc2.weight", [d, model.ffn]))
        }
        parameters = names
    }
}
