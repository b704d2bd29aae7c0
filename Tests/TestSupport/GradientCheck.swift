import Autograd
import Randomness
import XCTest

/// Random normal values from a fixed stream (tests are deterministic).
public func randomValues(_ count: Int, seed: String, scale: Double = 1) -> [Float] {
    var generator = SplitMix64(seed: 42, name: seed)
    return (0..<count).map { _ in Float(generator.nextNormal() * scale) }
}

/// Checks an op's forward against a Double reference and its backward against central
/// finite differences of that reference.
///
/// The op's output `y` is given a random upstream gradient `c`; the analytic gradient of
/// `Σ c·y` with respect to each input (from the tape) must match `(f(x+h) − f(x−h)) / 2h`
/// computed in Double on the same (Float-rounded) inputs. Large inputs are checked at 96
/// sampled positions.
public func checkGradients(
    _ inputs: [Tensor],
    forward: (Tape, [Tensor]) -> Tensor,
    reference: ([[Double]]) -> [Double],
    tolerance: Double = 1e-3,
    file: StaticString = #filePath, line: UInt = #line
) {
    let tape = Tape()
    let output = forward(tape, inputs)
    let upstream = randomValues(output.count, seed: "upstream")
    for i in 0..<output.count { output.grad[i] = upstream[i] }
    tape.backward()

    let base = inputs.map { $0.values.map(Double.init) }
    let expected = reference(base)
    XCTAssertEqual(expected.count, output.count, "reference output size", file: file, line: line)
    let forwardScale = max(expected.map(abs).max() ?? 0, 1e-6)
    let forwardError = zip(expected, output.values).map { abs($0 - Double($1)) }.max() ?? 0
    XCTAssertLessThanOrEqual(
        forwardError / forwardScale, 1e-4, "forward differs from the Double reference", file: file, line: line)

    func objective(_ values: [[Double]]) -> Double {
        zip(reference(values), upstream).map { $0 * Double($1) }.reduce(0, +)
    }
    let h = 1e-4
    for (index, input) in inputs.enumerated() where input.requiresGrad {
        var generator = SplitMix64(seed: 7, name: "positions")
        let positions =
            input.count <= 96
            ? Array(0..<input.count)
            : (0..<96).map { _ in Int(generator.next() % UInt64(input.count)) }
        var numeric: [Double] = [], analytic: [Double] = []
        for position in positions {
            var plus = base, minus = base
            plus[index][position] += h
            minus[index][position] -= h
            numeric.append((objective(plus) - objective(minus)) / (2 * h))
            analytic.append(Double(input.grad[position]))
        }
        let scale = max(numeric.map(abs).max() ?? 0, 1e-6)
        let error = zip(numeric, analytic).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(
            error / scale, tolerance,
            "input \(index): max |analytic − numeric| = \(error), max |numeric| = \(scale)",
            file: file, line: line)
    }
}

public func tensor(_ shape: [Int], seed: String, scale: Double = 1, requiresGrad: Bool = true) -> Tensor {
    Tensor(
        shape: shape, values: randomValues(shape.reduce(1, *), seed: seed, scale: scale), requiresGrad: requiresGrad)
}
