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

    /// The loss of every sequence of `batches` (this rank's share), summed over the
    /// data-parallel ranks: the weighted mean and the weight. Each sequence is its own
    /// forward pass with normalizer 1, and the sums are Double, so the result does not
    /// depend on how sequences are grouped into batches or dealt to ranks.
    public func heldOutLoss(_ batches: [TokenBatch], context: ParallelContext) throws -> (loss: Double, weight: Double)
    {
        var total = 0.0, weight = 0.0
        for batch in batches {
            for row in 0..<batch.microBatch {
                let range = (row * batch.seqLen)..<((row + 1) * batch.seqLen)
                let sequence = TokenBatch(
                    microBatch: 1, seqLen: batch.seqLen, inputs: Array(batch.inputs[range]),
                    targets: Array(batch.targets[range]), weights: Array(batch.weights[range]))
                total += Double(loss(sequence, tape: Tape(recording: false), normalizer: 1).scalar)
                weight += sequence.weights.reduce(0.0) { $0 + Double($1) }
            }
        }
        let sums = (try context.sumOverDataParallel(total), try context.sumOverDataParallel(weight))
        return (sums.0 / max(sums.1, 1e-30), sums.1)
    }
}
