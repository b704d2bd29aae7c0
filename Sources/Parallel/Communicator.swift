import Autograd
import CMPI
import Foundation

/// An MPI failure, carrying MPI's own error string and the rank that saw it.
public struct MPIError: Error, CustomStringConvertible {
    public let code: Int32
    public let rank: Int
    public let operation: String

    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(tessera_mpi_max_error_string()) + 1)
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        return "rank \(rank): \(operation) failed: \(String(cString: buffer))"
    }
}

/// A thin wrapper over one MPI communicator (OpenMPI). Errors come back as `MPIError`
/// (`MPI_ERRORS_RETURN`), never abort. Collectives on floats count the bytes this rank
/// sends, by the cost of the algorithms MPI uses for large messages (ring all-reduce:
/// 2·(p−1)/p of the buffer; all-gather and reduce-scatter: (p−1)/p of the whole).
public final class Communicator: ReductionGroup {
    public let handle: MPI_Comm
    public let rank: Int
    public let size: Int
    /// Bytes this rank has sent in collectives through this communicator.
    public private(set) var bytesSent = 0

    init(handle: MPI_Comm) throws {
        self.handle = handle
        MPI_Comm_set_errhandler(handle, tessera_mpi_errors_return())
        var rank: Int32 = 0, size: Int32 = 0
        try Communicator.check(MPI_Comm_rank(handle, &rank), rank: 0, "MPI_Comm_rank")
        try Communicator.check(MPI_Comm_size(handle, &size), rank: Int(rank), "MPI_Comm_size")
        self.rank = Int(rank)
        self.size = Int(size)
    }

    /// Initialises MPI (once per process) and returns the world communicator.
    public static func world() throws -> Communicator {
        var initialized: Int32 = 0
        MPI_Initialized(&initialized)
        if initialized == 0 {
            try check(MPI_Init(nil, nil), rank: 0, "MPI_Init")
        }
        return try Communicator(handle: tessera_mpi_comm_world())
    }

    /// Whether this process was started by `mpirun` (so MPI should be initialised).
    public static var launchedByMPI: Bool { launcherRank != nil }

    /// This process's rank as `mpirun` numbered it, from the environment it sets, for the
    /// time before MPI is initialised; nil outside mpirun.
    public static var launcherRank: Int? {
        let environment = ProcessInfo.processInfo.environment
        return (environment["OMPI_COMM_WORLD_RANK"] ?? environment["PMIX_RANK"]).flatMap { Int($0) }
    }

    /// Shuts MPI down; no communicator may be used afterwards.
    public static func finalize() {
        var initialized: Int32 = 0, finalized: Int32 = 0
        MPI_Initialized(&initialized)
        MPI_Finalized(&finalized)
        if initialized != 0 && finalized == 0 { MPI_Finalize() }
    }

    /// Ends every process of the job with `code` (after a fatal error on one rank).
    public func abort(code: Int32) -> Never {
        MPI_Abort(handle, code)
        exit(code)
    }

    /// Splits into sub-communicators: ranks with the same `color` form one, ordered by `key`.
    public func split(color: Int, key: Int) throws -> Communicator {
        var newHandle: MPI_Comm? = nil
        try check(MPI_Comm_split(handle, Int32(color), Int32(key), &newHandle), "MPI_Comm_split")
        guard let newHandle else { throw MPIError(code: 0, rank: rank, operation: "MPI_Comm_split (no communicator)") }
        return try Communicator(handle: newHandle)
    }

    /// Blocks until every rank arrives.
    public func barrier() throws {
        try check(MPI_Barrier(handle), "MPI_Barrier")
    }

    /// Copies `buffer` from `root` to every rank.
    public func broadcast(_ buffer: UnsafeMutableBufferPointer<Float>, root: Int) throws {
        try check(
            MPI_Bcast(buffer.baseAddress, Int32(buffer.count), tessera_mpi_float(), Int32(root), handle), "MPI_Bcast")
        count(bytes: rank == root ? buffer.count * 4 : 0)
    }

    /// Copies raw bytes from `root` to every rank.
    public func broadcast(bytes: UnsafeMutableRawBufferPointer, root: Int) throws {
        try check(
            MPI_Bcast(bytes.baseAddress, Int32(bytes.count), tessera_mpi_byte(), Int32(root), handle), "MPI_Bcast")
        count(bytes: rank == root ? bytes.count : 0)
    }

    /// Combines `buffer` element-wise across ranks, in place.
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, operation: ReductionOperation) throws {
        guard size > 1 else { return }
        try check(
            MPI_Allreduce(
                tessera_mpi_in_place(), buffer.baseAddress, Int32(buffer.count),
                tessera_mpi_float(), operation.mpiOperation, handle), "MPI_Allreduce")
        count(bytes: 2 * (size - 1) * buffer.count * 4 / size)
    }

    /// Sums doubles across ranks, in place (loss and norm accumulators).
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Double>) throws {
        guard size > 1 else { return }
        try check(
            MPI_Allreduce(
                tessera_mpi_in_place(), buffer.baseAddress, Int32(buffer.count),
                tessera_mpi_double(), tessera_mpi_sum(), handle), "MPI_Allreduce")
        count(bytes: 2 * (size - 1) * buffer.count * 8 / size)
    }

    /// Sums 64-bit words across ranks, in place, wrapping modulo 2^64 (checkpoint checksums,
    /// whose sum over a tensor's parts is the same for every layout).
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<UInt64>) throws {
        guard size > 1 else { return }
        try check(
            MPI_Allreduce(
                tessera_mpi_in_place(), buffer.baseAddress, Int32(buffer.count),
                tessera_mpi_uint64(), tessera_mpi_sum(), handle), "MPI_Allreduce")
        count(bytes: 2 * (size - 1) * buffer.count * 8 / size)
    }

    /// `ReductionGroup` conformance for ops inside the tape: an MPI failure there has
    /// nowhere to unwind to, so it is reported (with MPI's message and the rank) and the job
    /// ends.
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReductionOperation) {
        do { try allReduce(buffer, operation: operation) } catch { fail(error) }
    }

    /// Concatenates each rank's `input` (equal counts) in rank order into `output`.
    public func allGather(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>) throws {
        precondition(output.count == input.count * size, "allGather: output must hold size × input")
        try check(
            MPI_Allgather(
                input.baseAddress, Int32(input.count), tessera_mpi_float(),
                output.baseAddress, Int32(input.count), tessera_mpi_float(), handle), "MPI_Allgather")
        count(bytes: (size - 1) * input.count * 4)
    }

    /// Every rank's `input` bytes (the same count on each), rank by rank into `output`.
    public func allGather(bytes input: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer) throws {
        precondition(output.count == input.count * size, "allGather: output must hold size × input")
        try check(
            MPI_Allgather(
                input.baseAddress, Int32(input.count), tessera_mpi_byte(),
                output.baseAddress, Int32(input.count), tessera_mpi_byte(), handle), "MPI_Allgather")
        count(bytes: (size - 1) * input.count)
    }

    /// Sums `input` across ranks and leaves rank r with block r (`output.count` floats).
    public func reduceScatter(_ input: UnsafeBufferPointer<Float>, into output: UnsafeMutableBufferPointer<Float>)
        throws
    {
        precondition(input.count == output.count * size, "reduceScatter: input must hold size × output")
        try check(
            MPI_Reduce_scatter_block(
                input.baseAddress, output.baseAddress, Int32(output.count),
                tessera_mpi_float(), tessera_mpi_sum(), handle), "MPI_Reduce_scatter_block")
        count(bytes: (size - 1) * output.count * 4)
    }

    /// Starts summing `buffer` across ranks in place and returns at once; the buffer must
    /// stay alive and untouched until the request's `wait` returns.
    public func allReduceStart(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> PendingReduction {
        var request: MPI_Request? = tessera_mpi_request_null()
        try check(
            MPI_Iallreduce(
                tessera_mpi_in_place(), buffer.baseAddress, Int32(buffer.count), tessera_mpi_float(),
                tessera_mpi_sum(), handle, &request), "MPI_Iallreduce")
        count(bytes: 2 * (size - 1) * buffer.count * 4 / size)
        return PendingReduction(request: request, communicator: self)
    }

    /// Starts summing `buffer` across ranks, in place: rank r ends with the sum of the r-th
    /// run of `counts[r]` floats at the front of `buffer` (MPI's in-place reduce-scatter);
    /// returns at once. The buffer must stay alive and untouched until the request's `wait`
    /// returns (ZeRO-1's gradient reduction).
    public func reduceScatterStartInPlace(_ buffer: UnsafeMutableBufferPointer<Float>, counts: [Int32]) throws
        -> PendingReduction
    {
        precondition(
            counts.count == size && Int(counts.reduce(0, +)) == buffer.count,
            "reduceScatterStartInPlace: counts must tile the buffer")
        var request: MPI_Request? = tessera_mpi_request_null()
        try check(
            MPI_Ireduce_scatter(
                tessera_mpi_in_place(), buffer.baseAddress, counts, tessera_mpi_float(), tessera_mpi_sum(),
                handle, &request), "MPI_Ireduce_scatter")
        count(bytes: (buffer.count - Int(counts[rank])) * 4)
        return PendingReduction(request: request, communicator: self)
    }

    /// Every rank's run of `buffer` (rank r's `counts[r]` floats at `offsets[r]`, already in
    /// place on rank r) to every rank, in place (ZeRO-1's parameter gather).
    public func allGatherInPlace(_ buffer: UnsafeMutableBufferPointer<Float>, counts: [Int32], offsets: [Int32]) throws
    {
        precondition(
            counts.count == size && offsets.count == size && Int(counts.reduce(0, +)) == buffer.count,
            "allGatherInPlace: counts must tile the buffer")
        try check(
            MPI_Allgatherv(
                tessera_mpi_in_place(), 0, tessera_mpi_float(), buffer.baseAddress, counts, offsets,
                tessera_mpi_float(), handle), "MPI_Allgatherv")
        count(bytes: (size - 1) * Int(counts[rank]) * 4)
    }

    func count(bytes: Int) {
        bytesSent += bytes
    }

    /// Zeroes the byte counter.
    public func resetCounters() {
        bytesSent = 0
    }

    /// Runs an MPI call (timed as communication for `launch bench`) and throws its error.
    func check(_ call: @autoclosure () -> Int32, _ operation: String) throws {
        try Communicator.check(StepProfile.measure(.communication, call), rank: rank, operation)
    }

    static func check(_ code: Int32, rank: Int, _ operation: String) throws {
        if code != tessera_mpi_success() { throw MPIError(code: code, rank: rank, operation: operation) }
    }

    func fail(_ error: Error) -> Never {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        abort(code: 1)
    }
}

/// A non-blocking all-reduce in flight.
public final class PendingReduction {
    private var request: MPI_Request?
    private let communicator: Communicator
    public private(set) var isComplete = false

    init(request: MPI_Request?, communicator: Communicator) {
        self.request = request
        self.communicator = communicator
    }

    /// Lets MPI progress the reduction; returns whether it has finished.
    @discardableResult
    public func test() throws -> Bool {
        guard !isComplete else { return true }
        var flag: Int32 = 0
        try communicator.check(MPI_Test(&request, &flag, tessera_mpi_status_ignore()), "MPI_Test")
        isComplete = flag != 0
        return isComplete
    }

    /// Blocks until the reduction has finished.
    public func wait() throws {
        guard !isComplete else { return }
        try communicator.check(MPI_Wait(&request, tessera_mpi_status_ignore()), "MPI_Wait")
        isComplete = true
    }
}

extension ReductionOperation {
    var mpiOperation: MPI_Op {
        switch self {
        case .sum: tessera_mpi_sum()
        case .max: tessera_mpi_max()
        }
    }
}
