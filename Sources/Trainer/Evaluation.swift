import Autograd
import Foundation

extension TrainingStep {
    /// The global mean loss of validation `batches` (this rank's share), forward only.
    public func validationLoss(_ batches: [TokenBatch]) throws -> Double {
        let weight = batches.reduce(0.0) { $0 + Double($1.weights.reduce(0, +)) }
        let normalizer = Float(max(try context.sumOverDataParallel(weight), 1))
        var total = 0.0
        for batch in batches {
            total += Double(decoder.loss(batch, tape: Tape(recording: false), normalizer: normalizer).scalar)
        }
        return try context.sumOverDataParallel(total)
    }
}
