import ArgumentParser
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
            throw ValidationError("--prompt and --tokens must be positive and fit seq_len \(chosen.model.seqLen) together")
        }
        guard let sizes = commaSeparatedIntegers(batches), sizes.allSatisfy({ $0 > 0 }) else {
            throw ValidationError("--batches must be comma-separated positive integers, got '\(batches)'")
        }
    }


    func run() throws {
        let model = try benchmarkShape(shape).model
        let decoder = CM3LeonDecoder(config: model, seed: 0)
        print("shape \(shape): layers \(model.layers), d_model \(model.dModel), heads \(model.heads), vocab \(model.vocabSize); prompt \(prompt), \(tokens) tokens generated per sequence, greedy, one process")
        for batch in commaSeparatedIntegers(batches) ?? [] {
            var generator = SplitMix64(seed: 1, name: "bench-generate")
            let prompts = (0..<batch).map { _ in (0..<prompt).map { _ in Int32(generator.nextInt(below: model.vocabSize)) } }
            let cached = time { decodeWithCache(decoder, prompts) }
            let uncached = time { decodeWithoutCache(decoder, prompts) }
            if cached.result != uncached.result { report("warning: cached and uncached greedy decoding chose different tokens (near-ties in fp32)") }
            let generated = Double(batch * tokens)
            print(String(format: "batch %ld: with KV cache %.1f tokens/s (%.3f s), without %.1f tokens/s (%.3f s): %.1f× faster",
                         batch, generated / cached.seconds, cached.seconds, generated / uncached.seconds, uncached.seconds,
                         uncached.seconds / cached.seconds))
        }
    }

    /// Prefill, then one cached step per token.
    func decodeWithCache(_ decoder: CM3LeonDecoder, _ prompts: [[Int32]]) -> [[Int32]] {
        let cache = decoder.makeCache(sequences: prompts.count, capacity: prompt + tokens)
        var outputs = prompts.map { _ in [Int32]() }
        var logits = decoder.nextTokenLogits(prompts, cache: cache)
        for step in 0..<tokens {
            let next = logits.map { Int32(argmax($0)) }
            for (i, token) in next.enumerated() { outputs[i].append(token) }
            if step + 1 < tokens { logits = decoder.nextTokenLogits(next.map { [$0] }, cache: cache) }
        }
        return outputs
    }

    /// A full forward pass over the whole prefix for every token.
    func decodeWithoutCache(_ decoder: CM3LeonDecoder, _ prompts: [[Int32]]) -> [[Int32]] {
        var sequences = prompts
        for _ in 0..<tokens {
            let next = decoder.lastTokenLogits(sequences).map { Int32(argmax($0)) }
            for (i, token) in next.enumerated() { sequences[i].append(token) }
        }
        return sequences.map { Array($0.dropFirst(prompt)) }
    }

    func time<T>(_ body: () -> T) -> (result: T, seconds: Double) {
        let start = Date()
        let result = body()
        return (result, Date().timeIntervalSince(start))
    }
}
