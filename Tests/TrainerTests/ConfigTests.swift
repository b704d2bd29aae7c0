import Foundation
import CM3Objective
import Configuration
import Diagnostics
import Model
import TestSupport
import Trainer
import XCTest

final class ConfigTests: XCTestCase {
    let valid = """
        model:
          vocab_size: 512
          d_model: 64
          layers: 2
          heads: 4
          ffn: 256
          seq_len: 64
        train:
          micro_batch: 8
        optim:
          peak_lr: 5.0e-3
        """

    func testValidConfigParses() throws {
        let config = try TesseraConfig.parse(valid, source: "ok.yaml")
        XCTAssertEqual(
            config.model, ModelConfig(vocabSize: 512, dModel: 64, layers: 2, heads: 4, ffn: 256, seqLen: 64))
        XCTAssertEqual(config.model.activation, .gelu, "GELU unless model.activation says otherwise")
        XCTAssertEqual(config.optim.peakLr, 5e-3)
        XCTAssertEqual(config.train.microBatch, 8)
    }

    /// Each bad edit gives a ConfigError naming the file and the dotted key.
    func testBadConfigsNameTheFileAndKey() throws {
        let cases: [(edit: (String) throws -> String, key: String, words: String)] = [
            ({ try $0.replacingOnce("  ffn: 256\n", with: "") }, "model.ffn", "missing"),
            ({ try $0.replacingOnce("d_model:", with: "d_modle:") }, "model.d_modle", "did you mean 'd_model'"),
            ({ try $0.replacingOnce("layers: 2", with: "layers: two") }, "model.layers", "expected an integer"),
            ({ try $0.replacingOnce("seq_len: 64", with: "seq_len: 0") }, "model.seq_len", "must be positive"),
            (
                { try $0.replacingOnce("micro_batch: 8", with: "micro_batch: -3") }, "train.micro_batch",
                "must be positive"
            ),
            ({ try $0.replacingOnce("peak_lr: 5.0e-3", with: "peak_lr: fast") }, "optim.peak_lr", "expected a number"),
            (
                { try $0.replacingOnce("peak_lr: 5.0e-3", with: "peak_lr: 5.0e-3\n  decay: step") }, "optim.decay",
                "expected linear or cosine"
            ),
            (
                { try $0.replacingOnce("seq_len: 64", with: "seq_len: 64\n  activation: swiglu") }, "model.activation",
                "expected gelu or relu, got 'swiglu'"
            ),
            ({ try $0.replacingOnce("heads: 4", with: "heads: 3") }, "model.heads", "does not divide"),
            ({ $0 + "\noptimizer:\n  lr: 1\n" }, "optimizer", "unknown key"),
            (
                {
                    try $0.replacingOnce(
                        "micro_batch: 8", with: "micro_batch: 8\n  accumulation: 2\n  batch_tokens: 1024")
                }, "train.accumulation", "not both"
            )
        ]
        for (edit, key, words) in cases {
            let bad = try edit(valid)
            XCTAssertThrowsError(try TesseraConfig.parse(bad, source: "bad.yaml"), key) { error in
                let text = "\(error)"
                XCTAssertTrue(text.hasPrefix("bad.yaml: \(key): "), "got: \(text)")
                XCTAssertTrue(text.contains(words), "got: \(text)")
                XCTAssertFalse(text.contains("\n"), "one line: \(text)")
            }
        }
    }

    /// `--set` replaces file values, creates sections, and names unknown keys.
    func testOverrides() throws {
        let config = try TesseraConfig.parse(
            valid, source: "ok.yaml",
            overrides: [
                "optim.peak_lr": "3e-4", "model.d_model": "128",
                "parallel.tp": "2", "train.total_tokens": "1.4e12"
            ])
        XCTAssertEqual(config.optim.peakLr, 3e-4)
        XCTAssertEqual(config.model.dModel, 128)
        XCTAssertEqual(config.parallel.tp, 2)
        XCTAssertEqual(config.train.totalTokens, 1.4e12)
        XCTAssertThrowsError(try TesseraConfig.parse(valid, source: "ok.yaml", overrides: ["optim.peak_lrr": "1"])) {
            XCTAssertEqual("\($0)", "--set: optim.peak_lrr: unknown key")
        }
        XCTAssertThrowsError(try TesseraConfig.parse(valid, source: "ok.yaml", overrides: ["model.layers": "many"])) {
            XCTAssertEqual("\($0)", "ok.yaml: model.layers: expected an integer, got 'many'")
        }
    }

    /// Steps and accumulation from Table 3's tokens: 8,388,608 tokens per batch.
    func testStepsAndAccumulationFromTokens() throws {
        let config = try TesseraConfig.parse(
            valid, source: "ok.yaml",
            overrides: [
                "model.seq_len": "4096", "train.micro_batch": "1", "train.batch_tokens": "8388608",
                "train.total_tokens": "1.4e12"
            ])
        XCTAssertEqual(try config.train.accumulation(seqLen: 4096, dp: 8), 256)
        XCTAssertEqual(try config.train.totalSteps(seqLen: 4096, dp: 8), 166_894)
        XCTAssertThrowsError(try config.train.accumulation(seqLen: 4096, dp: 3)) {
            XCTAssertEqual(
                "\($0)", "train.batch_tokens 8388608 is not a multiple of micro_batch 1 × seq_len 4096 × dp 3 = 12288")
        }
    }

    /// Table 3's runs as the shipped configs derive them: 2048 sequences of 4096 tokens per
    /// step whatever the dp, total tokens over that batch (rounded up) in steps, and the
    /// schedule from the file's optim section: 0 at step 0, the peak at the end of the
    /// 1500-step warmup, 0.1·peak at the last step.
    func testShippedConfigsDeriveTheRecipeSchedule() throws {
        for (name, steps, peak) in [("350m", 166_894, 6e-4), ("760m", 226_498, 5e-4), ("7b", 286_103, 1.2e-4)] {
            let config = try TesseraConfig.load(path: ProjectPaths.config(name))
            let train = config.train, seqLen = config.model.seqLen
            for dp in [1, 2, 8] {
                let accumulation = try train.accumulation(seqLen: seqLen, dp: dp)
                XCTAssertEqual(train.microBatch * accumulation * dp * seqLen, 8_388_608, "\(name) dp \(dp)")
                XCTAssertEqual(try train.totalSteps(seqLen: seqLen, dp: dp), steps, "\(name) dp \(dp)")
            }
            let schedule = config.optim.schedule(totalSteps: steps)
            XCTAssertEqual(schedule.decay, .linear, name)
            XCTAssertEqual(schedule(0), 0, name)
            XCTAssertEqual(schedule(1500), peak, accuracy: peak * 1e-12, name)
            XCTAssertEqual(schedule(steps - 1), 0.1 * peak, accuracy: peak * 1e-12, name)
        }
    }

    /// Table 4's fine-tuning runs: the pretrained model of each size, seq 4096, a 2M-token
    /// batch (512 × 4096), 30B tokens, LR 5e-5 after 150 warm-up steps, the 3/0.3 sampling
    /// limits, task templates instead of retrieval, and the pretraining run's last step.
    func testFineTuningConfigsHoldTable4() throws {
        for (name, pretraining) in [("760m", 226_498), ("7b", 286_103)] {
            let config = try TesseraConfig.load(path: ProjectPaths.config("sft-\(name)"))
            let pretrained = try TesseraConfig.load(path: ProjectPaths.config(name))
            XCTAssertEqual(config.model, pretrained.model, name)
            XCTAssertEqual(config.model.seqLen, 4096)
            XCTAssertEqual(config.train.batchTokens, 2_097_152, name)
            XCTAssertEqual(config.train.totalTokens, 3e10, name)
            XCTAssertEqual(try config.train.totalSteps(seqLen: 4096, dp: 1), 14_306, name)  // ⌈3e10 / 2,097,152⌉
            XCTAssertEqual(config.optim.peakLr, 5e-5, name)
            XCTAssertEqual(config.optim.warmup, 150, name)
            XCTAssertEqual(config.data.taskSampling, TaskSampling(upsampleLimit: 3, downsampleLimit: 0.3), name)
            // Relative to the config's folder, as every data path is.
            let configFolder = URL(fileURLWithPath: ProjectPaths.config("sft-\(name)")).deletingLastPathComponent()
            XCTAssertEqual(config.data.tasks, configFolder.appendingPathComponent("tasks/shapes.yaml").path, name)
            XCTAssertFalse(config.data.retrieval, name)
            XCTAssertEqual(
                config.train.initFrom, String(format: "runs/%@/checkpoints/step-%08d.h5", name, pretraining), name)
        }
    }

    func testMissingModelSectionAndBrokenYaml() {
        XCTAssertThrowsError(try TesseraConfig.parse("train:\n  steps: 3\n", source: "a.yaml")) {
            XCTAssertEqual("\($0)", "a.yaml: model: missing")
        }
        XCTAssertThrowsError(try TesseraConfig.parse("model: [1, 2\n", source: "b.yaml")) {
            XCTAssertTrue("\($0)".hasPrefix("b.yaml: not valid YAML"), "\($0)")
        }
        XCTAssertThrowsError(try TesseraConfig.load(path: "/nonexistent/c.yaml")) {
            XCTAssertEqual("\($0)", "/nonexistent/c.yaml: cannot read the file")
        }
    }

    /// CM3Leon Table 3 sizes; tied head, no bias, learned positions over seq 4096.
    func testParameterCountsOfTheThreeConfigs() throws {
        XCTAssertEqual(
            try TesseraConfig.load(path: ProjectPaths.config("350m")).model.parameterTable.parameterCount, 372_244_480)
        XCTAssertEqual(
            try TesseraConfig.load(path: ProjectPaths.config("760m")).model.parameterTable.parameterCount, 784_859_136)
        XCTAssertEqual(
            try TesseraConfig.load(path: ProjectPaths.config("7b")).model.parameterTable.parameterCount, 6_723_469_312)
    }

    /// The formula: 6·(12·L·d² + V·d) + 12·L·d·seq when ffn = 4d.
    func testFlopsPerToken() throws {
        let model = try TesseraConfig.load(path: ProjectPaths.config("350m")).model
        let (l, d, v, s) = (24.0, 1024.0, 64512.0, 4096.0)
        XCTAssertEqual(model.parameterTable.trainingFlopsPerToken, 6 * (12 * l * d * d + v * d) + 12 * l * d * s)
    }
}

final class ConfigYAMLTests: XCTestCase {
    /// The resolved YAML reads back to the same config, for every shipped config.
    func testResolvedYAMLRoundTrips() throws {
        for name in ["tiny", "350m", "760m", "7b", "sft-760m", "sft-draw"] {
            var config = try TesseraConfig.load(path: ProjectPaths.config(name), overrides: ["optim.peak_lr": "3e-4"])
            let again = try TesseraConfig.parse(config.yaml, source: "resolved.yaml")
            config.source = "resolved.yaml"
            XCTAssertEqual(again, config, name)
        }
    }
}
