import Autograd
import Foundation

/// AdamW hyper-parameters (defaults: metaseq's OPT launcher, which trained CM3Leon).
public struct AdamWSettings: Equatable, Sendable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.95
    public var eps: Float = 1e-8
    public var weightDecay: Float = 0.1

    public init(beta1: Float = 0.9, beta2: Float = 0.95, eps: Float = 1e-8, weightDecay: Float = 0.1) {
        self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }
}

/// AdamW with decoupled weight decay, the update of PyTorch's `torch.optim.AdamW`:
/// `p ← p·(1 − lr·wd) − lr · m̂ / (√v̂ + eps)` with bias-corrected moments.
public final class AdamW {
    public let settings: AdamWSettings
    public let parameters: [Tensor]
    /// First moments, one per parameter (checkpoint name `optimizer/exp_avg/<name>`).
    public let expAvg: [Tensor]
    /// Second moments (`optimizer/exp_avg_sq/<name>`).
    public let expAvgSq: [Tensor]
    /// Updates taken so far (drives the bias correction).
    public var stepCount: Int = 0

    public init(parameters: [Tensor], settings: AdamWSettings = AdamWSettings()) {
        self.settings = settings
        self.parameters = parameters
        expAvg = parameters.map { Tensor(shape: $0.shape) }
        expAvgSq = parameters.map { Tensor(shape: $0.shape) }
    }

    /// One update at learning rate `lr` from the gradients in each parameter's `grad`.
    public func step(lr: Float) {
        stepCount += 1
        let t = Float(stepCount)
        let correction1 = 1 - powf(settings.beta1, t)
        let correction2 = 1 - powf(settings.beta2, t)
        let decay = 1 - lr * settings.weightDecay
        let b1 = settings.beta1, b2 = settings.beta2, eps = settings.eps
        let stepSize = lr / correction1
        let rootCorrection2 = correction2.squareRoot()
        for (index, parameter) in parameters.enumerated() {
            let p = parameter.pointer, g = parameter.gradPointer
            let m = expAvg[index].pointer, v = expAvgSq[index].pointer
            ParallelLoops.forEachRange(parameter.count, grain: 1 << 16) { _, range in
                for i in range {
                    let gradient = g[i]
                    m[i] = b1 * m[i] + (1 - b1) * gradient
                    v[i] = b2 * v[i] + (1 - b2) * gradient * gradient
                    let denominator = v[i].squareRoot() / rootCorrection2 + eps
                    p[i] = p[i] * decay - stepSize * m[i] / denominator
                }
            }
        }
    }
}
