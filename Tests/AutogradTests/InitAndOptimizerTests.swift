import Autograd
import Foundation
import Optim
import Randomness
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
    /// p₁ = p₀·(1 − lr·wd) − lr·g / (|g| + eps); without weight decay the first factor is 1.
    func testOneAdamWStepMatchesClosedForm() throws {
        let initial: [Float] = [1, -2, 0.5, 3], gradients: [Float] = [0.1, -0.3, 0, 2]
        let decayed = Tensor(shape: [4], values: initial, requiresGrad: true)
        let plain = Tensor(shape: [4], values: initial, requiresGrad: true)
        for i in 0..<4 { decayed.grad[i] = gradients[i]; plain.grad[i] = gradients[i] }
        let optimizer = AdamW(parameters: [("decayed", decayed, true), ("plain", plain, false)])
        optimizer.step(lr: 1e-2)
        for i in 0..<4 {
            let p0 = Double(initial[i]), g = Double(gradients[i])
            XCTAssertEqual(Double(decayed.data[i]), p0 * (1 - 1e-2 * 0.1) - 1e-2 * g / (abs(g) + 1e-8), accuracy: 1e-6)
            XCTAssertEqual(Double(plain.data[i]), p0 - 1e-2 * g / (abs(g) + 1e-8), accuracy: 1e-6)
        }
        let state = try XCTUnwrap(optimizer.state(named: "decayed"))
        XCTAssertTrue(state.parameter === decayed)
        XCTAssertEqual(state.expAvg.values[1], -0.03, accuracy: 1e-7)
        XCTAssertEqual(state.expAvgSq.values[3], 0.05 * 4, accuracy: 1e-6)
    }
}
