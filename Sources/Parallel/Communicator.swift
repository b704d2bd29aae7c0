import CMPI

/// An MPI failure, carrying MPI's own error string and the rank that saw it.
public struct MPIError: Error, CustomStringConvertible {
    public let code: Int32
    public let rank: Int
    public let operation: String
    public var description: String {
        var buffer = [CChar](repeating: 0, count: Int(tessera_mpi_max_error_string()))
        var length: Int32 = 0
        MPI_Error_string(code, &buffer, &length)
        return "rank \(rank): \(operation) failed: \(String(cString: buffer))"
    }
}

/// A thin wrapper over one MPI communicator. Errors come back as `MPIError`, never abort.
public final class Communicator {
    public let handle: MPI_Comm
    public let rank: Int
    public let size: Int

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

    /// Shuts MPI down; no communicator may be used afterwards.
    public static func finalize() {
        var finalized: Int32 = 0
        MPI_Finalized(&finalized)
        if finalized == 0 { MPI_Finalize() }
    }

    /// Sums `buffer` over all ranks, in place.
    public func allReduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        try check(MPI_Allreduce(tessera_mpi_in_place(), buffer.baseAddress, Int32(buffer.count),
                                tessera_mpi_float(), tessera_mpi_sum(), handle), "MPI_Allreduce")
    }

    /// Blocks until every rank arrives.
    public func barrier() throws {
        try check(MPI_Barrier(handle), "MPI_Barrier")
    }

    func check(_ code: Int32, _ operation: String) throws {
        try Communicator.check(code, rank: rank, operation)
    }

    static func check(_ code: Int32, rank: Int, _ operation: String) throws {
        if code != tessera_mpi_success() { throw MPIError(code: code, rank: rank, operation: operation) }
    }
}
