import Autograd
import CM3Objective
import Diagnostics
import Foundation
import HDF5
import Model
import Optim
import Parallel
import Storage

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
/// resolved config as attributes. Every rank writes its own block of each dataset into the
/// one file (parallel HDF5 over MPI-IO) and reads only its own part back, so no rank ever
/// holds more than its shard. Written to a temporary name, fsynced and renamed, so a file
/// under its final name is always complete.
public enum Checkpoint {
    /// The format written: 2 adds `attributes_checksum`; 3 makes each tensor checksum the
    /// layout-independent sum of `checksumPart`. Formats 1 and 2 still load.
    public static let formatVersion: Int64 = 3
    static let readableFormats: ClosedRange<Int64> = 1...3

    /// How a loaded checkpoint's tensors were checked.
    public enum TensorCheck: Sendable {
        /// Format 3: each rank read and hashed its own block; the parts summed over the ranks.
        case partsSummedOverRanks
        /// Formats 1 and 2: every rank read each whole tensor and hashed it.
        case wholeTensorsOnEveryRank
    }

    /// What one save or load moved: rank 0's bytes and every rank's, the wall time, and
    /// the most buffer-pool memory it allocated on this rank beyond what it started with.
    public struct Transfer: Sendable {
        public var seconds = 0.0
        /// Bytes this rank read (load) or wrote (save), from `/proc/self/io`.
        public var bytes = 0
        /// The same summed over every rank.
        public var bytesOverRanks = 0.0
        public var allocatedBytes = 0

        public init(seconds: Double = 0, bytes: Int = 0, bytesOverRanks: Double = 0, allocatedBytes: Int = 0) {
            self.seconds = seconds; self.bytes = bytes; self.bytesOverRanks = bytesOverRanks;
            self.allocatedBytes = allocatedBytes
        }

        /// Measures `body` on every rank of `context`. The sum over ranks is collective, so
        /// it runs even when `body` threw on this rank (and the error is rethrown after it).
        static func measure(_ context: ParallelContext, _ body: () throws -> Void) throws -> Transfer {
            let started = Date(), before = ProcessIO.current(), pool = BufferPool.shared
            pool.resetPeak()
            let live = pool.liveBytes
            var failure: (any Error)?
            do { try body() } catch { failure = error }
            let after = ProcessIO.current()
            var transfer = Transfer(
                seconds: Date().timeIntervalSince(started), allocatedBytes: pool.peakLiveBytes - live)
            let read = after.bytesRead - before.bytesRead, written = after.bytesWritten - before.bytesWritten
            transfer.bytes = max(read, written)
            transfer.bytesOverRanks = try context.sumOverWorld(Double(transfer.bytes))
            if let failure { throw failure }
            return transfer
        }
    }

    /// A checkpoint read into a model.
    public struct Loaded: Sendable {
        public let state: TrainingState
        /// False for format 1 files, whose step, cursor, lr and config carry no checksum.
        public let attributesChecked: Bool
        public let formatVersion: Int64
        public let tensorCheck: TensorCheck
        /// What this load read (set by `load`).
        public internal(set) var transfer = Transfer()
    }

    /// The datasets a checkpoint holds for the parameter `name`: its values, then AdamW's
    /// two moments, all of the parameter's shape.
    static func datasetNames(_ name: String) -> [String] {
        [name, "optimizer/exp_avg/\(name)", "optimizer/exp_avg_sq/\(name)"]
    }

    /// Writes `parameters`, `optimizer`'s moments, `state`, `lr`, `seed` and the resolved
    /// `config` (YAML) to `path`
    /// atomically. Every rank calls it: each writes the rows it owns of each tensor
    /// (`TensorPart`) straight from its own buffers, so a save allocates nothing of the
    /// model's size. The step, cursor and other attributes are rank 0's.
    @discardableResult
    public static func save(
        path: String, parameters: [NamedParameter], optimizer: AdamW, state: TrainingState,
        lr: Double, config: String, seed: Int, context: ParallelContext
    ) throws -> Transfer {
        try Transfer.measure(context) {
            try write(
                path: path, parameters: parameters, optimizer: optimizer, state: state, lr: lr, config: config,
                seed: seed, context: context)
        }
    }

    private static func write(
        path: String, parameters: [NamedParameter], optimizer: AdamW, state: TrainingState,
        lr: Double, config: String, seed: Int, context: ParallelContext
    ) throws {
        // One file for every rank: rank 0's run directory names it, as it names the checkpoints to load.
        let path = try context.broadcastFromLeader(path)
        let temporary = DurableFile.temporaryPath(for: path)
        let parts = parameters.map { TensorPart($0, optimizer: optimizer, context: context) }
        let cursor = try context.broadcastFromLeader(
            "\(state.cursor.epoch) \(state.cursor.position) \(state.cursor.offset) \(state.cursor.block)")
        // A full disk is refused before HDF5 starts: a write that fails inside a collective
        // close can leave the ranks waiting on each other (measured on a full tmpfs).
        let needed = parts.reduce(1 << 20) { $0 + $1.sources.count * $1.parameter.spec.count * 4 }
        let shortage = context.isLeader ? freeSpaceShortage(for: temporary, needed: needed) : nil
        guard try context.maxOverWorld(shortage == nil ? 0 : 1) == 0 else {
            throw CheckpointError(path: path, problem: .unwritable(shortage ?? "rank 0 found too little free space"))
        }
        var failure: (any Error)?
        var file: HDF5File?
        do { file = try HDF5File.create(temporary, communicator: context.worldCommunicator) } catch { failure = error }
        if try context.maxOverWorld(failure == nil ? 0 : 1) == 0, let file {
            do {
                let written = try writeOwnedRows(of: parts, to: file, context: context)
                failure = written.failure
                let totals = try context.sumOverWorld(written.sums)
                try CheckpointAttributes(
                    formatVersion: formatVersion, step: Int64(state.step), tokens: Int64(state.tokens),
                    optimizerStep: Int64(optimizer.stepCount), cursor: cursor, globalBatch: Int64(state.globalBatch),
                    seed: Int64(seed), lr: lr, config: config,
                    checksums: CheckpointAttributes.checksumLines(
                        zip(parts.flatMap { $0.sources.map(\.name) }, totals))
                ).write(to: file)
            } catch { failure = failure ?? error }
            do { try file.close() } catch { failure = failure ?? error }
            if failure == nil { do { try sync(temporary, for: path) } catch { failure = error } }
        }
        // Out of disk or quota on any rank: leave no partial file behind; earlier checkpoints stay.
        guard try context.maxOverWorld(failure == nil ? 0 : 1) == 0 else {
            if context.isLeader { try? FileManager.default.removeItem(atPath: temporary) }
            throw CheckpointError(
                path: path, problem: .unwritable(failure.map { "\($0)" } ?? "another rank's write failed"))
        }
        // Every rank synced its own writes above.
        if context.isLeader { try moveIntoPlace(temporary, path) }
    }

    /// Creates every dataset together with the other ranks and writes this rank's owned
    /// rows of each. Returns each dataset's checksum part, in `parts` order, and the first
    /// write that failed here: the collective calls go on after it, so no rank waits on
    /// this one, and the ranks agree on the failure afterwards.
    private static func writeOwnedRows(
        of parts: [TensorPart], to file: HDF5File,
        context: ParallelContext
    ) throws -> (sums: [UInt64], failure: (any Error)?) {
        // Test hook: die by SIGKILL half-way through writing, as a crash or OOM kill would.
        let crashAfter =
            ProcessInfo.processInfo.environment["TESSERA_TEST_KILL_DURING_SAVE"] != nil && context.isLeader
            ? parts.count * 3 / 2 : nil
        var sums: [UInt64] = [], failure: (any Error)?
        for part in parts {
            for source in part.sources {
                if sums.count == crashAfter { if context.worldSize == 1 { try file.flush() }; kill(getpid(), SIGKILL) }
                try file.createDataset(source.name, type: .float32, shape: part.parameter.fullShape)
                if failure == nil && !part.owned.isEmpty {
                    do {
                        try file.write(
                            source.name, type: .float32, block: part.block(part.owned),
                            data: part.pointer(source, row: part.owned.lowerBound))
                    } catch { failure = error }
                }
                sums.append(part.ownedChecksum(source))
            }
        }
        return (sums, failure)
    }
}
