import Autograd

/// How a training step sums gradients over the data-parallel group: all-reduced buckets
/// (`DataParallelReducer`), or ZeRO-1's reduce-scattered shares (`ShardedGradientReducer`).
public protocol GradientReduction: AnyObject {
    /// When false, `markReady` does nothing (earlier micro-batches of an accumulated step).
    var isEnabled: Bool { get set }
    /// Declares these parameters' gradients final for this step, starting their reduction.
    func markReady(_ tensors: [Tensor])
    /// Finishes every reduction: the summed gradients (or this rank's share) are in `grad`.
    func finish() throws
    /// After the optimizer: every rank's updated parameters to every rank (ZeRO-1).
    func gatherParameters() throws
    /// Every rank's summed gradients to every rank, for code that must see whole gradients.
    func gatherGradients() throws
}

/// Sums gradients over the data-parallel group in buckets, started (non-blocking) as soon
/// as backward has finished every gradient in a bucket, as PyTorch DDP and Megatron's
/// distributed optimizer do, so communication overlaps the rest of backward.
///
/// Buckets hold consecutive parameters in reverse order (backward finishes the last layer
/// first) up to `bucketBytes`. The model calls `markReady` as each group of parameters
/// becomes final; `finish` starts what is left, waits for everything and writes the sums
/// back. With gradient accumulation, only the last micro-batch's backward is `enabled`, so
/// the reduction happens once per step.
public final class DataParallelReducer: GradientReduction {
    public let group: Communicator
    public let parameters: [Tensor]
    /// When false, `markReady` does nothing (earlier micro-batches of an accumulated step).
    public var isEnabled = true

    private struct Bucket {
        var members: [Int]  // indices into `parameters`
        var buffer: UnsafeMutableBufferPointer<Float>
        var ready = 0
        var pending: PendingReduction?
    }
    private var buckets: [Bucket] = []
    private var bucketOf: [ObjectIdentifier: Int] = [:]

    public init(parameters: [Tensor], group: Communicator, bucketBytes: Int = 25 << 20) {
        self.parameters = parameters
        self.group = group
        var current: [Int] = [], bytes = 0
        func close() {
            guard !current.isEmpty else { return }
            let count = current.reduce(0) { $0 + parameters[$1].count }
            buckets.append(Bucket(members: current, buffer: .allocate(capacity: count)))
            for member in current { bucketOf[ObjectIdentifier(parameters[member])] = buckets.count - 1 }
            current = []
            bytes = 0
        }
        for index in parameters.indices.reversed() {
            current.append(index)
            bytes += parameters[index].count * 4
            if bytes >= bucketBytes { close() }
        }
        close()
    }

    deinit { for bucket in buckets { bucket.buffer.deallocate() } }

    /// Number of buckets (for tests and logs).
    public var bucketCount: Int { buckets.count }

    /// Declares these parameters' gradients final for this step; starts the reduction of
    /// every bucket that is now complete, and lets MPI progress the ones in flight.
    public func markReady(_ tensors: [Tensor]) {
        guard isEnabled, group.size > 1 else { return }
        do {
            for tensor in tensors {
                guard let index = bucketOf[ObjectIdentifier(tensor)] else { continue }
                buckets[index].ready += 1
                if buckets[index].ready == buckets[index].members.count { try start(index) }
            }
            for bucket in buckets { try bucket.pending?.test() }
        } catch {
            group.fail(error)
        }
    }

    /// Starts any bucket not yet started, waits for all, and writes the summed gradients back
    /// into each parameter's `grad`. Resets for the next step.
    public func finish() throws {
        guard group.size > 1 else { return }
        for index in buckets.indices where buckets[index].pending == nil { try start(index) }
        for index in buckets.indices {
            try buckets[index].pending!.wait()
            var offset = 0
            for member in buckets[index].members {
                let parameter = parameters[member]
                _ = parameter.grad.update(
                    fromContentsOf: UnsafeMutableBufferPointer(
                        rebasing: buckets[index].buffer[offset..<(offset + parameter.count)]))
                offset += parameter.count
            }
            buckets[index].pending = nil
            buckets[index].ready = 0
        }
    }

    /// Every rank already holds every updated parameter.
    public func gatherParameters() throws {}

    /// Every rank already holds the whole summed gradients.
    public func gatherGradients() throws {}

    private func start(_ index: Int) throws {
        var offset = 0
        for member in buckets[index].members {
            let parameter = parameters[member]
            _ = UnsafeMutableBufferPointer(rebasing: buckets[index].buffer[offset..<(offset + parameter.count)])
                .update(fromContentsOf: parameter.grad)
            offset += parameter.count
        }
        buckets[index].pending = try group.allReduceStart(buckets[index].buffer)
    }
}
