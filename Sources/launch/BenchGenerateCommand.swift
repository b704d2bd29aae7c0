import ArgumentParser
import CM3Objective
import Foundation
import Generation
import Model
import Randomness
import Trainer

struct BenchGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-generate",
        abstract: "Decoding tokens/s at a benchmark shape, batch 1 and 8, with the KV cache and without it.",
        discussion: """
            Each sequence starts from a prompt of random tokens and takes greedy steps. With the \
            cache, a step feeds one token per sequence through the cached keys and values; \
            without it, a step is a full forward pass over every sequence's whole prefix. \
            benchmarks/decode_reference.py times the same cached decoding in PyTorch.
            """)

    @Option(name: .long, help: "Shape: \(BenchmarkShape.all.map(\.name).joined(separator: ", ")).")
    var shape: String = "350m-slice"

    @Option(name: .long, help: "Prompt tokens per sequence.")
    var prompt: Int = 64

    @Option(name: .long, help: "Tokens generated per sequence.")
    var tokens: Int = 64

    @Option(name: .long, help: "Batch sizes, comma-separated.")
    var batches: String = "1,8"

    func validate() throws {
        let chosen = try benchmarkShape(shape)
        guard prompt > 0, tokens > 0, prompt + tokens <= chosen.model.seqLen else {
            throw ValidationError(
                "--prompt and --tokens must be positive and fit seq_len \(chosen.model.seqLen) together")
        }
        guard let sizes = commaSeparatedIntegers(batches), sizes.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--batches must be comma-separated positive integers, got '\(batches)'")
        }
    }

    func run() throws {
        let model = try benchmarkShape(shape).model
        let decoder = CM3LeonDecoder(config: model, seed: 0)
        // Greedy decoding of any token needs no particular split of the ids.
        let text = model.vocabSize / 2
        let generator = Generator(
            decoder: decoder, vocabulary: Vocabulary(textVocabulary: text, imageCodes: model.vocabSize - text))
        print(
            """
            shape \(shape): layers \(model.layers), d_model \(model.dModel), heads \(model.heads), vocab \
            \(model.vocabSize); prompt \(prompt), \(tokens) tokens generated per sequence, greedy, one process
            """
        )
        for batch in commaSeparatedIntegers(batches) ?? [] {
            var random = SplitMix64(seed: 1, name: "bench-generate")
            let prompts = (0..<batch).map { _ in
                (0..<prompt).map { _ in Int32(random.nextInt(below: model.vocabSize)) }
            }
            let cached = try time { try generator.greedy(prompts, tokens: tokens) }
            let uncached = try time { generator.greedyWithoutCache(prompts, tokens: tokens) }
            if cached.result != uncached.result {
                report("warning: cached and uncached greedy decoding chose different tokens (near-ties in fp32)")
            }
            let generated = Double(batch * tokens)
            print(
                String(
                    format:
                        """
                        batch %ld: with KV cache %.1f tokens/s (%.3f s), without %.1f tokens/s (%.3f s): %.1f× faster
                        """,
                    batch, generated / cached.seconds, cached.seconds, generated / uncached.seconds, uncached.seconds,
                    uncached.seconds / cached.seconds))
        }
    }

    func time<T>(_ body: () throws -> T) rethrows -> (result: T, seconds: Double) {
        let start = Date()
        let result = try body()
        return (result, Date().timeIntervalSince(start))
    }
}
