import Foundation

/// Pointwise ops: residual add, and the MLP activations: GELU (tanh form, as GPT-2 uses)
/// and ReLU (as OPT uses, through metaseq).
extension Tape {
    /// `a + b`, same shapes.
    public func add(_ a: Tensor, _ b: Tensor) -> Tensor {
        precondition(a.shape == b.shape, "add: shapes \(a.shape) and \(b.shape) differ")
        let y = Tensor(uninitializedShape: a.shape, requiresGrad: tracks(a, b))
        let n = a.count
        let pa = a.pointer, pb = b.pointer, py = y.pointer
        ParallelLoops.forEachRange(n, grain: 1 << 16) { _, range in
            for i in range { py[i] = pa[i] + pb[i] }
        }
        guard y.requiresGrad else { return y }
        record {
            let dy = y.gradPointer
            for input in [a, b] where input.requiresGrad {
                input.gradientDestination().put(dy, count: n)
            }
        }
        return y
    }

    /// GELU, tanh approximation: `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`.
    public func gelu(_ x: Tensor) -> Tensor {
        let y = Tensor(uninitializedShape: x.shape, requiresGrad: tracks(x))
        let px = x.pointer, py = y.pointer
        ParallelLoops.forEachRange(x.count, grain: 1 << 14) { _, range in
            mapVectors(range, px, into: py) { v, _ in 0.5 * v * (1 + geluTanh(v)) }
        }
        guard y.requiresGrad else { return y }
        // The closure holds x and y themselves, so their buffers live until backward.
        record {
            let px = x.pointer, dy = y.gradPointer, dx = x.gradientDestination()
            ParallelLoops.forEachRange(x.count, grain: 1 << 14) { _, range in
                mapVectors(range, px, into: dx) { v, i in
                    let t = geluTanh(v)
                    let inner = geluScale * (1 + 3 * geluCubic * v * v)
                    return load(dy, i, range) * (0.5 * (1 + t) + 0.5 * v * (1 - t * t) * inner)
                }
            }
        }
        return y
    }

    /// ReLU: `max(x, 0)`. Its gradient is taken as 0 at x = 0, as PyTorch takes it.
    public func relu(_ x: Tensor) -> Tensor {
        let y = Tensor(uninitializedShape: x.shape, requiresGrad: tracks(x))
        let px = x.pointer, py = y.pointer
        ParallelLoops.forEachRange(x.count, grain: 1 << 14) { _, range in
            mapVectors(range, px, into: py) { v, _ in
                var out = v
                out.replace(with: 0, where: v .< 0)
                return out
            }
        }
        guard y.requiresGrad else { return y }
        // The closure holds x and y themselves, so their buffers live until backward.
        record {
            let px = x.pointer, dy = y.gradPointer, dx = x.gradientDestination()
            ParallelLoops.forEachRange(x.count, grain: 1 << 14) { _, range in
                mapVectors(range, px, into: dx) { v, i in
                    var passed = load(dy, i, range)
                    passed.replace(with: 0, where: v .<= 0)
                    return passed
                }
            }
        }
        return y
    }
}

@inline(__always)
private func geluTanh(_ v: FloatVector) -> FloatVector {
    hyperbolicTangent(geluScale * (v + geluCubic * v * v * v))
}

/// `output[i..<i+8] = body(input[i..<i+8], i)` over `range`, 8 floats at a time; the last,
/// partial vector is zero-padded and only its lanes inside `range` are written.
@inline(__always)
private func mapVectors(
    _ range: Range<Int>, _ input: UnsafePointer<Float>, into output: UnsafeMutablePointer<Float>,
    _ body: (FloatVector, Int) -> FloatVector
) {
    var i = range.lowerBound
    while i + 8 <= range.upperBound {
        store(body(load(input + i), i), output + i)
        i += 8
    }
    guard i < range.upperBound else { return }
    let result = body(load(input, i, range), i)
    for lane in 0..<(range.upperBound - i) { output[i + lane] = result[lane] }
}

/// `gradient[i..<i+8] (+)= body(input[i..<i+8], i)` over `range`: a backward's contribution,
/// added or written as `gradient` says.
@inline(__always)
private func mapVectors(
    _ range: Range<Int>, _ input: UnsafePointer<Float>, into gradient: GradientDestination,
    _ body: (FloatVector, Int) -> FloatVector
) {
    let output = gradient.pointer
    if gradient.accumulate {
        mapVectors(range, input, into: output) { v, i in load(output, i, range) + body(v, i) }
    } else {
        mapVectors(range, input, into: output, body)
    }
}

/// The vector at `pointer + i`, zero-padded past the end of `range`.
@inline(__always)
private func load(_ pointer: UnsafePointer<Float>, _ i: Int, _ range: Range<Int>) -> FloatVector {
    if i + 8 <= range.upperBound { return load(pointer + i) }
    var vector = FloatVector()
    for lane in 0..<(range.upperBound - i) { vector[lane] = pointer[i + lane] }
    return vector
}

private let geluScale: Float = 0.7978845608028654  // √(2/π)
private let geluCubic: Float = 0.044715
