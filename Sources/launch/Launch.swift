import ArgumentParser
import Autograd
import Foundation
import Trainer

/// The `launch` command line: parsing, wiring and exit codes only.
@main
struct Launch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Pretrain CM3Leon-style multimodal decoders.",
        subcommands: [Train.self, Plan.self, Bench.self],
        defaultSubcommand: Train.self)

    static func main() {
        OpenBLASCoreType.reexecIfMisdetected()
        self.main(nil)
    }
}

/// Loads a config or exits with status 2 and one line naming the file and key.
func loadConfig(_ path: String) throws -> TesseraConfig {
    do {
        return try TesseraConfig.load(path: path)
    } catch let error as ConfigError {
        FileHandle.standardError.write(Data("error: \(error)\n".utf8))
        throw ExitCode(2)
    }
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a model described by a YAML config.")

    @Option(name: .long, help: "Path to the YAML config.")
    var config: String

    func run() throws {
        let resolved = try loadConfig(config)
        TrainingLoop(config: resolved).run()
    }
}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print parameter count and FLOPs per token of a config.")

    @Option(name: .long, help: "Path to the YAML config.")
    var config: String

    func run() throws {
        let model = try loadConfig(config).model
        print("parameters: \(model.parameterCount)")
        print(String(format: "training FLOPs per token: %.4e", model.trainingFlopsPerToken))
        print("layers \(model.layers), d_model \(model.dModel), heads \(model.heads), ffn \(model.ffn), seq \(model.seqLen), vocab \(model.vocabSize)")
    }
}

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time training steps of a model shape against this machine's sgemm.")

    @Option(name: .long, help: "Shape: \(BenchmarkShape.all.map(\.name).joined(separator: ", ")).")
    var shape: String = "tiny"

    @Option(name: .long, help: "Timed steps after one warm-up step.")
    var steps: Int = 2

    func validate() throws {
        guard BenchmarkShape.named(shape) != nil else {
            throw ValidationError("unknown shape '\(shape)'; choose one of \(BenchmarkShape.all.map(\.name).joined(separator: ", "))")
        }
        guard steps > 0 else { throw ValidationError("--steps must be positive") }
    }

    func run() throws {
        let chosen = BenchmarkShape.named(shape)!
        let result = Benchmark.run(chosen, steps: steps) { print($0); fflush(stdout) }
        print("shape \(result.shape): " + String(format: "%d tokens/step, %.3f s/step, %.0f tokens/s, %.1f GFLOP/s achieved = %.0f%% of sgemm %.1f GFLOP/s, peak RSS %.2f GiB",
                     result.tokensPerStep, result.secondsPerStep, result.tokensPerSecond,
                     result.achievedGflops, 100 * result.fractionOfSgemm, result.sgemmGflops,
                     Double(result.peakResidentBytes) / 1_073_741_824))
    }
}
