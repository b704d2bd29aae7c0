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
    private(set) var totalSteps: Int
    /// What the checkpoint this run resumed from took to read.
    private var loadTransfer = Checkpoint.Transfer()
    private(set) var accumulation: Int
    var tokensPerStep: Int { state.globalBatch * config.model.seqLen }
    private(set) var schedule: LearningRateSchedule
    let trainingStep: TrainingStep
    let pipeline: DataPipeline
    private(set) var state = TrainingState()
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
        (pipeline, validationBatches) = try context.agreeing {
            let pipeline = try DataPipeline(config: loop.config, dpRank: context.dpRank, dp: context.dp)
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

    /// Loads the checkpoint the run continues from: the given file, or the newest one in the
    /// run directory that loads cleanly. Each rank reads each tensor once, checking its
    /// checksum as it goes; a damaged file is named in a warning and an older one is tried.
    /// When checkpoints exist and none loads, the run stops before touching any file.
    /// Rank 0 lists the candidates and every rank tries the same files in the same order.
    /// A run that finds no checkpoint of its own starts from `train.init_from`'s weights, if
    /// given.
    func resume() throws {
        if try resumeFromCheckpoint() { return }
        try initialiseFromPretrained()
    }

    private func resumeFromCheckpoint() throws -> Bool {
        let candidates: [String]
        switch loop.resume {
        case .none: return false
        case .path(let path): candidates = [path]
        case .auto:
            let listed = context.isLeader ? loop.runDirectory?.checkpoints().map(\.path) ?? [] : []
            candidates = try context.broadcastFromLeader(listed.joined(separator: "\n")).split(separator: "\n").map(
                String.init)
        }
        for path in candidates {
            watchdog.beat("loading \(path)")
            if try load(path, fallbackAllowed: loop.resume == .auto) {
                try checkEveryRankLoaded(path)
                try keepGlobalBatch(of: path)
                pipeline.stream.restore(state.cursor)
                if context.isLeader {
                    loop.log("resumed from \(path) at step \(state.step) (\(loadTransfer.summary(verb: "read")))")
                }
                return true
            }
        }
        // Starting over would overwrite the run's history: only `--resume none` may do that.
        if let newest = candidates.first {
            let error = ResumeError(directory: (newest as NSString).deletingLastPathComponent, tried: candidates.count)
            throw CollectiveFailure(error, reports: context.isLeader)
        }
        return false
    }

    /// Loads the weights of `train.init_from` (under any layout: each rank keeps its part);
    /// its optimizer moments, step, schedule and data cursor are not read, so fine-tuning
    /// starts fresh. The config written to the run directory names the checkpoint.
    private func initialiseFromPretrained() throws {
        guard let path = config.train.initFrom else { return }
        watchdog.beat("loading weights from \(path)")
        let source = try context.agreeing {
            try Checkpoint.load(
                path: path, model: config.model, into: trainingStep.decoder.parameters, context: context
            ).state
        }
        if context.isLeader {
            loop.log(
                """
                initialised the weights from \(path) (step \(source.step) of its run); the optimizer, schedule and \
                data start fresh
                """
            )
        }
    }

    /// A checkpoint trained with another dp continues with the global batch it was trained
    /// with: the accumulation changes to make it up, or the run stops when it cannot.
    private func keepGlobalBatch(of path: String) throws {
        let stored = state.globalBatch, train = config.train, perPass = train.microBatch * context.dp
        state.globalBatch = perPass * accumulation  // the config's, unless the checkpoint's is kept below
        guard stored > 0 && stored != state.globalBatch else { return }
        guard stored % perPass == 0 else {
            let error = LayoutError(
                description:
                    """
                    checkpoint \(path) was trained with \(stored) sequences per step, which micro_batch \
                    \(train.microBatch) × dp \(context.dp) = \(perPass) does not divide: resume with a micro_batch \
                    or dp that does
                    """
            )
            throw CollectiveFailure(error, reports: context.isLeader)
        }
        let previous = accumulation
        var kept = train
        kept.accumulation = stored / perPass
        kept.batchTokens = nil
        accumulation = stored / perPass
        totalSteps = try kept.totalSteps(seqLen: config.model.seqLen, dp: context.dp)
        schedule = config.optim.schedule(totalSteps: totalSteps)
        state.globalBatch = stored
        if context.isLeader {
            loop.log(
                """
                resuming under dp \(context.dp): accumulation \(previous) → \(accumulation) keeps the global batch \
                of \(stored) sequences (micro_batch \(train.microBatch) × dp \(context.dp) × \(accumulation))
                """
            )
        }
    }

    /// Rank 0's step on every rank: a file replaced while the ranks read it stops the run.
    private func checkEveryRankLoaded(_ path: String) throws {
        let leaderStep = try context.broadcastFromLeader(state.step)
        try context.agreeing {
            if state.step != leaderStep {
                throw CheckpointError(path: path, problem: .stepMismatch(loaded: state.step, leader: leaderStep))
            }
        }
    }

    /// Whether `path` loaded. Every rank reaches the same answer: a damaged file on any rank
    /// is skipped by all of them, and any other problem stops all of them.
    private func load(_ path: String, fallbackAllowed: Bool) throws -> Bool {
        var failure: CheckpointError?
        do {
            let loaded = try Checkpoint.load(
                path: path, model: config.model, into: trainingStep.decoder.parameters,
                optimizer: trainingStep.optimizer, context: context)
            state = loaded.state
            loadTransfer = loaded.transfer
            if !loaded.attributesChecked && context.isLeader {
                loop.warn(
                    """
                    checkpoint \(path) has format 1: its step, cursor, lr and config carry no checksum and are \
                    unchecked
                    """
                )
            }
            if loaded.tensorCheck == .wholeTensorsOnEveryRank && context.isLeader {
                loop.log(
                    """
                    checkpoint \(path) has format \(loaded.formatVersion): every rank read each whole tensor and \
                    checked its checksum
                    """
                )
            }
        } catch let error as CheckpointError {
            failure = error
        }
        // A problem that rules out falling back stops every rank; a damaged file on any rank
        // makes all of them try the next one.
        let damaged = failure.map { $0.isCorrupt && fallbackAllowed } ?? false
        try context.agree(on: damaged ? nil : failure)
        guard try context.maxOverWorld(damaged ? 1 : 0) == 1 else { return true }
        if context.isLeader {
            loop.warn(
                """
                \(failure.map(String.init(describing:)) ?? "checkpoint \(path) failed on another rank"); trying an \
                earlier one
                """
            )
        }
        return false
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

    /// Saves a checkpoint of the current step and prunes old ones (with a run directory).
    func save() throws {
        guard let runDirectory = loop.runDirectory else { return }
        state.cursor = pipeline.stream.cursor
        let path = runDirectory.checkpointPath(step: state.step)
        watchdog.beat("saving \(path)")
        // Rank 0 writes; a failed write must end every rank, not leave them in the next step.
        let transfer = try context.agreeing {
            try Checkpoint.save(
                path: path, parameters: trainingStep.decoder.parameters, optimizer: trainingStep.optimizer,
                state: state, lr: schedule(state.step), config: config.yaml, seed: config.train.seed,
                context: context)
        }
        guard context.isLeader else { return }
        runDirectory.prune(keep: config.train.keepCheckpoints)
        loop.log("saved \(path) (\(transfer.summary(verb: "wrote")))")
    }
}

/// Checkpoints exist, but none of them can be loaded.
public struct ResumeError: ReportableError {
    public let directory: String
    public let tried: Int
    public var description: String {
        """
        no checkpoint in \(directory) can be loaded (\(tried) tried, each named above); nothing was changed. Start \
        over with --resume none
        """
    }
}
