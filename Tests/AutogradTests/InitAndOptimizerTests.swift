import Autograd
import Foundation
import Optim
import XCTest

final class InitAndOptimizerTests: XCTestCase {
    /// 1M draws of Normal(0, 0.006) cut at ±3σ: the truncated law has standard deviation
    /// 0.006·√(1 − 6φ(3)/(2Φ(3) − 1)) = 0.0059195, mean 0, and nothing beyond ±0.018.
    func testTruncatedNormalMatchesTheTruncatedLaw() {
        let count = 1_000_000
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        var generator = SplitMix64(seed: 1, name: "decoder.layers.0.fc1.weight")
        Initializer.truncatedNormal(buffer, std: 0.006, generator: &generator)
        let mean = buffer.reduce(0.0) { $0 + Double($1) } / Double(count)
        let variance = buffer.reduce(0.0) { $0 + (Double($1) - mean) * (Double($1) - mean) } / Double(count)
        // Standard errors: mean 0.0059/√n ≈ 6e−6, standard deviation 0.0059/√(2n) ≈ 4e−6.
        XCTAssertEqual(mean, 0, accuracy: 3e-5)
        XCTAssertEqual(variance.squareRoot(), 0.0059195, accuracy: 2e-5)
        XCTAssertLessThanOrEqual(buffer.map(abs).max()!, Float(0.018))
        // The law really is cut: an untruncated normal would put ~2700 values past 3σ and
        // many within 1% of it; the truncated one still reaches close to the edge.
        XCTAssertGreaterThan(buffer.map(abs).max()!, Float(0.0175))
    }

    func testStreamsDependOnlyOnSeedAndName() {
        var a = SplitMix64(seed: 3, name: "x"), b = SplitMix64(seed: 3, name: "x")
        var c = SplitMix64(seed: 3, name: "y"), d = SplitMix64(seed: 4, name: "x")
        let first = a.next()
        XCTAssertEqual(first, b.next())
        XCTAssertNotEqual(first, c.next())
        XCTAssertNotEqual(first, d.next())
    }

    /// One AdamW step from zero moments: m̂ = g, v̂ = g², so
    /// p₁ = p₀·(1 − lr·wd) − lr·g / (|g| + eps).
    func testOneAdamWStepMatchesClosedForm() {
        let parameter = Tensor(shape: [4], values: [1, -2, 0.5, 3], requiresGrad: true)
        let gradients: [Float] = [0.1, -0.3, 0, 2]
        for i in 0..<4 { parameter.grad[i] = gradients[i] }
        let optimizer = AdamW(parameters: [parameter])
        let lr: Float = 1e-2
        optimizer.step(lr: lr)
        for i in 0..<4 {
            let p0 = Double([1, -2, 0.5, 3][i]), g = Double(gradients[i])
            let expected = p0 * (1 - 1e-2 * 0.1) - 1e-2 * g / (abs(g) + 1e-8)
            XCTAssertEqual(Double(parameter.data[i]), expected, accuracy: 1e-6)
        }
        XCTAssertEqual(optimizer.expAvg[0].values[1], -0.03, accuracy: 1e-7)
        XCTAssertEqual(optimizer.expAvgSq[0].values[3], 0.05 * 4, accuracy: 1e-6)
    }
}
