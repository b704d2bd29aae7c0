/// The optimiser recipe (metaseq's OPT launcher, which trained CM3Leon).
public struct OptimizerSettings: Equatable, Sendable {
    public var peakLr: Double = 1e-3
    public var warmup: Int = 0
    public var decay: LearningRateSchedule.Decay = .linear
    /// The learning rate at the last step, as a fraction of the peak.
    public var finalLrFraction: Double = 0.1
    /// `optim.clip_norm` (its doc is in `ConfigKeys`).
    public var clipNorm: Double = 1.0
    public var adamW = AdamWSettings()

    public init() {}

    public func schedule(totalSteps: Int) -> LearningRateSchedule {
        LearningRateSchedule(
            peak: peakLr, warmup: warmup, totalSteps: totalSteps, finalFraction: finalLrFraction, decay: decay)
    }
}
