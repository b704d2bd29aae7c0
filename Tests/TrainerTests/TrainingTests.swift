import Autograd
import Checkpointing
import Configuration
import Foundation
import Model
import TestSupport
import Trainer
import XCTest

final class TrainingTests: XCTestCase {
    /// Zero-initialised output layers make every block the identity at step 0, and the
    /// 0.006-std tied head gives near-uniform logits: loss = ln(vocab) within 0.01, on
    /// configs/tiny.yaml as shipped (the default corpus). The tied head gives "next token =
    /// this token" a logit of ≈ 0.006·d, which is why the corpus never repeats a token.
    func testStepZeroLossIsLogVocabulary() throws {
        var config = try TesseraConfig.load(path: ProjectPaths.config("tiny"))
        config.train.steps = 1
        var loop = TrainingLoop(config: config)
        loop.log = { _ in }
        let first = try loop.run().records[0]
        XCTAssertEqual(first.loss, log(Double(config.model.vocabSize)), accuracy: 0.01)
    }

    /// The tiny model can fit one fixed batch of the default corpus: loss below 0.1 within
    /// 300 steps.
    func testTinyModelFitsOneFixedBatch() throws {
        var config = try TesseraConfig.load(path: ProjectPaths.config("tiny"))
        config.train.steps = 300
        config.train.fixedBatch = true
        var loop = TrainingLoop(config: config)
        loop.log = { _ in }
        let records = try loop.run().records
        let firstBelow = records.firstIndex { $0.loss < 0.1 }
        XCTAssertNotNil(firstBelow, "lowest loss \(records.map(\.loss).min()!)")
    }

    /// With `model.activation=relu` the tiny model trains: its loss falls from ln(vocab) (the
    /// identity blocks at init do not depend on the activation) to below half within 60 steps
    /// (to about a fifth, measured).
    func testTinyModelTrainsWithRelu() throws {
        let (config, directory) = try trainTiny(["model.activation": "relu", "train.steps": "60"])
        XCTAssertEqual(config.model.activation, .relu)
        let lines = try String(contentsOfFile: directory.path + "/metrics.jsonl", encoding: .utf8).split(
            separator: "\n")
        let losses = try lines.compactMap { try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            .compactMap { $0["loss"] as? Double }
        XCTAssertEqual(losses.count, 60)
        XCTAssertEqual(losses[0], log(Double(config.model.vocabSize)), accuracy: 0.01)
        let lastTen = losses.suffix(10).reduce(0, +) / 10
        XCTAssertLessThan(lastTen, 0.5 * losses[0], "\(losses)")
        let written = try String(contentsOfFile: directory.path + "/config.yaml", encoding: .utf8)
        XCTAssertTrue(written.contains("  activation: relu\n"), written)
    }

    /// CM3Leon init (metaseq's): output layers zero, positions at std 0.0002, matrices
    /// truncated at ±0.018, and the same weights whatever else is built first.
    func testInitFollowsTheRecipeAndIsKeyedByName() {
        let config = ModelConfig(vocabSize: 100, dModel: 32, layers: 2, heads: 2, ffn: 128, seqLen: 16)
        let decoder = CM3LeonDecoder(config: config, seed: 5)
        for parameter in decoder.parameters {
            let values = parameter.tensor.values
            if parameter.name.hasSuffix("out_proj.weight") || parameter.name.hasSuffix("fc2.weight") {
                XCTAssertTrue(values.allSatisfy { $0 == 0 }, parameter.name)
            } else if parameter.name.contains("embed_positions") {
                let std = (values.map { Double($0 * $0) }.reduce(0, +) / Double(values.count)).squareRoot()
                XCTAssertEqual(std, 0.0002, accuracy: 0.00003)
            } else {
                XCTAssertLessThanOrEqual(values.map(abs).max()!, Float(0.018), parameter.name)
                XCTAssertGreaterThan(values.map(abs).max()!, Float(0.01), parameter.name)
            }
        }
        let other = CM3LeonDecoder(
            config: ModelConfig(vocabSize: 100, dModel: 32, layers: 3, heads: 4, ffn: 128, seqLen: 16), seed: 5)
        let name = "decoder.layers.1.fc1.weight"
        XCTAssertEqual(
            decoder.parameters.first { $0.name == name }!.tensor.values,
            other.parameters.first { $0.name == name }!.tensor.values)
        XCTAssertEqual(
            decoder.parameters.map(\.name).prefix(4),
            [
                "decoder.embed_tokens.weight", "decoder.embed_positions.weight",
                "decoder.layers.0.self_attn.q_proj.weight", "decoder.layers.0.self_attn.k_proj.weight"
            ])
    }

    /// On the default corpus the tiny model halves its step-0 validation perplexity within
    /// 100 steps. (How long that takes is for `launch bench` and the scripts, not a test.)
    func testValidationPerplexityHalves() throws {
        let (_, directory) = try trainTiny(["train.steps": "100", "train.eval_interval": "50"])
        let lines = try String(contentsOfFile: directory.path + "/metrics.jsonl", encoding: .utf8).split(
            separator: "\n")
        let validation = try lines.compactMap {
            try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
        }
        .compactMap { $0["val_ppl"] as? Double }
        XCTAssertEqual(validation.count, 3)
        XCTAssertLessThan(validation.last!, validation.first! / 2, "\(validation)")
    }
}
