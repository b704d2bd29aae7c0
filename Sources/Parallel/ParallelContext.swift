import Autograd
import Foundation

/// Where this process sits in the run: one process without MPI, or a rank of a tp × dp grid.
public final class ParallelContext {
    /// The MPI grid; nil for a single process that never initialises MPI.
    public let grid: ProcessGrid?

    public var tp: Int { grid?.tp ?? 1 }
    public var dp: Int { grid?.dp ?? 1 }
    public var tpRank: Int { grid?.tpRank ?? 0 }
    public var dpRank: Int { grid?.dpRank ?? 0 }
    public var worldRank: Int { grid?.world.rank ?? 0 }
    public var worldSize: Int { grid?.world.size ?? 1 }
    /// Rank 0 prints progress and writes files.
    public var isLeader: Bool { worldRank == 0 }
    /// The group the model's tensors are split over.
    public var tensorParallel: ReductionGroup { grid?.tensorParallel ?? LocalGroup.shared }

    private init(grid: ProcessGrid?) { self.grid = grid }

    /// One process, no MPI.
    public static func single() -> ParallelContext { ParallelContext(grid: nil) }

    /// Joins the MPI job and splits it into tp × dp after `validate(worldSize)` accepts the
    /// layout. Every rank throws the same `LayoutError` for a bad layout.
    public static func mpi(tp: Int, validate: (_ worldSize: Int) throws -> Void) throws -> ParallelContext {
        let world = try Communicator.world()
        do {
            try validate(world.size)
        } catch var error as LayoutError {
            error.rank = world.rank
            throw error
        }
        return ParallelContext(grid: try ProcessGrid(world: world, tp: tp))
    }

    /// Σ over the data-parallel group (identity for one replica).
    public func sumOverDataParallel(_ value: Double) throws -> Double {
        guard let grid, grid.dp > 1 else { return value }
        var buffer = [value]
        try buffer.withUnsafeMutableBufferPointer { try grid.dataParallel.allReduce($0) }
        return buffer[0]
    }

    /// The largest of `value` over all ranks (e.g. "has any rank been asked to stop?").
    public func maxOverWorld(_ value: Int) throws -> Int {
        guard let grid, grid.world.size > 1 else { return value }
        var buffer = [Float(value)]
        try buffer.withUnsafeMutableBufferPointer { try grid.world.allReduce($0, operation: .max) }
        return Int(buffer[0])
    }

    /// Rank 0's `value` on every rank.
    public func broadcastFromLeader(_ value: Int) throws -> Int {
        guard let grid, grid.world.size > 1 else { return value }
        var buffer = Int64(value)
        try withUnsafeMutableBytes(of: &buffer) { try grid.world.broadcast(bytes: $0, root: 0) }
        return Int(buffer)
    }

    /// Rank 0's `text` on every rank (its length first, then its UTF-8 bytes).
    public func broadcastFromLeader(_ text: String) throws -> String {
        guard let grid, grid.world.size > 1 else { return text }
        var bytes = Array(text.utf8)
        let count = try broadcastFromLeader(bytes.count)
        bytes = isLeader ? bytes : [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try grid.world.broadcast(bytes: $0, root: 0) }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Every rank's `text`, in rank order, on every rank (padded to the longest with zero
    /// bytes, which UTF-8 text never holds, for one fixed-size all-gather).
    public func allGather(_ text: String) throws -> [String] {
        guard let grid, grid.world.size > 1 else { return [text] }
        let width = try maxOverWorld(text.utf8.count)
        let input = Array(text.utf8) + [UInt8](repeating: 0, count: width - text.utf8.count)
        var output = [UInt8](repeating: 0, count: width * grid.world.size)
        try input.withUnsafeBytes { input in
            try output.withUnsafeMutableBytes { try grid.world.allGather(bytes: input, into: $0) }
        }
        return (0..<grid.world.size).map { rank in
            String(decoding: output[(rank * width)..<((rank + 1) * width)].prefix { $0 != 0 }, as: UTF8.self)
        }
    }

    /// Σ over the tensor-parallel group (identity for one rank).
    public func sumOverTensorParallel(_ value: Double) throws -> Double {
        guard let grid, grid.tp > 1 else { return value }
        var buffer = [value]
        try buffer.withUnsafeMutableBufferPointer { try grid.tensorParallel.allReduce($0) }
        return buffer[0]
    }

    /// Σ over every rank (identity for one process).
    public func sumOverWorld(_ value: Double) throws -> Double {
        guard let grid, grid.world.size > 1 else { return value }
        var buffer = [value]
        try buffer.withUnsafeMutableBufferPointer { try grid.world.allReduce($0) }
        return buffer[0]
    }

    /// Σ over every rank, modulo 2^64, element by element (identity for one process).
    public func sumOverWorld(_ values: [UInt64]) throws -> [UInt64] {
        guard let grid, grid.world.size > 1 else { return values }
        var buffer = values
        try buffer.withUnsafeMutableBufferPointer { try grid.world.allReduce($0) }
        return buffer
    }

    /// Waits for every rank.
    public func barrier() throws {
        try grid?.world.barrier()
    }

    /// The world's `MPI_Comm`, for libraries that take one (parallel HDF5); nil without MPI.
    public var worldCommunicator: OpaquePointer? { grid?.world.handle }

    /// Bytes this rank sent in collectives: tensor-parallel and data-parallel.
    public var bytesSent: (tensorParallel: Int, dataParallel: Int) { grid?.bytesSent ?? (0, 0) }

    public func resetCounters() { grid?.resetCounters() }

    /// Ends MPI (if it was started).
    public func finish() {
        if grid != nil { Communicator.finalize() }
    }

    /// Ends MPI after a failure before a context existed (every rank fails alike).
    public static func finishAfterFailure() {
        Communicator.finalize()
    }
}
