import Checkpointing
import Configuration
import Foundation
import TestSupport
import XCTest

/// The key table is the one declaration of the config keys: the doc and the written YAML
/// must come from it and agree with it.
final class ConfigKeyTableTests: XCTestCase {
    /// docs/configuration.md holds the generated table exactly (`launch config-keys` prints it).
    func testDocHoldsTheGeneratedTable() throws {
        let path = ProjectPaths.root.appendingPathComponent("docs/configuration.md").path
        let doc = try String(contentsOfFile: path, encoding: .utf8)
        XCTAssertTrue(
            doc.contains(ConfigKeys.markdownTable),
            "docs/configuration.md is stale: replace its table with the output of `launch config-keys`")
        let tableLines = doc.split(separator: "\n").filter { $0.hasPrefix("|") }
        XCTAssertEqual(tableLines.count, ConfigKeys.all.count + 2, "one table, one row per key")
    }

    /// Every shipped config, resolved and written, reads back to the same config.
    func testShippedConfigsRoundTrip() throws {
        let configs = try FileManager.default.contentsOfDirectory(
            atPath: ProjectPaths.root.appendingPathComponent("configs").path
        )
        .filter { $0.hasSuffix(".yaml") }.sorted()
        XCTAssertFalse(configs.isEmpty)
        for name in configs {
            var config = try TesseraConfig.load(path: ProjectPaths.root.appendingPathComponent("configs/\(name)").path)
            let again = try TesseraConfig.parse(config.yaml, source: "resolved.yaml")
            config.source = "resolved.yaml"
            XCTAssertEqual(again, config, name)
        }
    }

    /// A config with every key away from its default (and every optional key set) round-trips,
    /// so no key can be dropped from the writer unnoticed.
    func testEveryKeyRoundTrips() throws {
        let overrides = [
            "model.vocab_size": "1000", "model.d_model": "48", "model.layers": "3", "model.heads": "6",
            "model.ffn": "96", "model.activation": "relu", "model.seq_len": "80",
            "train.micro_batch": "3", "train.accumulation": "5", "train.steps": "7", "train.total_tokens": "123456",
            "train.seed": "9", "train.fixed_batch": "true", "train.log_interval": "2", "train.eval_interval": "11",
            "train.validate_at_start": "false",
            "train.eval_batches": "6", "train.save_interval": "13", "train.keep_checkpoints": "4",
            "train.activation_checkpointing": "yes", "train.watchdog_seconds": "120",
            "train.init_from": "runs/x/step \"1\".h5",
            "optim.peak_lr": "2.5e-4", "optim.warmup": "17", "optim.decay": "cosine", "optim.final_lr_fraction": "0.2",
            "optim.clip_norm": "0.5", "optim.beta1": "0.8", "optim.beta2": "0.99", "optim.eps": "1e-6",
            "optim.weight_decay": "0.05", "parallel.tp": "2", "parallel.distributed_optimizer": "false",
            "data.train": "[a.h5, \"b c.h5\"]", "data.validation": "v.h5", "data.text_vocab": "600",
            "data.special_tokens.pad": "10", "data.special_tokens.eos": "11", "data.special_tokens.break": "12",
            "data.special_tokens.mask": "13", "data.special_tokens.infill": "14", "data.retrieval": "true",
            "data.synthetic": "true", "data.documents": "30", "data.validation_documents": "7",
            "data.cm3.lambda": "2.5", "data.cm3.min_spans": "2", "data.cm3.max_spans": "5",
            "data.cm3.mask_weight": "0.25",
            "data.block_per_example": "true", "data.tokenizer": "tok/tokenizer.json", "data.image_tokens": "36",
            "data.tasks": "tasks.yaml", "data.neighbours": "shards/neighbours.h5",
            "data.task_sampling.upsample_limit": "4",
            "data.task_sampling.downsample_limit": "0.25"
        ]
        // `accumulation` and `batch_tokens` exclude each other: set one, then the other.
        let withBatchTokens = overrides.merging(["train.batch_tokens": "1920"]) { $1 }.filter {
            $0.key != "train.accumulation"
        }
        XCTAssertEqual(
            Set(overrides.keys).union(withBatchTokens.keys), Set(ConfigKeys.all.map(\.name)), "set every key")
        let model = overrides.filter { $0.key.hasPrefix("model.") }
        let defaults = try TesseraConfig.parse("{}", source: "all.yaml", overrides: model)
        for (name, value) in overrides.merging(withBatchTokens, uniquingKeysWith: { $1 }) where model[name] == nil {
            XCTAssertNotEqual(
                try TesseraConfig.parse("{}", source: "all.yaml", overrides: model.merging([name: value]) { $1 }),
                defaults, "\(name)=\(value) is the default, so the round trip would not test it")
        }
        for pairs in [overrides, withBatchTokens] {
            var config = try TesseraConfig.parse("{}", source: "all.yaml", overrides: pairs)
            let again = try TesseraConfig.parse(config.yaml, source: "again.yaml")
            config.source = "again.yaml"
            XCTAssertEqual(again, config, config.yaml)
        }
    }

    /// One key read back from written YAML (what a checkpoint's `config` holds), without
    /// the rest of the config: nil where it is absent, as in files written before the key.
    func testRecordedValue() throws {
        let config = try TesseraConfig.parse(
            "{}", source: "r.yaml",
            overrides: [
                "model.vocab_size": "16", "model.d_model": "8", "model.layers": "1", "model.heads": "2",
                "model.ffn": "8",
                "model.seq_len": "64", "model.activation": "relu"
            ])
        XCTAssertEqual(Checkpoint.recordedValue("model.activation", inYAML: config.yaml), "relu")
        XCTAssertEqual(Checkpoint.recordedValue("data.cm3.lambda", inYAML: config.yaml), "\(config.data.cm3.lambda)")
        let older = config.yaml.replacingOccurrences(of: "  activation: relu\n", with: "")
        XCTAssertNotEqual(older, config.yaml)
        XCTAssertNil(Checkpoint.recordedValue("model.activation", inYAML: older))
        XCTAssertNil(Checkpoint.recordedValue("model.activation", inYAML: ""))
        XCTAssertNil(Checkpoint.recordedValue("model.activation", inYAML: "model: {}\n"))
        XCTAssertNil(Checkpoint.recordedValue("model", inYAML: config.yaml), "a section is not a value")
    }

    /// Keys are unique and at most one section deep inside a section, as the writer assumes.
    func testTableShape() {
        XCTAssertEqual(Set(ConfigKeys.all.map(\.name)).count, ConfigKeys.all.count)
        for key in ConfigKeys.all {
            let depth = key.name.split(separator: ".").count
            XCTAssertTrue((2...3).contains(depth), key.name)
            XCTAssertFalse(key.doc.contains("|") || key.doc.contains("\n"), key.name)
        }
    }
}
