import Foundation

/// LayerNorm without learnable parameters (CM3Leon: no affine, eps 1e-5), over the last
/// dimension.
extension Tape {
    /// `y = (x - mean) / sqrt(var + eps)` per row of `x [rows, d]`.
    public func layerNorm(_ x: Tensor, eps: Float = 1e-5) -> Tensor {
        let d = x.lastDimension, rows = x.rows
        let y = Tensor(uninitializedShape: x.shape, requiresGrad: tracks(x))
        // Saved for backward: one reciprocal standard deviation per row.
        let rstd = BufferPool.shared.allocate(max(rows, 1))
        let px = x.pointer, py = y.pointer
        ParallelLoops.forEachRange(rows, grain: 64) { _, range in
            for r in range {
                let row = px + r * d, out = py + r * d
                var sum: Float = 0
                for j in 0..<d { sum += row[j] }
                let mean = sum / Float(d)
                var squares: Float = 0
                for j in 0..<d { let c = row[j] - mean; squares += c * c }
                let inv = 1 / (squares / Float(d) + eps).squareRoot()
                rstd[r] = inv
                for j in 0..<d { out[j] = (row[j] - mean) * inv }
            }
        }
        guard y.requiresGrad else { BufferPool.shared.release(rstd); return y }
        // The closure holds y itself (and x for its gradient), so y's values live until backward.
        record {
            defer { BufferPool.shared.release(rstd) }
            let py = y.pointer, dy = y.gradPointer, destination = x.gradientDestination()
            let dx = destination.pointer, accumulate = destination.accumulate
            ParallelLoops.forEachRange(rows, grain: 64) { _, range in
                for r in range {
                    let g = dy + r * d, yr = py + r * d, out = dx + r * d
                    var meanG: Float = 0, meanGY: Float = 0
                    for j in 0..<d { meanG += g[j]; meanGY += g[j] * yr[j] }
                    meanG /= Float(d); meanGY /= Float(d)
                    // dx = rstd · (dy − mean(dy) − y · mean(dy ⊙ y))
                    let inv = rstd[r]
                    if accumulate {
                        for j in 0..<d { out[j] += inv * (g[j] - meanG - yr[j] * meanGY) }
                    } else {
                        for j in 0..<d { out[j] = inv * (g[j] - meanG - yr[j] * meanGY) }
                    }
                }
            }
        }
        return y
    }
}
