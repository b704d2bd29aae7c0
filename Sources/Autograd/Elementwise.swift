import Foundation

/// Pointwise ops: residual add and GELU (tanh form, as GPT-2 and metaseq use).
extension Tape {
    /// `a + b`, same shapes.
    public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "add: shapes \(a.shape) and \(b.shape) differ")
        let y = Tensor(shape: a.shape, requiresGrad: a.requiresGrad || b.requiresGrad)
        let n = a.count
        let pa = a.pointer, pb = b.pointer, py = y.pointer
        ParallelLoops.forEachRange(n, grain: 1 << 16) { _, range in
            for i in range { py[i] = pa[i] + pb[i] }
        }
        guard y.requiresGrad else { return y }
        record {
            let dy = y.gradPointer
            for input in [a, b] where input.requiresGrad {
                let dx = input.gradPointer
                ParallelLoops.forEachRange(n, grain: 1 << 16) { _, range in
                    for i in range { dx[i] += dy[i] }
                }
            }
        }
        return y
    }

    /// GELU, tanh approximation: `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
    public func gelu(_ x: Tensor) -> Tensor {
        let y = Tensor(shape: x.shape, requiresGrad: x.requiresGrad)
        let n = x.count
        let px = x.pointer, py = y.pointer
        ParallelLoops.forEachRange(n, grain: 1 << 14) { _, range in
            for i in range {
                let v = px[i]
                py[i] = 0.5 * v * (1 + tanhf(geluScale * (v + geluCubic * v * v * v)))
            }
        }
        guard y.requiresGrad else { return y }
        record {
            let dy = y.gradPointer, dx = x.gradPointer
            ParallelLoops.forEachRange(n, grain: 1 << 14) { _, range in
                for i in range {
                    let v = px[i]
                    let t = tanhf(geluScale * (v + geluCubic * v * v * v))
                    let inner = geluScale * (1 + 3 * geluCubic * v * v)
                    dx[i] += dy[i] * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * inner)
                }
            }
        }
        return y
    }
}

private let geluScale: Float = 0.7978845608028654  // √(2/π)
private let geluCubic: Float = 0.044715
