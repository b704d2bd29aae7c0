import Autograd
import Diagnostics
import Checkpointing
import Configuration
import Foundation
import Model
import Optim
import Parallel
import TrainingData

/// One invocation of a `TrainingLoop`: the model, optimizer, data and progress it works on,
/// and the named steps the loop is made of.
final class TrainingRun {
    let loop: TrainingLoop
    var config: TesseraConfig { loop.config }
    var context: ParallelContext { loop.context }
    /// These follow the global batch, which a resume under another dp may keep by changing
    /// the accumulation.
    var totalSteps: Int
    /// What the checkpoint this run resumed from took to read.
    var loadTransfer = Checkpoint.Transfer()
    var accumulation: Int
    var tokensPerStep: Int { state.globalBatch * config.model.seqLen }
    var schedule: LearningRateSchedule
    let trainingStep: TrainingStep
    let pipeline: DataPipeline
    var state = TrainingState()
    private let validationBatches: [TokenBatch]
    /// The batches of the first step, reused by `train.fixed_batch`.
    private var fixedBatches: [TokenBatch]?
    private var started: Date?
    private var lastMicroBatchReport: Date?
    let watchdog: Watchdog

    init(_ loop: TrainingLoop) throws {
        self.loop = loop
        let train = loop.config.train, model = loop.config.model, context = loop.context
        accumulation = try train.accumulation(seqLen: model.seqLen, dp: context.dp)
        totalSteps = try train.totalSteps(seqLen: model.seqLen, dp: context.dp)
        schedule = loop.config.optim.schedule(totalSteps: totalSteps)
        state.globalBatch = train.microBatch * accumulation * context.dp
        watchdog = Watchdog(seconds: train.watchdogSeconds, rank: context.worldRank) { context.abortJob(code: 3) }
        watchdog.beat("reading the data")
        trainingStep = Self.freshModel(loop.config, context: context)
        // A checkpoint of another model is refused before the run directory is touched.
        if let path = train.initFrom {
            try context.agreeing { try Checkpoint.checkHoldsModel(path: path, model: model) }
        }
        // Shards are read on every rank; one that fails must not leave the others waiting.
        let blocks = totalSteps * state.globalBatch
        (pipeline, validationBatches) = try context.agreeing {
            let pipeline = try DataPipeline(config: loop.config, dpRank: context.dpRank, dp: context.dp)
            try pipeline.checkNeighbours(cover: blocks)
            return (
                pipeline,
                train.evalInterval > 0
                    ? pipeline.validationBatches(microBatch: train.microBatch, count: train.evalBatches) : []
            )
        }
    }

    static func freshModel(_ config: TesseraConfig, context: ParallelContext) -> TrainingStep {
        let trainingStep = TrainingStep(
            model: config.model, seed: config.seed, context: context, optim: config.optim,
            distributedOptimizer: config.parallel.distributedOptimizer)
        trainingStep.checkpointBlocks = config.train.activationCheckpointing
        return trainingStep
    }

    /// Creates and locks the run directory on rank 0, once the inputs have proved valid, so
    /// that a rejected run leaves nothing behind and two trainers never share a directory.
    func claimRunDirectory() throws {
        try context.agreeing {
            if context.isLeader { try loop.runDirectory?.open() }
        }
    }

    /// Writes the resolved config, drops metrics of steps about to be redone, sets newer
    /// checkpoints aside, and says what is being trained.
    func announce() throws {
        let directory = context.isLeader ? loop.runDirectory : nil
        try context.agreeing {
            try directory?.writeConfig(config.yaml)
            try directory?.truncateMetrics(fromStep: state.step)
            // Checkpoints past the step this run continues from belong to an abandoned timeline.
            if let moved = try directory?.setAsideCheckpoints(after: state.step) {
                loop.log(
                    """
                    moved the checkpoints of steps \(moved.steps.map(String.init).joined(separator: ", ")) aside to \
                    \(moved.folder): this run continues from step \(state.step)
                    """
                )
            }
        }
        guard context.isLeader else { return }
        let train = config.train, model = config.model
        loop.log(
            """
            model: \(model.parameterTable.parameterCount) parameters, \
            \(train.microBatch * accumulation * context.dp)×\(model.seqLen) tokens per step (\(accumulation) \
            micro-batches of \(train.microBatch) per rank), tp \(context.tp) × dp \
            \(context.dp)\(trainingStep.distributedOptimizer ? " (ZeRO-1)" : ""), OpenBLAS \(BLASRuntime.coreName) × \
            \(BLASRuntime.threads) threads
            """
        )
    }

    /// Validation loss at the current step, logged and recorded (when validation is on).
    func validate() throws {
        guard !validationBatches.isEmpty else { return }
        let start = Date()
        watchdog.beat("validating at step \(state.step)")
        if context.isLeader { loop.log("validating on \(validationBatches.count) micro-batches per rank…") }
        let loss = try trainingStep.decoder.validationLoss(validationBatches, context: context)
        try context.agreeing {
            guard context.isLeader else { return }
            loop.log(String(format: "validation took %.1f s", Date().timeIntervalSince(start)))
            let record = ValidationRecord(step: state.step, tokens: state.step * tokensPerStep, loss: loss)
            loop.log(record.progressLine)
            try loop.runDirectory?.appendMetrics(record)
        }
    }

    /// One optimizer step over `accumulation` micro-batches, or nil when a stop request
    /// abandoned it part-way: then nothing was applied and the data cursor is back at the
    /// step's start, so the state is that of the last completed step.
    func trainOneStep(first: Bool) throws -> StepRecord? {
        let step = state.step, train = config.train, started = Date()
        if self.started == nil { self.started = started }
        let cursorAtStart = pipeline.stream.cursor
        let batches = fixedBatches ?? (0..<accumulation).map { _ in pipeline.nextBatch(microBatch: train.microBatch) }
        if train.fixedBatch { fixedBatches = batches }
        let lr = schedule(step)
        watchdog.beat("in step \(step), micro-batch 1 of \(accumulation)")
        if context.isLeader && first && accumulation > 1 {
            loop.log(
                """
                step \(step)/\(totalSteps) | micro-batch 1/\(accumulation) running \
                (\(train.microBatch)×\(config.model.seqLen) tokens per rank per micro-batch)
                """
            )
        }
        // Only a hook that is set is passed: under ZeRO-1 it costs a gather of the gradients.
        let afterBackward = loop.afterBackward.map { hook in
            { (loss: Double) in try hook(step, loss, self.trainingStep.decoder) }
        }
        let completed = try trainingStep.run(
            batches, lr: Float(lr), afterBackward: afterBackward,
            onMicroBatch: { k, n in
                self.watchdog.beat(k < n ? "in step \(step), micro-batch \(k + 1) of \(n)" : "after step \(step)")
                self.reportMicroBatch(k, of: n, step: step, since: started)
            }, shouldContinue: { try self.context.maxOverWorld(StopSignal.requested ? 1 : 0) == 0 })
        guard let loss = completed else {
            pipeline.stream.restore(cursorAtStart)
            fixedBatches = nil
            if context.isLeader { loop.log("stop requested during step \(step): its partial accumulation is dropped") }
            return nil
        }
        let seconds = Date().timeIntervalSince(started)
        state.step += 1
        state.tokens += tokensPerStep
        return StepRecord(
            step: step, tokens: state.tokens, loss: loss, lr: lr, gradientNorm: trainingStep.gradientNorm,
            tokensPerSecond: Double(tokensPerStep) / seconds, seconds: seconds)
    }

    /// Long steps (many micro-batches) report as they go, at most every 10 s: a line per
    /// quick micro-batch would fill the pipe that mpirun stops draining once it is
    /// interrupted, and a rank blocked writing could then never save.
    private func reportMicroBatch(_ k: Int, of n: Int, step: Int, since start: Date) {
        let now = Date(), elapsed = now.timeIntervalSince(start)
        guard context.isLeader && n > 1 && k < n else { return }
        guard k == 1 || now.timeIntervalSince(lastMicroBatchReport ?? start) >= 10 else { return }
        lastMicroBatchReport = now
        loop.log(
            String(
                format: "step %ld/%ld | micro-batch %ld/%ld | %.1f s per micro-batch | step ETA ", step, totalSteps, k,
                n,
                elapsed / Double(k)) + duration(elapsed / Double(k) * Double(n - k)))
    }

    /// Records a step in metrics.jsonl and prints it every `log_interval` steps.
    func report(_ record: StepRecord, stepsHere: Int) throws {
        try context.agreeing {
            guard context.isLeader else { return }
            try loop.runDirectory?.appendMetrics(record)
            guard record.step % config.train.logInterval == 0 || state.step == totalSteps else { return }
            let elapsed = Date().timeIntervalSince(started ?? Date())
            loop.log(
                record.progressLine(
                    total: totalSteps, eta: elapsed / Double(stepsHere) * Double(totalSteps - state.step)))
        }
    }

    /// Whether a step-counted `interval` (0: never) falls on the current step.
    func isDue(_ interval: Int) -> Bool { interval > 0 && state.step % interval == 0 }

    /// Whether any rank was asked to stop (`StopSignals`) or `--stop-after` is reached.
    func stopRequested(stepsHere: Int) throws -> Bool {
        try context.maxOverWorld(StopSignal.requested ? 1 : 0) == 1 || stepsHere == loop.stopAfter
    }

    /// Saves the last completed step and says how to go on.
    func stop() throws {
        try save()
        if context.isLeader { loop.log("stopped at step \(state.step); resume with the same command") }
    }
}
