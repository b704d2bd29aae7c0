import Foundation

/// Linear warmup from 0 to `peak` over `warmup` steps, then decay to `finalFraction · peak`
/// at the last step (metaseq's OPT recipe, which trained CM3Leon).
public struct LearningRateSchedule: Equatable, Sendable {
    public enum Decay: String, Equatable, Sendable {
        case linear, cosine
    }

    public var peak: Double
    public var warmup: Int
    /// Optimizer steps in the whole run (total tokens / batch tokens).
    public var totalSteps: Int
    public var finalFraction: Double = 0.1
    public var decay: Decay = .linear

    public init(peak: Double, warmup: Int, totalSteps: Int, finalFraction: Double = 0.1, decay: Decay = .linear) {
        self.peak = peak; self.warmup = warmup; self.totalSteps = totalSteps
        self.finalFraction = finalFraction; self.decay = decay
    }

    /// The learning rate of optimizer step `step` (0-based): `peak · step / warmup` up to
    /// `warmup`, then down to `finalFraction · peak` at step `totalSteps − 1`, held after.
    public func callAsFunction(_ step: Int) -> Double {
        if step < warmup { return peak * Double(step) / Double(warmup) }
        let span = max(totalSteps - 1 - warmup, 1)
        let progress = min(1, Double(step - warmup) / Double(span))
        let final = finalFraction * peak
        switch decay {
        case .linear: return peak - (peak - final) * progress
        case .cosine: return final + (peak - final) * 0.5 * (1 + cos(Double.pi * progress))
        }
    }
}
