import Autograd
import Foundation

/// One logged step.
public struct StepRecord: Sendable {
    public let step: Int
    public let loss: Double
    public let lr: Double
    public let gradientNorm: Double
    public let tokens: Int
    public let tokensPerSecond: Double
    public let seconds: Double
    public var perplexity: Double { exp(loss) }
}

/// The training loop over any tp × dp layout: CM3 blocks from the data pipeline, AdamW with
/// clipping and the warmup/decay schedule, a progress line on rank 0 every `logInterval`
/// steps.
///
/// A step's global batch is `micro_batch × accumulation × dp` sequences; data-parallel rank
/// r takes the r-th block of `micro_batch × accumulation`, in `accumulation` micro-batches.
public struct TrainingLoop {
    public let config: TesseraConfig
    public let context: ParallelContext
    public var log: (String) -> Void = { print($0); fflush(stdout) }
    /// Called on every rank after each step's gradients are complete (reduced over dp),
    /// before the optimizer uses them.
    public var afterBackward: ((_ step: Int, _ loss: Double, _ decoder: CM3LeonDecoder) throws -> Void)?

    public init(config: TesseraConfig, context: ParallelContext = .single()) {
        self.config = config
        self.context = context
    }

    /// Trains for `config.train.steps` steps; returns every step's record and the model.
    @discardableResult
    public func run() throws -> (records: [StepRecord], decoder: CM3LeonDecoder) {
        let train = config.train, model = config.model
        let accumulation = try train.accumulation(seqLen: model.seqLen, dp: context.dp)
        let totalSteps = try train.totalSteps(seqLen: model.seqLen, dp: context.dp)
        let schedule = config.optim.schedule(totalSteps: totalSteps)
        let trainingStep = TrainingStep(model: model, seed: UInt64(train.seed), context: context, optim: config.optim)
        trainingStep.checkpointBlocks = train.activationCheckpointing
        let pipeline = try DataPipeline(config: config, dpRank: context.dpRank, dp: context.dp)
        let globalSequences = train.microBatch * accumulation * context.dp
        let tokensPerStep = globalSequences * model.seqLen
        if context.isLeader {
            log("model: \(model.parameterCount) parameters, \(globalSequences)×\(model.seqLen) tokens per step, tp \(context.tp) × dp \(context.dp), OpenBLAS \(BLASRuntime.coreName) × \(BLASRuntime.threads) threads")
        }
        var records: [StepRecord] = []
        var firstBatches: [TokenBatch]? = nil
        let start = Date()
        for step in 0..<totalSteps {
            let stepStart = Date()
            let batches = firstBatches ?? (0..<accumulation).map { _ in pipeline.nextBatch(microBatch: train.microBatch) }
            if train.fixedBatch { firstBatches = batches }
            let lr = schedule(step)
            let globalLoss = try trainingStep.run(batches, lr: Float(lr)) { loss in
                try afterBackward?(step, loss, trainingStep.decoder)
            }
            let seconds = Date().timeIntervalSince(stepStart)
            let record = StepRecord(step: step, loss: globalLoss, lr: lr, gradientNorm: trainingStep.gradientNorm,
                                    tokens: (step + 1) * tokensPerStep, tokensPerSecond: Double(tokensPerStep) / seconds, seconds: seconds)
            records.append(record)
            if context.isLeader && (step % train.logInterval == 0 || step == totalSteps - 1) {
                let elapsed = Date().timeIntervalSince(start)
                let eta = elapsed / Double(step + 1) * Double(totalSteps - step - 1)
                log(progressLine(record, total: totalSteps, eta: eta))
            }
        }
        return (records, trainingStep.decoder)
    }
}

/// `step 12/300 | loss 3.4512 | ppl 31.54 | lr 1.00e-03 | grad norm 0.812 | 20480 tok/s | ETA 0:41`
public func progressLine(_ record: StepRecord, total: Int, eta: Double) -> String {
    let etaSeconds = Int(eta.rounded())
    let etaText = etaSeconds >= 3600
        ? String(format: "%d:%02d:%02d", etaSeconds / 3600, etaSeconds / 60 % 60, etaSeconds % 60)
        : String(format: "%d:%02d", etaSeconds / 60, etaSeconds % 60)
    return String(format: "step %d/%d | loss %.4f | ppl %.2f | lr %.2e | grad norm %.3f | %.0f tok/s | ETA ",
                  record.step, total, record.loss, record.perplexity, record.lr, record.gradientNorm, record.tokensPerSecond) + etaText
}
