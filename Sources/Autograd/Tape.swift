/// The reverse-mode tape: each op appends its backward step as it runs forward, and
/// `backward` replays them newest first.
///
/// Steps are dropped as soon as they have run, which releases the activations they
/// captured: peak memory during backward falls as the pass proceeds, as in PyTorch.
public final class Tape {
    private var steps: [() -> Void] = []
    /// Whether ops record backward steps. A tape that does not (PyTorch's `no_grad`) keeps
    /// no activations alive: each is freed as soon as the next op has used it.
    public let isRecording: Bool

    /// A recording tape, or with `recording: false` one for inference and validation.
    public init(recording: Bool = true) { isRecording = recording }

    /// Whether an op's output needs a gradient: the tape records and some input needs one.
    public func tracks(_ inputs: Tensor...) -> Bool {
        isRecording && inputs.contains { $0.requiresGrad }
    }

    /// Number of recorded backward steps.
    public var count: Int { steps.count }

    /// Appends a backward step. Ops call this; users do not.
    public func record(_ step: @escaping () -> Void) {
        if isRecording { steps.append(step) }
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
