import Autograd
import Foundation
import Optim

/// One logged step.
public struct StepRecord: Sendable {
    public let step: Int
    public let loss: Double
    public let lr: Double
    public let tokensPerSecond: Double
    public let seconds: Double
    public var perplexity: Double { exp(loss) }
}

/// The single-process loop: synthetic batches, AdamW, linear warmup, a progress line per
/// `logInterval` steps.
public struct TrainingLoop {
    public let config: TesseraConfig
    public var log: (String) -> Void = { print($0); fflush(stdout) }

    public init(config: TesseraConfig) { self.config = config }

    /// Trains for `config.train.steps` steps; returns every step's record.
    @discardableResult
    public func run() -> [StepRecord] {
        let train = config.train, model = config.model
        let decoder = CM3LeonDecoder(config: model, seed: UInt64(train.seed))
        let optimizer = AdamW(parameters: decoder.parameters.map(\.tensor))
        let data = SyntheticTokens(vocabSize: model.vocabSize, seqLen: model.seqLen, seed: UInt64(train.seed))
        let tokensPerStep = train.microBatch * model.seqLen
        log("model: \(model.parameterCount) parameters, \(train.microBatch)×\(model.seqLen) tokens per step, OpenBLAS \(BLASRuntime.coreName) × \(BLASRuntime.threads) threads")
        var records: [StepRecord] = []
        let start = Date()
        for step in 0..<train.steps {
            let stepStart = Date()
            let batch = data.batch(train.fixedBatch ? 0 : step, microBatch: train.microBatch)
            let tape = Tape()
            decoder.zeroGrad()
            let loss = decoder.loss(batch, tape: tape)
            tape.backward(from: loss)
            let lr = train.warmup > 0 ? train.lr * min(1, Double(step + 1) / Double(train.warmup)) : train.lr
            optimizer.step(lr: Float(lr))
            let seconds = Date().timeIntervalSince(stepStart)
            let record = StepRecord(step: step, loss: Double(loss.data[0]), lr: lr,
                                    tokensPerSecond: Double(tokensPerStep) / seconds, seconds: seconds)
            records.append(record)
            if step % train.logInterval == 0 || step == train.steps - 1 {
                let elapsed = Date().timeIntervalSince(start)
                let eta = elapsed / Double(step + 1) * Double(train.steps - step - 1)
                log(progressLine(record, total: train.steps, eta: eta))
            }
        }
        return records
    }
}

/// `step 12/300 | loss 3.4512 | ppl 31.54 | lr 1.00e-03 | 20480 tok/s | ETA 0:41`
public func progressLine(_ record: StepRecord, total: Int, eta: Double) -> String {
    let etaSeconds = Int(eta.rounded())
    let etaText = etaSeconds >= 3600
        ? String(format: "%d:%02d:%02d", etaSeconds / 3600, etaSeconds / 60 % 60, etaSeconds % 60)
        : String(format: "%d:%02d", etaSeconds / 60, etaSeconds % 60)
    return String(format: "step %d/%d | loss %.4f | ppl %.2f | lr %.2e | %.0f tok/s | ETA ",
                  record.step, total, record.loss, record.perplexity, record.lr, record.tokensPerSecond) + etaText
}
