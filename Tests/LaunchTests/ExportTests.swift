import Foundation
import HDF5
import TestSupport
import XCTest

/// `launch export`: a checkpoint as a Hugging Face OPT directory. (scripts/check_export.py
/// loads it in `transformers` and compares losses; this test needs no Python.)
final class ExportTests: XCTestCase {
    /// Every tensor of the checkpoint is in model.safetensors under OPT's name, with its
    /// values, in float32, at the byte range the header gives; positions gain OPT's two
    /// leading rows; config.json states the shape and CM3Leon's choices.
    func testSafetensorsHoldTheCheckpointUnderOPTNames() throws {
        let directory = try makeTemporaryDirectory("tessera-export")
        let run = directory.appendingPathComponent("run").path, out = directory.appendingPathComponent("hf").path
        let trained = try runProcess(
            ProjectPaths.launch,
            [
                "train", "--config", ProjectPaths.config("tiny"), "--run", run,
                "--set", "train.steps=2", "--set", "model.activation=relu"
            ])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let checkpoint = run + "/checkpoints/step-00000002.h5"
        let exported = try runProcess(ProjectPaths.launch, ["export", "--checkpoint", checkpoint, "--out", out])
        XCTAssertEqual(exported.status, 0, exported.stderr)

        let config =
            try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/config.json")))
            as! [String: Any]
        XCTAssertEqual(config["model_type"] as? String, "opt")
        XCTAssertEqual(config["hidden_size"] as? Int, 64)
        XCTAssertEqual(config["num_hidden_layers"] as? Int, 2)
        XCTAssertEqual(config["ffn_dim"] as? Int, 256)
        XCTAssertEqual(config["max_position_embeddings"] as? Int, 128)
        XCTAssertEqual(config["activation_function"] as? String, "relu", "the checkpoint's stored config is the model")
        XCTAssertEqual(config["enable_bias"] as? Bool, false)
        XCTAssertEqual(config["layer_norm_elementwise_affine"] as? Bool, false)
        XCTAssertEqual(config["do_layer_norm_before"] as? Bool, true)
        XCTAssertEqual(config["tie_word_embeddings"] as? Bool, true)

        let bytes = try Data(contentsOf: URL(fileURLWithPath: out + "/model.safetensors"))
        let headerLength = Int(
            bytes.prefix(8).enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * UInt64($1.offset)) })
        XCTAssertEqual((8 + headerLength) % 8, 0, "data starts 8-byte aligned")
        let header =
            try JSONSerialization.jsonObject(with: bytes.subdata(in: 8..<(8 + headerLength))) as! [String: Any]
        XCTAssertEqual((header["__metadata__"] as? [String: String])?["format"], "pt")
        let file = try HDF5File.open(checkpoint)
        var names = Set<String>()
        for (name, value) in header where name != "__metadata__" {
            names.insert(name)
            let entry = value as! [String: Any], offsets = entry["data_offsets"] as! [Int],
                shape = entry["shape"] as! [Int]
            XCTAssertEqual(entry["dtype"] as? String, "F32")
            let start = 8 + headerLength + offsets[0], end = 8 + headerLength + offsets[1]
            let values = bytes.subdata(in: start..<end).withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            XCTAssertEqual(values.count, shape.reduce(1, *), name)
            XCTAssertTrue(name.hasPrefix("model."), name)
            let stored = try file.readFloats(String(name.dropFirst("model.".count)))
            if name == "model.decoder.embed_positions.weight" {
                XCTAssertEqual(shape, [130, 64])
                XCTAssertEqual(Array(values.prefix(128)), [Float](repeating: 0, count: 128))
                XCTAssertEqual(Array(values.dropFirst(128)), stored)
            } else {
                XCTAssertEqual(values, stored, name)
            }
        }
        XCTAssertEqual(names.count, 2 + 6 * 2)
        XCTAssertTrue(names.contains("model.decoder.layers.1.fc2.weight"))
    }
}
