import Parallel

/// How a run trains: batch, length, intervals (Table 3 sizes live in configs/*.yaml).
public struct TrainingSettings: Equatable, Sendable {
    /// `train.micro_batch` (its doc is in `ConfigKeys`).
    public var microBatch: Int = 4
    /// Micro-batches per optimizer step; derived from `batchTokens` when nil.
    public var accumulation: Int? = nil
    /// The global batch in tokens (Table 3: 8M = 2048 sequences of 4096).
    public var batchTokens: Int? = nil
    /// Optimizer steps; derived from `totalTokens / batchTokens` when nil.
    public var steps: Int? = nil
    /// Tokens over the whole run (Table 3: 1.4T, 1.9T, 2.4T).
    public var totalTokens: Double? = nil
    public var seed: Int = 0
    /// `train.fixed_batch` (its doc is in `ConfigKeys`).
    public var fixedBatch: Bool = false
    public var logInterval: Int = 1
    /// `train.eval_interval` (its doc is in `ConfigKeys`).
    public var evalInterval: Int = 0
    /// Validate once before the first step of a fresh run (the zero point of the curve).
    public var validateAtStart = true
    /// `train.eval_batches` (its doc is in `ConfigKeys`).
    public var evalBatches: Int = 4
    /// `train.save_interval` (its doc is in `ConfigKeys`).
    public var saveInterval: Int = 0
    /// `train.keep_checkpoints` (its doc is in `ConfigKeys`).
    public var keepCheckpoints: Int = 3
    /// `train.activation_checkpointing` (its doc is in `ConfigKeys`).
    public var activationCheckpointing = false
    /// A rank that makes no progress (no micro-batch, validation batch or checkpoint tensor
    /// done) for this long ends the job (0: never). 30 minutes is several times the
    /// longest such unit measured at 760m on 8 ranks of this machine (a 242 s micro-batch).
    public var watchdogSeconds: Int = 1800
    /// A checkpoint whose weights a fresh run starts from (fine-tuning); nil: random
    /// initialisation.
    public var initFrom: String? = nil

    public init() {}

    /// Micro-batches per step for `dp` ranks: explicit, or `batchTokens / (micro_batch ·
    /// seq_len · dp)`, which must divide evenly.
    public func accumulation(seqLen: Int, dp: Int) throws -> Int {
        if let accumulation { return accumulation }
        guard let batchTokens else { return 1 }
        let perPass = try tokens(microBatch, seqLen, dp)
        guard batchTokens % perPass == 0 else {
            throw LayoutError(
                description:
                    """
                    train.batch_tokens \(batchTokens) is not a multiple of micro_batch \(microBatch) × seq_len \
                    \(seqLen) × dp \(dp) = \(perPass)
                    """
            )
        }
        return batchTokens / perPass
    }

    /// Optimizer steps in the run: explicit, or total tokens over the global batch (rounded up).
    public func totalSteps(seqLen: Int, dp: Int) throws -> Int {
        if let steps { return steps }
        guard let totalTokens else { return 100 }
        let batch = Double(try tokens(microBatch, seqLen, dp, try accumulation(seqLen: seqLen, dp: dp)))
        return Int((totalTokens / batch).rounded(.up))
    }

    /// The tokens of a pass or a step, the product of `factors`: each key is bounded, but
    /// dp comes from the layout (`launch plan --world` can name any), so the product is
    /// checked instead of trapping on overflow.
    private func tokens(_ factors: Int...) throws -> Int {
        try factors.reduce(1) { product, factor in
            let (result, overflow) = product.multipliedReportingOverflow(by: factor)
            guard !overflow else {
                let names = "micro_batch × seq_len × dp" + (factors.count > 3 ? " × accumulation" : "")
                throw LayoutError(
                    description:
                        "\(names) = \(factors.map(String.init).joined(separator: " × ")) tokens, too many to count")
            }
            return result
        }
    }
}
