import CM3Objective
import Diagnostics
import Foundation
import Storage
import HDF5

extension Checkpoint {
    /// 64-bit hash of the values' bytes (FNV-1a over 8-byte words, then mixed).
    public static func checksum(_ values: [Float]) -> UInt64 {
        values.withUnsafeBytes { checksum(bytes: $0) }
    }

    /// 64-bit hash of `bytes`, as for tensors.
    public static func checksum(bytes: [UInt8]) -> UInt64 {
        bytes.withUnsafeBytes { checksum(bytes: $0) }
    }

    static func checksum(bytes raw: UnsafeRawBufferPointer) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        let words = raw.count / 8
        for i in 0..<words {
            hash = (hash ^ raw.loadUnaligned(fromByteOffset: i * 8, as: UInt64.self)) &* 0x100_0000_01b3
        }
        for i in (words * 8)..<raw.count { hash = (hash ^ UInt64(raw[i])) &* 0x100_0000_01b3 }
        return hash ^ (hash >> 29)
    }

    /// Format 3's checksum part of `block` of a tensor with `fullColumns` columns, whose
    /// `block.count` values lie at `values`: Σ mix(flat index, bits) modulo 2^64. A sum of
    /// per-element terms does not depend on how the tensor is cut, so each rank adds up its
    /// own part and the parts of any layout add up to the same value; the index in each
    /// term catches values that moved.
    static func checksumPart(_ values: UnsafePointer<Float>, block: HDF5Block, fullColumns: Int) -> UInt64 {
        var sum: UInt64 = 0, k = 0
        for row in block.rows {
            let rowStart = UInt64(row * fullColumns)
            for column in block.columns {
                // splitmix64's finaliser over the index's odd multiple and the value's bits.
                var x = (rowStart + UInt64(column)) &* 0x9e37_79b9_7f4a_7c15 ^ UInt64(values[k].bitPattern)
                x = (x ^ (x >> 30)) &* 0xbf58_476d_1ce4_e5b9
                x = (x ^ (x >> 27)) &* 0x94d0_49bb_1331_11eb
                sum &+= x ^ (x >> 31)
                k += 1
            }
        }
        return sum
    }

    /// Why `needed` bytes do not fit beside `path` (free space for unprivileged users, as
    /// statvfs reports it), or nil when they do or it cannot tell.
    static func freeSpaceShortage(for path: String, needed: Int) -> String? {
        var info = statvfs()
        guard statvfs((path as NSString).deletingLastPathComponent, &info) == 0 else { return nil }
        let free = Int(info.f_bavail) * Int(info.f_frsize)
        guard free < needed else { return nil }
        let mib = { (bytes: Int) in String(format: "%.1f MiB", Double(bytes) / 1_048_576) }
        return "it needs \(mib(needed)) and its file system has \(mib(free)) free"
    }

    /// fsyncs this rank's writes of `temporary` (`DurableFile.sync`), as a checkpoint error.
    static func sync(_ temporary: String, for path: String) throws {
        do { try DurableFile.sync(temporary, for: path) } catch let failure as DurableFile.Failure {
            throw CheckpointError(path: path, problem: .notSynced(failure.reason))
        }
    }

    /// Moves the synced file into place (`DurableFile.moveIntoPlace`), as a checkpoint error.
    static func moveIntoPlace(_ temporary: String, _ path: String) throws {
        do { try DurableFile.moveIntoPlace(temporary, path) } catch let failure as DurableFile.Failure {
            throw CheckpointError(path: path, problem: .notSynced(failure.reason))
        }
    }
}

extension Checkpoint.Transfer {
    /// `2.1 s; rank 0 wrote 1.20 GiB, all ranks 9.40 GiB; 0.00 MiB allocated on rank 0`
    public func summary(verb: String) -> String {
        String(format: "%.1f s; ", seconds)
            + "rank 0 \(verb) \(Self.size(Double(bytes))), all ranks \(Self.size(bytesOverRanks)); "
            + "\(Self.size(Double(allocatedBytes))) allocated on rank 0"
    }

    /// MiB below a GiB, GiB above, two decimals.
    static func size(_ bytes: Double) -> String {
        bytes < 1_073_741_824
            ? String(format: "%.2f MiB", bytes / 1_048_576) : String(format: "%.2f GiB", bytes / 1_073_741_824)
    }
}

/// A checkpoint that cannot be used, or could not be written.
public struct CheckpointError: ReportableError {
    public enum Problem: Equatable, Sendable {
        /// No file at the path.
        case missing
        /// The path names a directory, not a checkpoint file.
        case directory
        /// Truncated, or not HDF5.
        case unreadable
        case wrongFormat(expected: Int64)
        case missingTensor(String)
        /// A tensor of another shape: the file belongs to another model.
        case otherModel(tensor: String, stored: [Int], needed: [Int])
        /// Trained with another MLP activation (`model.activation`): also another model.
        case otherActivation(stored: String, needed: String)
        case unreadableTensor(String)
        case checksumMismatch(String)
        /// A step, cursor, lr, config or other attribute was changed after writing.
        case attributesChecksumMismatch
        case missingState
        /// Writing failed (a full disk, a quota): the partial file was removed.
        case unwritable(String)
        /// Written, but it could not be made durable under its final name.
        case notSynced(String)
        /// This rank loaded another step than rank 0 did: the file changed while they read it.
        case stepMismatch(loaded: Int, leader: Int)
    }

    public let path: String
    public let problem: Problem

    public init(path: String, problem: Problem) {
        self.path = path; self.problem = problem
    }

    /// Damaged files are skipped in favour of an older checkpoint; the others stop the run.
    public var isCorrupt: Bool {
        switch problem {
        case .unreadable, .wrongFormat, .missingTensor, .unreadableTensor, .checksumMismatch,
            .attributesChecksumMismatch, .missingState:
            true
        case .missing, .directory, .otherModel, .otherActivation, .unwritable, .notSynced, .stepMismatch: false
        }
    }

    public var description: String {
        let message =
            switch problem {
            case .missing: "does not exist"
            case .directory: "is a directory, not a checkpoint file"
            case .unreadable: "cannot be read (truncated or not HDF5)"
            case .wrongFormat(let expected): "has no readable format_version (this build reads 1 to \(expected))"
            case .missingTensor(let name): "lacks tensor '\(name)'"
            case .otherModel(let name, let stored, let needed):
                "holds another model: \(name) is \(stored), this config needs \(needed)"
            case .otherActivation(let stored, let needed):
                "holds another model: model.activation is \(stored), this config needs \(needed)"
            case .unreadableTensor(let name): "tensor '\(name)' cannot be read"
            case .checksumMismatch(let name): "tensor '\(name)' fails its checksum"
            case .attributesChecksumMismatch: "attributes (step, cursor, lr, config, …) fail their checksum"
            case .missingState: "lacks its training state"
            case .unwritable(let reason): "could not be written: \(reason)"
            case .notSynced(let reason): reason
            case .stepMismatch(let loaded, let leader): "gave step \(loaded) on this rank but step \(leader) on rank 0"
            }
        return "checkpoint \(path) \(message)"
    }
}
