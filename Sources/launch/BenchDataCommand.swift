import ArgumentParser
import Autograd
import Foundation
import Trainer

/// `launch bench-data`: whether the data side keeps up with training. It prints blocks/s of
/// the whole pipeline on the default corpus (retrieval off and on), retrieval examples/s
/// over synthetic banks of CLIP-sized embeddings, and the rate at which training of each
/// given config would consume examples on this machine. Every number comes from this run.
struct BenchData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-data",
        abstract:
            """
            Data pipeline blocks/s, and retrieval examples/s over large banks beside the rate training consumes them.
            """,
        discussion: """
            The consumption rate is an upper bound: training at 100% of the sgemm rate measured \
            here, on all of this machine's cores, with the config's training FLOPs per token, and \
            one retrieval example per block of seq_len tokens.
            """)

    @Option(name: .long, help: "Tokens per block (pipeline part).")
    var seq: Int = 4096

    @Option(name: .long, help: "Blocks to time for each setting (pipeline part).")
    var blocks: Int = 50

    @Option(name: .long, help: "Documents in the corpus and its retrieval bank (pipeline part).")
    var documents: Int = 20_000

    @Option(name: .long, help: "Synthetic retrieval bank sizes in documents, comma-separated.")
    var bankSizes: String = "10000,100000,1000000"

    @Option(name: .long, help: "Dimensions of each text and image embedding in the synthetic banks.")
    var dimensions: Int = 512

    @Option(name: .long, help: "Retrieval examples to time per bank, at least.")
    var queries: Int = 20

    @Option(name: .long, help: "Keep timing a bank's examples until this many seconds have passed.")
    var seconds: Double = 2

    @Option(name: .customLong("config"), help: "Config whose training would consume the examples (repeatable).")
    var configs: [String] = ["configs/350m.yaml", "configs/760m.yaml"]

    /// `--bank-sizes` as numbers (nil when malformed; `validate` says so).
    var sizes: [Int]? { commaSeparatedIntegers(bankSizes) }

    func validate() throws {
        for (name, value) in [
            ("--seq", seq), ("--blocks", blocks), ("--documents", documents), ("--dimensions", dimensions),
            ("--queries", queries)
        ] where value < 1 {
            throw ValidationError("\(name) must be positive, got \(value)")
        }
        guard seconds >= 0 else { throw ValidationError("--seconds must not be negative, got \(seconds)") }
        // Two documents are the least a query can retrieve from (itself is skipped).
        guard let sizes, sizes.allSatisfy({ $0 >= 2 }) else {
            throw ValidationError(
                "--bank-sizes must be comma-separated document counts of at least 2, got '\(bankSizes)'")
        }
    }

    func run() throws {
        // Configs first: a bad path should stop the command before minutes of timing.
        let models = try configs.map { path in
            (
                name: ((path as NSString).lastPathComponent as NSString).deletingPathExtension,
                model: try loadConfig(path).model
            )
        }
        let sgemmBefore = Benchmark.sgemmGflops(size: 2048)
        print(
            String(format: "sgemm 2048³: %.1f GFLOP/s", sgemmBefore)
                + " (OpenBLAS \(BLASRuntime.coreName) × \(BLASRuntime.threads) threads)")
        flush()

        print("pipeline, default corpus of \(documents) documents, seq \(seq):")
        for retrieval in [false, true] { try timePipeline(retrieval: retrieval) }

        print(
            """
            retrieval over synthetic banks (per document 16 text ids, <break>, 32 image codes, <eos>; random unit \
            text and image vectors of \(dimensions) dimensions; exact search):
            """
        )
        let rates = (sizes ?? []).map { (size: $0, examplesPerSecond: timeRetrieval(bankSize: $0)) }

        // sgemm drifts on a shared machine; the better of two measurements gives the higher
        // consumption rate, which keeps the comparison conservative.
        let sgemmAfter = Benchmark.sgemmGflops(size: 2048)
        let sgemm = max(sgemmBefore, sgemmAfter)
        print(String(format: "sgemm 2048³ again: %.1f GFLOP/s", sgemmAfter))
        // Each rank's block stream packs every block of the run (it skips other ranks' blocks
        // by packing them), so one process's retrieval must keep up with the whole
        // machine's training, not with one rank's share. A retrieval example starts a block
        // of its own and a long one spans several: at most one example per block.
        print(
            String(
                format:
                    """
                    training consumption, an upper bound: training at 100%% of sgemm %.1f GFLOP/s (%ld BLAS threads, \
                    %ld cores), one retrieval example per block of seq_len tokens:
                    """,
                sgemm, BLASRuntime.threads, ProcessInfo.processInfo.activeProcessorCount))
        for (name, model) in models {
            let consumed = DataBenchmark.consumption(model, sgemmGflops: sgemm)
            print(
                "\(name): "
                    + String(
                        format:
                            """
                            %.3e training FLOPs per token → at most %.1f tokens/s = %.4f examples/s (%.1f s per \
                            example) at seq_len %ld
                            """,
                        consumed.flopsPerToken, consumed.tokensPerSecond, consumed.examplesPerSecond,
                        1 / consumed.examplesPerSecond, model.seqLen))
            for rate in rates {
                let ratio = rate.examplesPerSecond / consumed.examplesPerSecond
                print(
                    String(
                        format: "  bank %8ld: retrieval %.1f examples/s = %.*f× ", rate.size, rate.examplesPerSecond,
                        ratio < 10 ? 2 : 0, ratio) + "what \(name) consumes")
            }
        }
        print(String(format: "peak RSS %.2f GiB", Double(Benchmark.peakResidentBytes()) / 1_073_741_824))
    }

    private func timePipeline(retrieval: Bool) throws {
        let rate = try DataBenchmark.pipeline(seq: seq, blocks: blocks, documents: documents, retrieval: retrieval)
        print(
            "  retrieval \(retrieval ? "on " : "off"): "
                + String(
                    format: "%.1f blocks/s of %ld tokens (%ld blocks in %.2f s; setup %.2f s)",
                    rate.blocksPerSecond, rate.tokensPerBlock, rate.blocks, rate.seconds,
                    rate.setupSeconds))
        flush()
    }

    private func timeRetrieval(bankSize size: Int) -> Double {
        let rate = DataBenchmark.retrieval(bankSize: size, dimensions: dimensions, queries: queries, seconds: seconds)
        let build = rate.buildSeconds
        print(
            String(
                format:
                    """
                      bank %8ld: %.1f examples/s, %.2f ms per example (%ld examples in %.2f s, %.1f retrieved each); \
                    bank %.1f MiB (text, image and document vectors, float32); built in %.2f s (documents and \
                    vectors %.2f s, EmbeddingBank %.2f s, RetrievalExamples %.2f s)
                    """,
                size, rate.examplesPerSecond, 1000 / rate.examplesPerSecond, rate.examples, rate.seconds,
                rate.retrievedPerExample,
                Double(rate.bankBytes) / 1_048_576, build.vectors + build.bank + build.examples, build.vectors,
                build.bank,
                build.examples))
        flush()
        return rate.examplesPerSecond
    }

    /// Lines reach a pipe or file as they are printed, so a long run shows progress.
    private func flush() { fflush(stdout) }
}
