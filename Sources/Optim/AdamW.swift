import Autograd
import Foundation

/// AdamW hyper-parameters (defaults: metaseq's OPT launcher, which trained CM3Leon).
public struct AdamWSettings: Equatable, Sendable {
    public var beta1: Float
    public var beta2: Float
    public var eps: Float
    public var weightDecay: Float

    public init(beta1: Float = 0.9, beta2: Float = 0.95, eps: Float = 1e-8, weightDecay: Float = 0.1) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }
}

/// AdamW with decoupled weight decay, the update of PyTorch's `torch.optim.AdamW`:
/// `p ← p·(1 − lr·wd) − lr · m̂ / (√v̂ + eps)` with bias-corrected moments. Its state is
/// keyed by parameter name, as checkpoints store it (`optimizer/exp_avg/<name>`).
public final class AdamW {
    /// One parameter and its moments.
    public struct State {
        public let name: String
        public let parameter: Tensor
        /// The elements of `parameter` these moments cover and this rank updates: all of
        /// them, or under ZeRO-1 the rows this data-parallel rank owns.
        public let elements: Range<Int>
        /// First moment (checkpoint name `optimizer/exp_avg/<name>`).
        public let expAvg: Tensor
        /// Second moment (`optimizer/exp_avg_sq/<name>`).
        public let expAvgSq: Tensor
        /// Whether the decoupled weight decay applies to this parameter.
        public let weightDecay: Bool
    }

    public let settings: AdamWSettings
    /// Every parameter's state, in the order given.
    public let states: [State]
    private let index: [String: Int]
    /// Updates taken so far (drives the bias correction).
    public var stepCount: Int = 0

    /// `parameters` are (name, tensor, weight decay applies); names must be unique.
    /// `ownedRows[i]`, when given, are the rows of parameter i this optimizer keeps moments
    /// for and updates (ZeRO-1: a data-parallel rank's share); by default, all of them.
    public init(
        parameters: [(name: String, tensor: Tensor, weightDecay: Bool)], settings: AdamWSettings = AdamWSettings(),
        ownedRows: [Range<Int>]? = nil
    ) {
        self.settings = settings
        states = parameters.enumerated().map { index, parameter in
            let shape = parameter.tensor.shape
            let rows = ownedRows?[index] ?? 0..<shape[0]
            let rowSize = shape.dropFirst().reduce(1, *)
            let momentShape = [rows.count] + shape.dropFirst()  // [owned rows, columns]
            return State(
                name: parameter.name, parameter: parameter.tensor,
                elements: (rows.lowerBound * rowSize)..<(rows.upperBound * rowSize),
                expAvg: Tensor(shape: momentShape), expAvgSq: Tensor(shape: momentShape),
                weightDecay: parameter.weightDecay)
        }
        index = Dictionary(uniqueKeysWithValues: states.enumerated().map { ($1.name, $0) })
    }

    /// The state of the parameter called `name`.
    public func state(named name: String) -> State? { index[name].map { states[$0] } }

    /// One update at learning rate `lr` from the gradients in each parameter's `grad`, each
    /// multiplied by `gradientScale` as it is read (the clipping factor; 1 leaves them as
    /// they are, exactly).
    public func step(lr: Float, gradientScale: Float = 1) {
        stepCount += 1
        let t = Float(stepCount)
        let correction1 = 1 - powf(settings.beta1, t)
        let correction2 = 1 - powf(settings.beta2, t)
        let b1 = settings.beta1, b2 = settings.beta2, eps = settings.eps
        let stepSize = lr / correction1
        let rootCorrection2 = correction2.squareRoot()
        for state in states {
            let decay = state.weightDecay ? 1 - lr * settings.weightDecay : 1
            // Moment i belongs to element `elements.lowerBound + i` of the parameter.
            let p = state.parameter.pointer + state.elements.lowerBound,
                g = state.parameter.gradPointer + state.elements.lowerBound
            let m = state.expAvg.pointer, v = state.expAvgSq.pointer
            ParallelLoops.forEachRange(state.elements.count, grain: 1 << 16) { _, range in
                for i in range {
                    let gradient = g[i] * gradientScale
                    m[i] = b1 * m[i] + (1 - b1) * gradient
                    v[i] = b2 * v[i] + (1 - b2) * gradient * gradient
                    let denominator = v[i].squareRoot() / rootCorrection2 + eps
                    p[i] = p[i] * decay - stepSize * m[i] / denominator
                }
            }
        }
    }
}
