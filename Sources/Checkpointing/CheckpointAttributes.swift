import CM3Objective
import Foundation
import HDF5
import Yams

/// Everything a checkpoint stores besides tensors, written and read in this one place, and
/// covered (from format 2 on) by one more attribute, `attributes_checksum`, so that an edited
/// step, cursor, learning rate or config is caught like a flipped tensor bit.
struct CheckpointAttributes: Equatable {
    var formatVersion: Int64
    var step: Int64
    var tokens: Int64
    var optimizerStep: Int64
    /// The data cursor: "epoch position offset block".
    var cursor: String
    /// Sequences per optimizer step over all ranks; 0 in format 1 files.
    var globalBatch: Int64
    var seed: Int64
    var lr: Double
    /// The resolved config, as YAML.
    var config: String
    /// One line per tensor: "name hash".
    var checksums: String

    /// What the attribute checksum covers: every other attribute, the learning rate by its
    /// bits so that no formatting can change it.
    var canonicalText: String {
        [
            "format_version=\(formatVersion)", "step=\(step)", "tokens=\(tokens)", "optimizer_step=\(optimizerStep)",
            "cursor=\(cursor)", "global_batch=\(globalBatch)", "seed=\(seed)",
            "lr=\(String(lr.bitPattern, radix: 16))", "config=\(config)",
            "checksums=\(checksums)"
        ].joined(separator: "\n")
    }

    var digest: String { String(Checkpoint.checksum(bytes: Array(canonicalText.utf8)), radix: 16) }

    func write(to file: HDF5File) throws {
        try file.setAttribute("format_version", formatVersion)
        try file.setAttribute("step", step)
        try file.setAttribute("tokens", tokens)
        try file.setAttribute("optimizer_step", optimizerStep)
        try file.setAttribute("cursor", cursor)
        try file.setAttribute("global_batch", globalBatch)
        try file.setAttribute("seed", seed)
        try file.setAttribute("lr", lr)
        try file.setAttribute("config", config)
        try file.setAttribute("checksums", checksums)
        try file.setAttribute("attributes_checksum", digest)
    }

    /// Reads and, for format 2, checks them. Format 1 files predate the attribute checksum.
    init(reading file: HDF5File, path: String) throws {
        guard let version = try file.integerAttribute("format_version"), Checkpoint.readableFormats.contains(version)
        else {
            throw CheckpointError(path: path, problem: .wrongFormat(expected: Checkpoint.formatVersion))
        }
        guard let step = try file.integerAttribute("step"), let tokens = try file.integerAttribute("tokens"),
            let cursor = try file.stringAttribute("cursor")
        else {
            throw CheckpointError(path: path, problem: .missingState)
        }
        self.init(
            formatVersion: version, step: step, tokens: tokens,
            optimizerStep: try file.integerAttribute("optimizer_step") ?? 0,
            cursor: cursor, globalBatch: try file.integerAttribute("global_batch") ?? 0,
            seed: try file.integerAttribute("seed") ?? 0, lr: try file.doubleAttribute("lr") ?? 0,
            config: try file.stringAttribute("config") ?? "", checksums: try file.stringAttribute("checksums") ?? "")
        if version >= 2, try file.stringAttribute("attributes_checksum") != digest {
            throw CheckpointError(path: path, problem: .attributesChecksumMismatch)
        }
    }

    init(
        formatVersion: Int64, step: Int64, tokens: Int64, optimizerStep: Int64, cursor: String, globalBatch: Int64,
        seed: Int64,
        lr: Double, config: String, checksums: String
    ) {
        self.formatVersion = formatVersion; self.step = step; self.tokens = tokens; self.optimizerStep = optimizerStep
        self.cursor = cursor; self.globalBatch = globalBatch; self.seed = seed; self.lr = lr; self.config = config;
        self.checksums = checksums
    }

    /// The training state these attributes record.
    func trainingState(path: String) throws -> TrainingState {
        let parts = cursor.split(separator: " ").compactMap { Int($0) }
        guard parts.count == 4 else { throw CheckpointError(path: path, problem: .missingState) }
        return TrainingState(
            step: Int(step), tokens: Int(tokens),
            cursor: BlockCursor(epoch: parts[0], position: parts[1], offset: parts[2], block: parts[3]),
            globalBatch: Int(globalBatch))
    }

    /// How this file's tensor checksums are computed, and so how it is read.
    var tensorCheck: Checkpoint.TensorCheck { formatVersion >= 3 ? .partsSummedOverRanks : .wholeTensorsOnEveryRank }

    /// The `checksums` attribute of (name, hash) pairs: one `name hash` line each, in name order.
    static func checksumLines(_ sums: some Sequence<(String, UInt64)>) -> String {
        sums.sorted { $0.0 < $1.0 }.map { "\($0.0) \(String($0.1, radix: 16))" }.joined(separator: "\n")
    }

    /// The tensor checksums by name.
    var tensorChecksums: [String: String] {
        var sums: [String: String] = [:]
        for line in checksums.split(separator: "\n") {
            let parts = line.split(separator: " ")
            if parts.count == 2 { sums[String(parts[0])] = String(parts[1]) }
        }
        return sums
    }
}

extension Checkpoint {
    /// The text of the dotted key `name` (`model.activation`) in YAML this build or an
    /// earlier one wrote (a checkpoint's `config` attribute); nil when the key is absent, as
    /// in files written before it existed, or when the text is not such YAML. Reads only
    /// that key, so a file with keys this build no longer knows still answers.
    public static func recordedValue(_ name: String, inYAML text: String) -> String? {
        guard var node = try? Yams.compose(yaml: text) else { return nil }
        for part in name.split(separator: ".") {
            guard case .mapping(let mapping) = node, let child = mapping[String(part)] else { return nil }
            node = child
        }
        guard case .scalar(let scalar) = node else { return nil }
        return scalar.string
    }
}
