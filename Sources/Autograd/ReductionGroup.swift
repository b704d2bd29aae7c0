/// How values combine across the members of a group.
public enum ReductionOperation: Sendable {
    case sum, max
}

/// A set of processes that can combine buffers element-wise, all of them receiving the
/// result. Ops that span ranks (the vocab-parallel loss) take one, so Autograd needs no
/// MPI: `Parallel.Communicator` conforms, and one process is a `LocalGroup`.
public protocol ReductionGroup: AnyObject {
    /// This process's index in the group.
    var rank: Int { get }
    /// Members in the group.
    var size: Int { get }
    /// Combines `buffer` across the group in place. A failure here is fatal: the ops that
    /// call it run inside forward and backward passes, where there is nothing to unwind to.
    func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReductionOperation)
}

/// The group of one process: every reduction is the identity.
public final class LocalGroup: ReductionGroup {
    public static let shared = LocalGroup()
    public let rank = 0
    public let size = 1
    public init() {}
    public func allReduce(_ buffer: UnsafeMutableBufferPointer<Float>, _ operation: ReductionOperation) {}
}
