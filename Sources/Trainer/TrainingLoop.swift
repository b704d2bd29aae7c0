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

/// How a run starts.
public enum ResumeMode: Equatable, Sendable {
    /// From the newest checkpoint in the run directory that verifies, or from scratch.
    case auto
    /// From this checkpoint file.
    case path(String)
    /// From scratch.
    case none
}

/// The training loop over any tp × dp layout: CM3 blocks from the data pipeline, AdamW with
/// clipping and the warmup/decay schedule; progress on rank 0; metrics, validation and
/// checkpoints in the run directory; exact resume.
public struct TrainingLoop {
    public let config: TesseraConfig
    public let context: ParallelContext
    /// Where metrics and checkpoints go (rank 0 writes); nil for none.
    public var runDirectory: RunDirectory?
    public var resume: ResumeMode = .auto
    /// Stop (saving a checkpoint) after this many steps of this invocation.
    public var stopAfter: Int?
    public var log: (String) -> Void = { print($0); fflush(stdout) }
    public var warn: (String) -> Void = { FileHandle.standardError.write(Data("warning: \($0)\n".utf8)) }
    /// Called on every rank after each step's gradients are complete (reduced over dp),
    /// before the optimizer uses them.
    public var afterBackward: ((_ step: Int, _ loss: Double, _ decoder: CM3LeonDecoder) throws -> Void)?

    public init(config: TesseraConfig, context: ParallelContext = .single(), runDirectory: RunDirectory? = nil) {
        self.config = config
        self.context = context
        self.runDirectory = runDirectory
    }

    /// Trains from the resume point to the last step (or until stopped); returns the records
    /// of the steps run here and the model.
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
        let leaderDirectory = context.isLeader ? runDirectory : nil

        var state = TrainingState()
        if let resumed = try resumePoint() {
            state = try Checkpoint.load(path: resumed, into: trainingStep)
            pipeline.stream.restore(state.cursor)
            if context.isLeader { log("resumed from \(resumed) at step \(state.step)") }
        }
        try leaderDirectory?.writeConfig(config.yaml)
        try leaderDirectory?.truncateMetrics(fromStep: state.step)
        if context.isLeader {
            log("model: \(model.parameterCount) parameters, \(globalSequences)×\(model.seqLen) tokens per step (\(accumulation) micro-batches of \(train.microBatch) per rank), tp \(context.tp) × dp \(context.dp), OpenBLAS \(BLASRuntime.coreName) × \(BLASRuntime.threads) threads")
        }
        let validation = train.evalInterval > 0 ? pipeline.validationBatches(microBatch: train.microBatch, count: train.evalBatches) : []
        func evaluate(_ step: Int) throws {
            guard !validation.isEmpty else { return }
            let evaluationStart = Date()
            if context.isLeader && step == state.step { log("validating on \(validation.count) micro-batches per rank…") }
            let loss = try trainingStep.validationLoss(validation)
            if context.isLeader && step == state.step { log(String(format: "validation took %.1f s", Date().timeIntervalSince(evaluationStart))) }
            if context.isLeader {
                log(String(format: "validation at step %d | loss %.4f | ppl %.2f", step, loss, exp(loss)))
                try leaderDirectory?.appendMetrics(String(format: "{\"step\":%d,\"tokens\":%d,\"val_loss\":%.17g,\"val_ppl\":%.6f}",
                                                          step, step * tokensPerStep, loss, exp(loss)))
            }
        }
        func save() throws {
            guard let runDirectory else { return }
            state.cursor = pipeline.stream.cursor
            let path = runDirectory.checkpointPath(step: state.step)
            try Checkpoint.save(path: path, step: trainingStep, state: state, config: config)
            if context.isLeader {
                runDirectory.prune(keep: train.keepCheckpoints)
                log("saved \(path)")
            }
        }

        if state.step == 0 && train.evalInterval > 0 { try evaluate(0) }
        var records: [StepRecord] = []
        var firstBatches: [TokenBatch]? = nil
        let start = Date()
        var stepsHere = 0
        while state.step < totalSteps {
            let step = state.step
            let stepStart = Date()
            let batches = firstBatches ?? (0..<accumulation).map { _ in pipeline.nextBatch(microBatch: train.microBatch) }
            if train.fixedBatch { firstBatches = batches }
            let lr = schedule(step)
            if context.isLeader && stepsHere == 0 && accumulation > 1 {
                log("step \(step)/\(totalSteps) | micro-batch 1/\(accumulation) running (\(train.microBatch)×\(model.seqLen) tokens per rank per micro-batch)")
            }
            let globalLoss = try trainingStep.run(batches, lr: Float(lr), afterBackward: { loss in
                try afterBackward?(step, loss, trainingStep.decoder)
            }, onMicroBatch: { k, n in
                // Long steps (many micro-batches) report as they go.
                let elapsed = Date().timeIntervalSince(stepStart)
                if context.isLeader && n > 1 && (k == 1 || elapsed > 10) && k < n {
                    log(String(format: "step %d/%d | micro-batch %d/%d | %.1f s per micro-batch | step ETA ", step, totalSteps, k, n,
                               elapsed / Double(k)) + duration(elapsed / Double(k) * Double(n - k)))
                }
            })
            let seconds = Date().timeIntervalSince(stepStart)
            state.step += 1
            state.tokens += tokensPerStep
            stepsHere += 1
            let record = StepRecord(step: step, loss: globalLoss, lr: lr, gradientNorm: trainingStep.gradientNorm,
                                    tokens: state.tokens, tokensPerSecond: Double(tokensPerStep) / seconds, seconds: seconds)
            records.append(record)
            if context.isLeader {
                try leaderDirectory?.appendMetrics(String(
                    format: "{\"step\":%d,\"tokens\":%d,\"loss\":%.17g,\"ppl\":%.6f,\"lr\":%.6e,\"grad_norm\":%.6f,\"tokens_per_s\":%.1f,\"seconds\":%.4f}",
                    step, state.tokens, globalLoss, exp(globalLoss), lr, record.gradientNorm, record.tokensPerSecond, seconds))
                if step % train.logInterval == 0 || state.step == totalSteps {
                    let elapsed = Date().timeIntervalSince(start)
                    log(progressLine(record, total: totalSteps, eta: elapsed / Double(stepsHere) * Double(totalSteps - state.step)))
                }
            }
            if train.evalInterval > 0 && state.step % train.evalInterval == 0 { try evaluate(state.step) }
            let stopping = try context.maxOverWorld(StopSignal.requested ? 1 : 0) == 1 || stepsHere == stopAfter
            if stopping || state.step == totalSteps || (train.saveInterval > 0 && state.step % train.saveInterval == 0) {
                try save()
            }
            if stopping {
                if context.isLeader { log("stopped at step \(state.step); resume with the same command") }
                break
            }
        }
        return (records, trainingStep.decoder)
    }

    /// The checkpoint to start from: rank 0 chooses (skipping corrupt files with a warning,
    /// refusing another model's) and every rank follows.
    func resumePoint() throws -> String? {
        switch resume {
        case .none: return nil
        case .path(let path):
            _ = try Checkpoint.verify(path: path, model: config.model)
            return path
        case .auto:
            guard let runDirectory else { return nil }
            let candidates = runDirectory.checkpoints()
            var chosen = -1
            if context.isLeader {
                for (index, candidate) in candidates.enumerated() {
                    do {
                        _ = try Checkpoint.verify(path: candidate.path, model: config.model)
                        chosen = index
                        break
                    } catch let error as CheckpointError where error.corrupt {
                        warn("\(error); trying an earlier one")
                    }
                }
            }
            chosen = try context.broadcastFromLeader(chosen)
            return chosen >= 0 ? candidates[chosen].path : nil
        }
    }
}

/// `1:02:03` or `2:03` (or `3d 4:05:06` past a day).
func duration(_ seconds: Double) -> String {
    let total = Int(seconds.rounded())
    let days = total / 86400, hours = total / 3600 % 24, minutes = total / 60 % 60, rest = total % 60
    if days > 0 { return String(format: "%dd %d:%02d:%02d", days, hours, minutes, rest) }
    return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, rest) : String(format: "%d:%02d", minutes, rest)
}

/// `step 12/300 | loss 3.4512 | ppl 31.54 | lr 1.00e-03 | grad norm 0.812 | 20480 tok/s | ETA 0:41`
public func progressLine(_ record: StepRecord, total: Int, eta: Double) -> String {
    String(format: "step %d/%d | loss %.4f | ppl %.2f | lr %.2e | grad norm %.3f | %.0f tok/s | ETA ",
           record.step, total, record.loss, record.perplexity, record.lr, record.gradientNorm, record.tokensPerSecond) + duration(eta)
}
