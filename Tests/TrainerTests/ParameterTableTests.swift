import Checkpointing
import Configuration
import Foundation
import HDF5
import Model
import TestSupport
import Trainer
import XCTest

/// The parameter table is the one declaration of the model's tensors: the decoder, the
/// optimizer and checkpoints must all agree with it.
final class ParameterTableTests: XCTestCase {
    let model = ModelConfig(vocabSize: 64, dModel: 16, layers: 2, heads: 2, ffn: 32, seqLen: 8)

    /// metaseq's names and PyTorch's `[out, in]` shapes; Megatron's splits; zero output layers.
    func testTheTableSpellsMetaseqNamesShapesAndSplits() {
        let specs = model.parameterTable.specs
        XCTAssertEqual(specs.count, 2 + 6 * model.layers)
        let layer1 = specs.filter { $0.name.hasPrefix("decoder.layers.1.") }
        XCTAssertEqual(
            layer1.map(\.name),
            ["q_proj", "k_proj", "v_proj", "out_proj"].map { "decoder.layers.1.self_attn.\($0).weight" }
                + ["decoder.layers.1.fc1.weight", "decoder.layers.1.fc2.weight"])
        XCTAssertEqual(layer1.map(\.shape), [[16, 16], [16, 16], [16, 16], [16, 16], [32, 16], [16, 32]])
        XCTAssertEqual(layer1.map(\.split), [.rows, .rows, .rows, .columns, .rows, .columns])
        XCTAssertEqual(specs[0].name, "decoder.embed_tokens.weight")
        XCTAssertEqual(specs[0].split, .rows)
        XCTAssertEqual(specs[1].name, "decoder.embed_positions.weight")
        XCTAssertEqual(specs[1].split, .replicated)
        let zero = specs.filter { if case .zero = $0.initializer { true } else { false } }.map(\.name)
        XCTAssertEqual(
            zero,
            (0..<2).flatMap { ["decoder.layers.\($0).self_attn.out_proj.weight", "decoder.layers.\($0).fc2.weight"] })
        XCTAssertTrue(specs.allSatisfy(\.weightDecay), "metaseq decays every CM3Leon weight")
        XCTAssertEqual(model.parameterTable.parameterCount, 64 * 16 + 8 * 16 + 2 * (4 * 16 * 16 + 2 * 16 * 32))
        XCTAssertEqual(
            model.parameterTable.parametersPerRank(tp: 2), (64 * 16 + 2 * (4 * 16 * 16 + 2 * 16 * 32)) / 2 + 8 * 16)
    }

    /// The decoder builds exactly the table's tensors, and AdamW keys its state by their names.
    func testDecoderAndOptimizerFollowTheTable() throws {
        let step = TrainingStep(model: model, seed: 1, context: .single())
        let specs = model.parameterTable.specs
        XCTAssertEqual(step.decoder.parameters.map(\.name), specs.map(\.name))
        XCTAssertEqual(step.decoder.parameters.map(\.tensor.shape), specs.map(\.shape))
        XCTAssertEqual(step.optimizer.states.map(\.name), specs.map(\.name))
        XCTAssertEqual(step.optimizer.states.map(\.weightDecay), specs.map(\.weightDecay))
        for parameter in step.decoder.parameters {
            XCTAssertTrue(try XCTUnwrap(step.optimizer.state(named: parameter.name)).parameter === parameter.tensor)
        }
    }

    /// A checkpoint holds each table entry's values and both AdamW moments, and nothing else.
    func testCheckpointsHoldTheTablesTensors() throws {
        let (config, directory) = try trainTiny(["train.steps": "1", "train.eval_interval": "0"])
        let file = try HDF5File.open(directory.appendingPathComponent("checkpoints/step-00000001.h5").path)
        let expected = config.model.parameterTable.specs.flatMap {
            [$0.name, "optimizer/exp_avg/\($0.name)", "optimizer/exp_avg_sq/\($0.name)"]
        }
        XCTAssertEqual(Set(file.datasetNames()), Set(expected))
        for spec in config.model.parameterTable.specs { XCTAssertEqual(try file.shape(of: spec.name), spec.shape) }
    }
}
