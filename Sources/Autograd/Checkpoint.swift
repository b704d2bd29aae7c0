/// Where a checkpoint keeps its input between forward and backward: `save` runs after the
/// forward (it may keep a part and `releaseData()` the rest), `restore` before the replay
/// (it must leave the input whole again).
public struct ActivationStash {
    public let save: (Tensor) -> Void
    public let restore: (Tensor) -> Void

    public init(save: @escaping (Tensor) -> Void, restore: @escaping (Tensor) -> Void) {
        self.save = save
        self.restore = restore
    }
}

/// Activation checkpointing (Megatron's `checkpoint`, PyTorch's `torch.utils.checkpoint`).
extension Tape {
    /// Runs `body` on `x` without keeping its intermediate activations: the forward pass
    /// records `body`'s ops on a private tape that is dropped at once, so only the output
    /// stays alive. Backward runs `body` again on a fresh private tape (same inputs, same
    /// weights, so the same values) and backpropagates through it, adding into the
    /// gradients of `x` and of every weight `body` uses. Costs one extra forward of `body`.
    ///
    /// `body` must be deterministic and must run the same collectives in the same order on
    /// every rank (it does: no dropout, and every rank recomputes the same blocks).
    ///
    /// With a `stash`, `x` itself is kept only as the stash chooses (Megatron's distributed
    /// saved activations keep 1/tp of it per rank) and is released again after the replay.
    public func checkpoint(_ x: Tensor, stash: ActivationStash? = nil, _ body: @escaping (Tape, Tensor) -> Tensor)
        -> Tensor
    {
        let forward = Tape()
        let output = body(forward, x)
        forward.clear()
        guard output.requiresGrad else { return output }
        stash?.save(x)
        record {
            stash?.restore(x)
            let replay = Tape()
            let recomputed = body(replay, x)
            recomputed.gradientDestination().put(output.gradPointer, count: output.count)
            replay.backward()
            if stash != nil { x.releaseData() }
        }
        return output
    }
}
