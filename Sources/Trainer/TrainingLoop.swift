import Autograd
import Checkpointing
import Configuration
import Foundation
import Model
import Parallel

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
    public var log: (String) -> Void = {
        print($0); fflush(stdout)
    }
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
        let run = try TrainingRun(self)
        defer { run.watchdog.stop() }
        try run.claimRunDirectory()
        try run.resume()
        try run.announce()
        if run.state.step == 0 && config.train.validateAtStart { try run.validate() }
        var records: [StepRecord] = []
        while run.state.step < run.totalSteps {
            // nil: a stop request abandoned the step part-way.
            guard let record = try run.trainOneStep(first: records.isEmpty) else { try run.stop(); break }
            records.append(record)
            try run.report(record, stepsHere: records.count)
            if run.isDue(config.train.evalInterval) { try run.validate() }
            if try run.stopRequested(stepsHere: records.count) { try run.stop(); break }
            if run.state.step == run.totalSteps || run.isDue(config.train.saveInterval) { try run.save() }
        }
        return (records, run.trainingStep.decoder)
    }
}
