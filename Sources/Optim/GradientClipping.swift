import Autograd
import Foundation

/// Global L2 gradient clipping over the whole model (metaseq's recipe: threshold 1.0).
///
/// With tensor parallelism a rank holds shards of some parameters and full copies of
/// others. The norm is ‖g‖² = Σ over tp ranks of the shards' squares + the replicated
/// parameters' squares counted once, so every layout clips by the same factor. Gradients
/// are already reduced over dp when this runs, so dp adds nothing.
public struct GradientClipping {
    public var maxNorm: Double

    public init(maxNorm: Double = 1.0) { self.maxNorm = maxNorm }

    /// Scales every gradient by `min(1, maxNorm / ‖g‖)` and returns ‖g‖ before clipping.
    /// `sumOverTensorParallel` adds a value across the tensor-parallel group.
    @discardableResult
    public func clip(sharded: [Tensor], replicated: [Tensor],
                     sumOverTensorParallel: (Double) throws -> Double) rethrows -> Double {
        let norm = try (sumOverTensorParallel(Self.sumOfSquares(sharded)) + Self.sumOfSquares(replicated)).squareRoot()
        let factor = maxNorm / (norm + 1e-6)
        if factor < 1 {
            for tensor in sharded + replicated {
                let g = tensor.gradPointer
                ParallelLoops.forEachRange(tensor.count, grain: 1 << 16) { _, range in
                    for i in range { g[i] *= Float(factor) }
                }
            }
        }
        return norm
    }

    /// Σ g² over the tensors' gradients, accumulated in Double.
    public static func sumOfSquares(_ tensors: [Tensor]) -> Double {
        var total = 0.0
        for tensor in tensors {
            let g = tensor.gradPointer
            var partials = [Double](repeating: 0, count: ParallelLoops.workers)
            partials.withUnsafeMutableBufferPointer { partial in
                ParallelLoops.forEachRange(tensor.count, grain: 1 << 16) { part, range in
                    var sum = 0.0
                    for i in range { sum += Double(g[i]) * Double(g[i]) }
                    partial[part] = sum
                }
            }
            total += partials.reduce(0, +)
        }
        return total
    }
}
