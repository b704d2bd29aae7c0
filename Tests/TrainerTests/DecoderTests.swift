import Autograd
import Configuration
import Foundation
import Model
import TestSupport
import Trainer
import XCTest

final class DecoderTests: XCTestCase {
    /// A non-recording tape (validation) gives the same loss and keeps nothing for backward.
    func testInferenceTapeRecordsNothing() {
        let config = ModelConfig(vocabSize: 11, dModel: 8, layers: 2, heads: 2, ffn: 16, seqLen: 5)
        let decoder = CM3LeonDecoder(config: config, seed: 4)
        let batch = TokenBatch(
            microBatch: 1, seqLen: 5, inputs: [1, 4, 9, 2, 2], targets: [4, 9, 2, 2, 5],
            weights: [Float](repeating: 1, count: 5))
        let recording = Tape(), inference = Tape(recording: false)
        let trained = decoder.loss(batch, tape: recording)
        let evaluated = decoder.loss(batch, tape: inference)
        XCTAssertEqual(trained.scalar, evaluated.scalar)
        XCTAssertGreaterThan(recording.count, 10)
        XCTAssertEqual(inference.count, 0)
        XCTAssertFalse(evaluated.requiresGrad)
    }

    /// Activation checkpointing changes memory, not numbers: the same loss and the same
    /// gradients, bit for bit, as keeping every activation.
    func testCheckpointedBlocksGiveTheSameGradients() {
        let config = ModelConfig(vocabSize: 11, dModel: 8, layers: 3, heads: 2, ffn: 16, seqLen: 5)
        let decoder = randomizedDecoder(config, seed: 4)
        let batch = TokenBatch(
            microBatch: 2, seqLen: 5, inputs: [1, 4, 9, 2, 2, 0, 10, 3, 3, 7],
            targets: [4, 9, 2, 2, 5, 10, 3, 3, 7, 1], weights: [Float](repeating: 1, count: 10))
        var results: [(Float, [[Float]])] = []
        for checkpoint in [false, true] {
            decoder.zeroGrad()
            let tape = Tape()
            let loss = decoder.loss(batch, tape: tape, checkpointBlocks: checkpoint)
            tape.backward(from: loss)
            results.append((loss.scalar, decoder.parameters.map { $0.tensor.gradValues }))
        }
        XCTAssertEqual(results[0].0, results[1].0)
        XCTAssertEqual(results[0].1, results[1].1)
        XCTAssertGreaterThan(results[0].1[2].map(abs).max()!, 0)
    }

    /// The whole decoder's loss and every parameter's gradient against central finite
    /// differences of the Double reference decoder, with each `model.activation`. Output
    /// layers are randomised first: at init they are zero, which makes q, k, v and fc1
    /// gradients exactly zero.
    func testWholeDecoderGradientsMatchFiniteDifferences() {
        checkWholeDecoder(.gelu, reference: Reference.gelu)
    }

    /// ReLU's kink at 0 spoils finite differences only where a step of h = 1e-5 crosses it;
    /// no fc1 output of this decoder comes that close.
    func testWholeDecoderGradientsWithReluMatchFiniteDifferences() {
        checkWholeDecoder(.relu, reference: Reference.relu)
    }

    func checkWholeDecoder(
        _ activation: ModelConfig.Activation, reference activationReference: @escaping ([Double]) -> [Double],
        file: StaticString = #filePath, line: UInt = #line
    ) {
        let config = ModelConfig(
            vocabSize: 11, dModel: 8, layers: 2, heads: 2, ffn: 16, seqLen: 5, activation: activation)
        let decoder = randomizedDecoder(config, seed: 3)
        let batch = TokenBatch(
            microBatch: 2, seqLen: 5,
            inputs: [1, 4, 9, 2, 2, 0, 10, 3, 3, 7], targets: [4, 9, 2, 2, 5, 10, 3, 3, 7, -1],
            weights: [1, 1, 0, 1, 0.5, 1, 1, 2, 1, 0])
        let tape = Tape()
        let loss = decoder.loss(batch, tape: tape)
        tape.backward(from: loss)

        let reference = ReferenceDecoder(d: 8, heads: 2, layers: 2, batch: 2, seq: 5, activation: activationReference)
        let base = decoder.parameters.map { $0.tensor.values.map(Double.init) }
        let weights = batch.weights.map(Double.init)
        func objective(_ values: [[Double]]) -> Double {
            reference.loss(values, inputs: batch.inputs, targets: batch.targets, weights: weights)
        }
        XCTAssertEqual(Double(loss.scalar), objective(base), accuracy: 1e-5, "\(activation)", file: file, line: line)
        let h = 1e-5
        for (index, parameter) in decoder.parameters.enumerated() {
            var numeric: [Double] = [], analytic: [Double] = []
            for position in stride(from: 0, to: parameter.tensor.count, by: max(1, parameter.tensor.count / 24)) {
                var plus = base, minus = base
                plus[index][position] += h
                minus[index][position] -= h
                numeric.append((objective(plus) - objective(minus)) / (2 * h))
                analytic.append(Double(parameter.tensor.grad[position]))
            }
            let scale = max(numeric.map(abs).max()!, 1e-6)
            let error = zip(numeric, analytic).map { abs($0 - $1) }.max()!
            XCTAssertLessThanOrEqual(
                error / scale, 1e-3, "\(activation) \(parameter.name): error \(error), scale \(scale)",
                file: file, line: line)
        }
    }

    /// A decoder whose every parameter, the zero-initialised output layers included, is
    /// random (std 0.5), so every gradient is non-trivial.
    func randomizedDecoder(_ config: ModelConfig, seed: UInt64) -> CM3LeonDecoder {
        let decoder = CM3LeonDecoder(config: config, seed: seed)
        for (index, parameter) in decoder.parameters.enumerated() {
            let values = randomValues(parameter.tensor.count, seed: "\(seed)/\(index)", scale: 0.5)
            for i in 0..<values.count { parameter.tensor.data[i] = values[i] }
        }
        return decoder
    }
}
