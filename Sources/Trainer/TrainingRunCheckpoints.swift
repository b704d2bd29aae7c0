import Checkpointing
import Diagnostics
import Foundation
import Parallel

/// The run's checkpoints: resuming from one (or starting from `train.init_from`'s weights),
/// and saving one.
extension TrainingRun {
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
