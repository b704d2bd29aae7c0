import Autograd

/// Megatron's differentiable collectives (`tensor_parallel/mappings.py`). Each is a tape op
/// whose forward and backward are a pair of communication patterns over the tensor-parallel
/// group. With a group of one they are the identity and cost nothing.
extension Tape {
    /// f — forward: identity; backward: all-reduce (sum) of the gradient. Goes before
    /// column-parallel layers, whose shards each see the whole input and return a part of
    /// its gradient.
    ///
    /// Returns `x` itself (no copy, as Megatron's f): its backward step sums `x.grad` over
    /// the group, so `x` must be used only through the result, by ops recorded after this
    /// call (a LayerNorm output feeding q/k/v or fc1, the final hidden state feeding the LM
    /// head).
    public func copyToTensorParallel(_ x: Tensor, group: ReductionGroup) -> Tensor {
        guard group.size > 1, tracks(x) else { return x }
        record { group.allReduce(x.grad, .sum) }
        return x
    }

    /// g — forward: all-reduce (sum); backward: identity. Goes after row-parallel layers,
    /// whose shards each produce a partial sum of the output.
    ///
    /// Sums `x` in place and returns it (as Megatron's g): `x` must be a partial result used
    /// by nothing else (a row-parallel linear's or a vocab-parallel lookup's output). The
    /// backward is the identity, so it records nothing.
    public func reduceFromTensorParallel(_ x: Tensor, group: ReductionGroup) -> Tensor {
        guard group.size > 1 else { return x }
        group.allReduce(x.data, .sum)
        return x
    }

    /// Forward: all-gather along the last dimension (`[rows, c]` → `[rows, c·p]`, rank r's
    /// columns at `r·c`); backward: keep this rank's columns of the gradient.
    public func gatherFromTensorParallel(_ x: Tensor, group: Communicator) -> Tensor {
        guard group.size > 1 else { return x }
        let columns = x.lastDimension, rows = x.rows, parts = group.size
        let y = Tensor(shape: Array(x.shape.dropLast()) + [columns * parts], requiresGrad: tracks(x))
        let gathered = BufferPool.shared.allocate(x.count * parts)  // [parts, rows, columns]
        defer { BufferPool.shared.release(gathered) }
        do { try group.allGather(UnsafeBufferPointer(x.data), into: gathered) } catch { group.fail(error) }
        for part in 0..<parts {
            for r in 0..<rows {
                (y.pointer + r * columns * parts + part * columns)
                    .update(from: gathered.pointer(at: (part * rows + r) * columns), count: columns)
            }
        }
        guard y.requiresGrad else { return y }
        let rank = group.rank
        record {
            let dy = y.gradPointer, dx = x.gradPointer
            for r in 0..<rows {
                saxpy(count: columns, alpha: 1, x: dy + r * columns * parts + rank * columns, y: dx + r * columns)
            }
        }
        return y
    }

    /// Forward: keep this rank's block of the last dimension (`[rows, C]` → `[rows, C/p]`);
    /// backward: all-gather the gradient blocks back into place.
    public func scatterToTensorParallel(_ x: Tensor, group: Communicator) -> Tensor {
        guard group.size > 1 else { return x }
        let parts = group.size, full = x.lastDimension, rows = x.rows
        precondition(full % parts == 0, "scatter: last dimension \(full) not divisible by \(parts)")
        let columns = full / parts, rank = group.rank
        let y = Tensor(shape: Array(x.shape.dropLast()) + [columns], requiresGrad: tracks(x))
        for r in 0..<rows {
            (y.pointer + r * columns).update(from: x.pointer + r * full + rank * columns, count: columns)
        }
        guard y.requiresGrad else { return y }
        record {
            let gathered = BufferPool.shared.allocate(x.count)  // [parts, rows, columns]
            defer { BufferPool.shared.release(gathered) }
            do { try group.allGather(UnsafeBufferPointer(y.grad), into: gathered) } catch { group.fail(error) }
            let dx = x.gradPointer
            for part in 0..<parts {
                for r in 0..<rows {
                    saxpy(
                        count: columns, alpha: 1, x: gathered.pointer(at: (part * rows + r) * columns),
                        y: dx + r * full + part * columns)
                }
            }
        }
        return y
    }
}

extension UnsafeMutableBufferPointer where Element == Float {
    func pointer(at offset: Int) -> UnsafeMutablePointer<Float> { baseAddress! + offset }
}
