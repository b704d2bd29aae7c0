import Autograd
import Foundation
import Parallel

extension CM3LeonDecoder {
    /// The global mean loss of validation `batches` (this rank's share), forward only: no
    /// activations are kept and no optimizer state is needed.
    public func validationLoss(_ batches: [TokenBatch], context: ParallelContext) throws -> Double {
        let weight = batches.reduce(0.0) { $0 + Double($1.weights.reduce(0, +)) }
        let normalizer = Float(max(try context.sumOverDataParallel(weight), 1))
        var total = 0.0
        for batch in batches {
            total += Double(loss(batch, tape: Tape(recording: false), normalizer: normalizer).scalar)
        }
        return try context.sumOverDataParallel(total)
    }
}
