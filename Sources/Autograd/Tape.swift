/// The reverse-mode tape: each op appends its backward step as it runs forward, and
/// `backward` replays them newest first.
///
/// Steps are dropped as soon as they have run, which releases the activations they
/// captured: peak memory during backward falls as the pass proceeds, as in PyTorch.
public final class Tape {
    private var steps: [() -> Void] = []

    public init() {}

    /// Number of recorded backward steps.
    public var count: Int { steps.count }

    /// Appends a backward step. Ops call this; users do not.
    public func record(_ step: @escaping () -> Void) {
        steps.append(step)
    }

    /// Seeds `loss.grad` with `seed` (a scalar loss) and runs every recorded step in reverse.
    /// The tape is empty afterwards.
    public func backward(from loss: Tensor, seed: Float = 1) {
        precondition(loss.count == 1, "backward starts from a scalar, got shape \(loss.shape)")
        loss.grad[0] += seed
        backward()
    }

    /// Runs every recorded step in reverse, from gradients the caller has already placed in
    /// the outputs' `grad` (a vector-Jacobian product). The tape is empty afterwards.
    public func backward() {
        while let step = steps.popLast() {
            step()
        }
    }

    /// Drops every recorded step without running it (e.g. after an evaluation forward).
    public func clear() {
        steps.removeAll()
    }
}
