/// Vectorised row kernels for the softmax loops (attention, cross-entropy), where a scalar
/// `expf` per element (~7 ns here) would cost more than the matrix products around them.
///
/// Written with SIMD arithmetic operators only: Swift's generic SIMD helpers (`rounded`,
/// `clamped`, lane conversions, `max()`) compile to per-lane calls and ran 30× slower.

typealias FloatVector = SIMD8<Float>
typealias IntVector = SIMD8<Int32>

/// `e^x` lane-wise, Cephes `expf`: range reduction by ln 2, degree-6 polynomial, scaling by
/// 2ⁿ through the exponent bits. Relative error ≤ 2e−7 for x in [−87, 88]; inputs outside
/// are clamped (giving ≈ 1e−38 instead of 0, ≈ 2e38 instead of ∞).
@inline(__always)
func exponential(_ input: FloatVector) -> FloatVector {
    var x = input
    x.replace(with: FloatVector(repeating: -87.3), where: x .< FloatVector(repeating: -87.3))
    x.replace(with: FloatVector(repeating: 88.3), where: x .> FloatVector(repeating: 88.3))
    // Adding 1.5·2²³ rounds x·log₂e to an integer held in the low mantissa bits.
    let shifter = FloatVector(repeating: 12_582_912)
    let shifted = x * 1.442_695_04 + shifter
    let n = shifted - shifter
    let r = x - n * 0.693_359_375 + n * 2.121_944_4e-4
    var p = FloatVector(repeating: 1.987_569_15e-4)
    p = p * r + 1.398_199_950_7e-3
    p = p * r + 8.333_451_907_3e-3
    p = p * r + 4.166_579_589_4e-2
    p = p * r + 1.666_666_545_9e-1
    p = p * r + 5.000_000_120_1e-1
    p = p * (r * r) + r + 1
    let exponentBits = (unsafeBitCast(shifted, to: IntVector.self) &- 0x4B40_0000 &+ 127) &<< 23
    return p * unsafeBitCast(exponentBits, to: FloatVector.self)
}

/// `tanh(x) = 1 − 2 / (e^{2x} + 1)` lane-wise; absolute error ≈ 1e−7 (relative error is
/// larger near 0, where GELU multiplies it by x anyway).
@inline(__always)
func hyperbolicTangent(_ x: FloatVector) -> FloatVector {
    1 - 2 / (exponential(x + x) + 1)
}

@inline(__always)
func load(_ pointer: UnsafePointer<Float>) -> FloatVector {
    UnsafeRawPointer(pointer).loadUnaligned(as: FloatVector.self)
}

@inline(__always)
func store(_ value: FloatVector, _ pointer: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(pointer).storeBytes(of: value, as: FloatVector.self)
}

/// Largest of `row[0..<count]`.
@inline(__always)
func rowMaximum(_ row: UnsafePointer<Float>, _ count: Int) -> Float {
    var best = FloatVector(repeating: -.infinity)
    var j = 0
    while j + 8 <= count {
        let v = load(row + j)
        best.replace(with: v, where: v .> best)
        j += 8
    }
    var result = -Float.infinity
    for lane in 0..<8 where best[lane] > result { result = best[lane] }
    while j < count { if row[j] > result { result = row[j] }; j += 1 }
    return result
}

/// `row[j] = e^(row[j] − shift)` for `j < count`; returns the sum of the new values.
@inline(__always)
func exponentiateRow(_ row: UnsafeMutablePointer<Float>, _ count: Int, shift: Float) -> Float {
    var sum = FloatVector()
    var j = 0
    while j + 8 <= count {
        let e = exponential(load(row + j) - shift)
        store(e, row + j)
        sum += e
        j += 8
    }
    var total: Float = 0
    for lane in 0..<8 { total += sum[lane] }
    while j < count {
        let e = exponential(FloatVector(repeating: row[j] - shift))[0]
        row[j] = e
        total += e
        j += 1
    }
    return total
}

/// `row[j] *= factor` for `j < count`.
@inline(__always)
func scaleRow(_ row: UnsafeMutablePointer<Float>, _ count: Int, by factor: Float) {
    var j = 0
    while j + 8 <= count { store(load(row + j) * factor, row + j); j += 8 }
    while j < count { row[j] *= factor; j += 1 }
}

/// One attention row's softmax backward, fused with recomputing its probabilities in the
/// same trip through memory: `p[j] = e^(p[j] − shift)` (the scores become probabilities),
/// then `gradient[j] = p[j] · (gradient[j] − delta)` (dP becomes dS), for `j < count`.
@inline(__always)
func softmaxGradientRow(
    _ p: UnsafeMutablePointer<Float>, _ gradient: UnsafeMutablePointer<Float>,
    _ count: Int, shift: Float, delta: Float
) {
    var j = 0
    while j + 8 <= count {
        let e = exponential(load(p + j) - shift)
        store(e, p + j)
        store(e * (load(gradient + j) - delta), gradient + j)
        j += 8
    }
    while j < count {
        let e = exponential(FloatVector(repeating: p[j] - shift))[0]
        p[j] = e
        gradient[j] = e * (gradient[j] - delta)
        j += 1
    }
}
