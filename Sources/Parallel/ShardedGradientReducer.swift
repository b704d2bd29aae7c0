import Autograd

/// ZeRO-1's gradient reduction over the data-parallel group (Megatron's distributed
/// optimizer): each parameter's gradient is reduce-scattered as soon as backward has
/// finished it, so that rank r receives only the sums of the elements it owns, and after
/// the optimizer has updated those, `gatherParameters` all-gathers every rank's share.
///
/// Both collectives run in place on the parameter's own buffers (`MPI_IN_PLACE`), one
/// request per parameter: no bucket copies, so the only memory ZeRO-1 adds is none, and the
/// moments it drops are the whole saving. An owned share is one run of elements (whole
/// rows, `NamedParameter.ownedRows`), and the shares lie in rank order, as both
/// collectives expect.
public final class ShardedGradientReducer: GradientReduction {
    public let group: Communicator
    public let parameters: [Tensor]
    public var isEnabled = true
    /// `partition[i][r]`: the elements of parameter i that data-parallel rank r owns.
    public let partition: [[Range<Int>]]

    /// Per parameter, each rank's element count and offset: what both collectives take.
    private let counts: [[Int32]]
    private let offsets: [[Int32]]
    private var pending: [PendingReduction?]
    private var index: [ObjectIdentifier: Int] = [:]

    public init(parameters: [Tensor], group: Communicator, partition: [[Range<Int>]]) {
        precondition(partition.count == parameters.count && partition.allSatisfy { $0.count == group.size })
        for (shares, parameter) in zip(partition, parameters) {
            precondition(
                shares.first?.lowerBound == 0 && shares.last?.upperBound == parameter.count
                    && zip(shares, shares.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound },
                "the shares must tile the parameter in rank order")
        }
        self.parameters = parameters
        self.group = group
        self.partition = partition
        counts = partition.map { $0.map { Int32($0.count) } }
        offsets = partition.map { $0.map { Int32($0.lowerBound) } }
        pending = Array(repeating: nil, count: parameters.count)
        for (i, parameter) in parameters.enumerated() { index[ObjectIdentifier(parameter)] = i }
    }

    public func markReady(_ tensors: [Tensor]) {
        guard isEnabled, group.size > 1 else { return }
        do {
            for tensor in tensors {
                guard let i = index[ObjectIdentifier(tensor)], pending[i] == nil else { continue }
                try start(i)
            }
            for request in pending { try request?.test() }
        } catch {
            group.fail(error)
        }
    }

    /// Starts what backward did not, waits for everything, and moves each sum of this
    /// rank's share from the front of the gradient (where an in-place reduce-scatter
    /// leaves it) to the share's own place. The other elements of `grad` are stale.
    public func finish() throws {
        guard group.size > 1 else { return }
        for i in parameters.indices where pending[i] == nil { try start(i) }
        for i in parameters.indices {
            try pending[i]!.wait()
            pending[i] = nil
            let share = partition[i][group.rank]
            let gradient = parameters[i].grad.baseAddress!
            (gradient + share.lowerBound).update(from: gradient, count: share.count)  // memmove: the two may overlap
        }
    }

    public func gatherParameters() throws { try gather(\.data) }

    public func gatherGradients() throws { try gather(\.grad) }

    private func gather(_ buffer: KeyPath<Tensor, UnsafeMutableBufferPointer<Float>>) throws {
        guard group.size > 1 else { return }
        for (i, parameter) in parameters.enumerated() {
            try group.allGatherInPlace(parameter[keyPath: buffer], counts: counts[i], offsets: offsets[i])
        }
    }

    private func start(_ i: Int) throws {
        pending[i] = try group.reduceScatterStartInPlace(parameters[i].grad, counts: counts[i])
    }
}
