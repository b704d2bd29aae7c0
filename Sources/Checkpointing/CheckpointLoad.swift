import Autograd
import Foundation
import HDF5
import Model
import Optim
import Parallel

extension Checkpoint {
    /// Reads `path` into this rank's shards of `parameters` (and of `optimizer`'s moments,
    /// when given: under ZeRO-1 only the rows this rank owns). Any tp × dp layout loads.
    /// Every rank of `context` calls it. From format 3 on each rank reads only its part
    /// (HDF5 hyperslabs) and hashes the rows it owns; the parts are summed over the ranks
    /// and checked against the stored checksums. Formats 1 and 2 are read whole on every
    /// rank and checked tensor by tensor. A `CheckpointError` names the file and what is
    /// wrong; after a corrupt one the tensors read so far have been overwritten.
    public static func load(
        path: String, model: ModelConfig, into parameters: [NamedParameter],
        optimizer: AdamW? = nil, context: ParallelContext = .single()
    ) throws -> Loaded {
        var loaded: Loaded?
        let transfer = try Transfer.measure(context) {
            loaded = try read(path: path, model: model, into: parameters, optimizer: optimizer, context: context)
        }
        guard var loaded else { preconditionFailure("a load that did not throw read the file") }
        loaded.transfer = transfer
        return loaded
    }

    private static func read(
        path: String, model: ModelConfig, into parameters: [NamedParameter],
        optimizer: AdamW?, context: ParallelContext
    ) throws -> Loaded {
        let parts = parameters.map { TensorPart($0, optimizer: optimizer, context: context) }
        var failure: CheckpointError?
        var opened: CheckpointAttributes?
        var sums: [UInt64] = []
        do {
            let (file, attributes) = try openMatching(path, model: model)
            if attributes.tensorCheck == .partsSummedOverRanks {
                for part in parts {
                    for source in part.sources {
                        try readBlock(file, source, of: part, path: path)
                        sums.append(part.ownedChecksum(source))
                    }
                }
            } else {
                try readWholeTensors(file, into: parts, sums: attributes.tensorChecksums, path: path)
            }
            opened = attributes
        } catch let error as CheckpointError {
            failure = error
        }
        // Exactly one sum on every rank, whatever failed where.
        let names = parts.flatMap { $0.sources.map(\.name) }
        let totals = try context.sumOverWorld(
            sums.count == names.count ? sums : [UInt64](repeating: 0, count: names.count))
        if let failure { throw failure }
        guard let attributes = opened else { preconditionFailure("a load without failure opened the file") }
        if attributes.tensorCheck == .partsSummedOverRanks {
            let stored = attributes.tensorChecksums
            for (name, total) in zip(names, totals) where stored[name] != String(total, radix: 16) {
                throw CheckpointError(path: path, problem: .checksumMismatch(name))
            }
        }
        if let optimizer { optimizer.stepCount = Int(attributes.optimizerStep) }
        return Loaded(
            state: try attributes.trainingState(path: path), attributesChecked: attributes.formatVersion >= 2,
            formatVersion: attributes.formatVersion, tensorCheck: attributes.tensorCheck)
    }

    /// Reads the rows `source` covers straight into its buffer.
    static func readBlock(_ file: HDF5File, _ source: TensorPart.Source, of part: TensorPart, path: String) throws {
        try read(file, source.name, block: part.block(source.rows), into: source.pointer, path: path)
    }

    /// Reads `block` of dataset `name` into `destination`; a failure names the tensor.
    static func read(
        _ file: HDF5File, _ name: String, block: HDF5Block, into destination: UnsafeMutablePointer<Float>,
        path: String
    ) throws {
        do {
            try file.read(
                name, type: .float32, block: block,
                into: UnsafeMutableRawBufferPointer(start: destination, count: block.count * 4))
        } catch {
            throw CheckpointError(path: path, problem: .unreadableTensor(name))
        }
    }

    /// Formats 1 and 2: reads each whole tensor, checks it, and keeps this rank's rows.
    static func readWholeTensors(_ file: HDF5File, into parts: [TensorPart], sums: [String: String], path: String)
        throws
    {
        for part in parts {
            let fullColumns = part.parameter.fullShape[1]
            for source in part.sources {
                let full = try readVerified(file, source.name, sums: sums, path: path)
                let block = part.block(source.rows)
                var k = 0
                for row in block.rows {
                    for column in block.columns { source.pointer[k] = full[row * fullColumns + column]; k += 1 }
                }
            }
        }
    }

    /// Checks a checkpoint without a model in memory: readable, every tensor present with
    /// the shape `model` needs and a matching checksum. Returns its state. Reads a tensor
    /// at a time (format 3: a few rows at a time).
    public static func verify(path: String, model: ModelConfig) throws -> TrainingState {
        let (file, attributes) = try openMatching(path, model: model)
        let sums = attributes.tensorChecksums
        for spec in ParameterTable(model).specs {
            for name in datasetNames(spec.name) {
                guard attributes.tensorCheck == .partsSummedOverRanks else {
                    _ = try readVerified(file, name, sums: sums, path: path)
                    continue
                }
                let columns = spec.shape[1], rowsPerRead = max(1, (1 << 20) / columns)
                var buffer = [Float](repeating: 0, count: rowsPerRead * columns)
                var total: UInt64 = 0
                for first in stride(from: 0, to: spec.shape[0], by: rowsPerRead) {
                    let block = HDF5Block(rows: first..<min(first + rowsPerRead, spec.shape[0]), columns: 0..<columns)
                    try buffer.withUnsafeMutableBufferPointer { values in
                        try read(file, name, block: block, into: values.baseAddress!, path: path)
                        total &+= checksumPart(values.baseAddress!, block: block, fullColumns: columns)
                    }
                }
                guard sums[name] == String(total, radix: 16) else {
                    throw CheckpointError(path: path, problem: .checksumMismatch(name))
                }
            }
        }
        return try attributes.trainingState(path: path)
    }

    /// The resolved config a checkpoint was trained with (YAML), as its attributes store it.
    public static func storedConfigYAML(path: String) throws -> String {
        try CheckpointAttributes(reading: try openFile(path), path: path).config
    }

    /// The HDF5 file at `path`; a missing file, a directory and a file HDF5 cannot open are
    /// each their own problem.
    static func openFile(_ path: String) throws -> HDF5File {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw CheckpointError(path: path, problem: .missing)
        }
        guard !isDirectory.boolValue else { throw CheckpointError(path: path, problem: .directory) }
        do { return try HDF5File.open(path) } catch { throw CheckpointError(path: path, problem: .unreadable) }
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
        let file = try openFile(path)
        let attributes = try CheckpointAttributes(reading: file, path: path)
        for spec in ParameterTable(model).specs {
            for name in datasetNames(spec.name) {
                guard file.contains(name) else { throw CheckpointError(path: path, problem: .missingTensor(name)) }
                let stored = try file.shape(of: name)
                guard stored == spec.shape else {
                    throw CheckpointError(
                        path: path, problem: .otherModel(tensor: name, stored: stored, needed: spec.shape))
                }
            }
        }
        let activation =
            recordedValue("model.activation", inYAML: attributes.config)
            ?? ModelConfig.Activation.gelu.rawValue
        guard activation == model.activation.rawValue else {
            throw CheckpointError(
                path: path, problem: .otherActivation(stored: activation, needed: model.activation.rawValue))
        }
        return (file, attributes)
    }

    static func readVerified(_ file: HDF5File, _ name: String, sums: [String: String], path: String) throws -> [Float]
    {
        let values: [Float]
        do { values = try file.readFloats(name) } catch {
            throw CheckpointError(path: path, problem: .unreadableTensor(name))
        }
        guard sums[name] == String(checksum(values), radix: 16) else {
            throw CheckpointError(path: path, problem: .checksumMismatch(name))
        }
        return values
    }

}
