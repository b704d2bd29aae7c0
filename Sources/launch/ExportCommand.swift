import ArgumentParser
import Checkpointing
import Configuration
import Export
import Diagnostics
import Foundation
import Trainer
import Model

struct ExportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export",
        abstract: "Write a checkpoint as a Hugging Face OPT model directory.",
        discussion: """
            Writes config.json, model.safetensors and, when the config names one, tokenizer.json to \
            --out, which `transformers` loads with \
            OPTForCausalLM.from_pretrained(DIR). The model is the checkpoint's own stored config \
            unless --config names one. scripts/check_export.py checks the exported model's loss \
            against `launch eval`.
            """)

    @Option(name: .long, help: "Checkpoint file.")
    var checkpoint: String

    @Option(name: .long, help: "Output directory (created if missing).")
    var out: String

    @Option(name: .long, help: "Config to read the model from (default: the one the checkpoint stores).")
    var config: String?

    func run() throws {
        try withReportedErrors {
            let trained =
                try config.map { try TrainedModel(checkpoint: checkpoint, config: try loadConfig($0)) }
                ?? TrainedModel(checkpoint: checkpoint)
            let resolved = trained.config, decoder = trained.decoder
            let vocabulary = resolved.vocabulary
            do {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            } catch {
                throw OutputError(path: out)
            }
            var weights = SafeTensorsWriter()
            weights.entries = OPTExport.tensors(decoder.parameters)
            weights.metadata = ["format": "pt", "source": checkpoint]
            let configJSON = try JSONSerialization.data(
                withJSONObject: OPTExport.config(resolved.model, vocabulary: vocabulary),
                options: [.prettyPrinted, .sortedKeys])
            try writeAtomically(try weights.encoded(), to: out + "/model.safetensors")
            try writeAtomically(configJSON, to: out + "/config.json")
            var written = ["config.json", "model.safetensors"]
            // The tokenizer travels with the model, so the directory loads as a whole.
            if let tokenizer = resolved.data.tokenizer {
                guard let data = FileManager.default.contents(atPath: tokenizer) else {
                    throw ConfigError(
                        file: resolved.source, key: "data.tokenizer", message: "\(tokenizer) cannot be read")
                }
                try writeAtomically(data, to: out + "/tokenizer.json")
                written.append("tokenizer.json")
            }
            print(
                """
                wrote \(written.map { "\(out)/\($0)" }.joined(separator: ", ")) \
                (\(resolved.model.parameterTable.parameterCount) parameters, OPTForCausalLM)
                """
            )
        }
    }
}
