import Autograd
import Foundation

/// Global L2 gradient clipping over the whole model (metaseq's recipe: threshold 1.0).
///
/// With tensor parallelism a rank holds shards of some parameters and full copies of
/// others. The norm is ‖g‖² = Σ over tp ranks of the shards' squares + the replicated
/// parameters' squares counted once, so every layout clips by the same factor. Gradients
/// are already reduced over dp when this runs, so dp adds nothing.
///
/// Clipping only computes the factor; `AdamW.step(lr:gradientScale:)` applies it as it reads
/// each gradient, which saves a read and a write of every gradient per step.
public struct GradientClipping {
    public var maxNorm: Double

    public init(maxNorm: Double = 1.0) { self.maxNorm = maxNorm }

    /// ‖g‖ before clipping and the factor `min(1, maxNorm / ‖g‖)` to scale every gradient by.
    /// `sumOverTensorParallel` adds a value across the tensor-parallel group.
    public func measure(
        sharded: [Tensor], replicated: [Tensor],
        sumOverTensorParallel: (Double) throws -> Double
    ) rethrows -> (norm: Double, scale: Float) {
        let norm = try Self.norm(
            sharded: sharded, replicated: replicated, sumOverTensorParallel: sumOverTensorParallel)
        return (norm, scale(norm: norm))
    }

    /// The factor `min(1, maxNorm / ‖g‖)` for a norm measured elsewhere (ZeRO-1's, over
    /// each rank's owned slices).
    public func scale(norm: Double) -> Float {
        let factor = maxNorm / (norm + 1e-6)
        return factor < 1 ? Float(factor) : 1
    }

    /// ‖g‖ over the model: sharded squares summed over tp, replicated ones counted once.
    public static func norm(
        sharded: [Tensor], replicated: [Tensor],
        sumOverTensorParallel: (Double) throws -> Double
    ) rethrows -> Double {
        try (sumOverTensorParallel(sumOfSquares(sharded)) + sumOfSquares(replicated)).squareRoot()
    }

    /// Σ g² over the tensors' gradients, accumulated in Double.
    public static func sumOfSquares(_ tensors: [Tensor]) -> Double {
        sumOfSquares(tensors.map { UnsafeBufferPointer($0.grad) })
    }

    /// Σ g² over the gradient slices, accumulated in Double.
    public static func sumOfSquares(_ gradients: [UnsafeBufferPointer<Float>]) -> Double {
        var total = 0.0
        for gradient in gradients {
            guard let g = gradient.baseAddress else { continue }
            var partials = [Double](repeating: 0, count: ParallelLoops.workers)
            partials.withUnsafeMutableBufferPointer { partial in
                ParallelLoops.forEachRange(gradient.count, grain: 1 << 16) { part, range in
                    // Four independent sums: one chain would wait on each addition's latency.
                    var sums = (0.0, 0.0, 0.0, 0.0)
                    var i = range.lowerBound
                    while i + 4 <= range.upperBound {
                        let a = Double(g[i]), b = Double(g[i + 1]), c = Double(g[i + 2]), d = Double(g[i + 3])
                        sums.0 += a * a; sums.1 += b * b; sums.2 += c * c; sums.3 += d * d
                        i += 4
                    }
                    while i < range.upperBound { sums.0 += Double(g[i]) * Double(g[i]); i += 1 }
                    partial[part] = (sums.0 + sums.1) + (sums.2 + sums.3)
                }
            }
            total += partials.reduce(0, +)
        }
        return total
    }
}
