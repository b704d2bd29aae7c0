import ArgumentParser
import Autograd
import CM3Objective
import Configuration
import Foundation
import Model
import Randomness
import Trainer
import TrainingData

/// `launch bench-data`: whether the data side keeps up with training. It prints blocks/s of
/// the whole pipeline on the default corpus (retrieval off and on), retrieval examples/s
/// over synthetic banks of CLIP-sized embeddings, and the rate at which training of each
/// given config would consume examples on this machine. Every number comes from this run.
struct BenchData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-data",
        abstract: "Data pipeline blocks/s, and retrieval examples/s over large banks beside the rate training consumes them.",
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
        for (name, value) in [("--seq", seq), ("--blocks", blocks), ("--documents", documents), ("--dimensions", dimensions),
                              ("--queries", queries)] where value < 1 {
            throw ValidationError("\(name) must be positive, got \(value)")
        }
        guard seconds >= 0 else { throw ValidationError("--seconds must not be negative, got \(seconds)") }
        // Two documents are the least a query can retrieve from (itself is skipped).
        guard let sizes, sizes.allSatisfy({ $0 >= 2 }) else {
            throw ValidationError("--bank-sizes must be comma-separated document counts of at least 2, got '\(bankSizes)'")
        }
    }

    func run() throws {
        // Configs first: a bad path should stop the command before minutes of timing.
        let models = try configs.map { path in
            (name: ((path as NSString).lastPathComponent as NSString).deletingPathExtension, model: try loadConfig(path).model)
        }
        let sgemmBefore = Benchmark.sgemmGflops(size: 2048)
        print(String(format: "sgemm 2048³: %.1f GFLOP/s", sgemmBefore) + " (OpenBLAS \(BLASRuntime.coreName) × \(BLASRuntime.threads) threads)")
        flush()

        print("pipeline, default corpus of \(documents) documents, seq \(seq):")
        for retrieval in [false, true] { try timePipeline(retrieval: retrieval) }

        print("retrieval over synthetic banks (per document 16 text ids, <break>, 32 image codes, <eos>; random unit text and image vectors of \(dimensions) dimensions; exact search):")
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
        print(String(format: "training consumption, an upper bound: training at 100%% of sgemm %.1f GFLOP/s (%ld BLAS threads, %ld cores), one retrieval example per block of seq_len tokens:",
                     sgemm, BLASRuntime.threads, ProcessInfo.processInfo.activeProcessorCount))
        for (name, model) in models {
            let flopsPerToken = model.parameterTable.trainingFlopsPerToken
            let tokensPerSecond = sgemm * 1e9 / flopsPerToken
            let consumed = tokensPerSecond / Double(model.seqLen)
            print("\(name): " + String(format: "%.3e training FLOPs per token → at most %.1f tokens/s = %.4f examples/s (%.1f s per example) at seq_len %ld",
                                        flopsPerToken, tokensPerSecond, consumed, 1 / consumed, model.seqLen))
            for rate in rates {
                let ratio = rate.examplesPerSecond / consumed
                print(String(format: "  bank %8ld: retrieval %.1f examples/s = %.*f× ", rate.size, rate.examplesPerSecond,
                             ratio < 10 ? 2 : 0, ratio) + "what \(name) consumes")
            }
        }
        print(String(format: "peak RSS %.2f GiB", Double(Benchmark.peakResidentBytes()) / 1_073_741_824))
    }

    /// Blocks/s of the whole pipeline (examples, CM3 masking, packing) on the default corpus.
    private func timePipeline(retrieval: Bool) throws {
        var config = try TesseraConfig.parse("""
            model: {vocab_size: 64512, d_model: 64, layers: 1, heads: 1, ffn: 64, seq_len: \(seq)}
            data: {retrieval: \(retrieval), documents: \(documents), validation_documents: 1}
            """, source: "bench-data")
        config.train.seed = 0
        let setupStart = Date()
        let pipeline = try DataPipeline(config: config)
        let setup = Date().timeIntervalSince(setupStart)
        let start = Date()
        for _ in 0..<blocks { _ = pipeline.stream.next() }
        let elapsed = Date().timeIntervalSince(start)
        print("  retrieval \(retrieval ? "on " : "off"): " + String(format: "%.1f blocks/s of %ld tokens (%ld blocks in %.2f s; setup %.2f s)",
                                                                 Double(blocks) / elapsed, seq + 1, blocks, elapsed, setup))
        flush()
    }

    /// Examples/s of `RetrievalExamples.example(for:epoch:)` over a synthetic bank of
    /// `size` documents: at least `queries` examples, more until `seconds` have passed,
    /// after one untimed example.
    private func timeRetrieval(bankSize size: Int) -> Double {
        let vocabulary = Vocabulary.cm3leon
        let settings = RetrievalSettings()
        let vectorsStart = Date()
        let corpus = BenchData.syntheticDocuments(size, vocabulary: vocabulary)
        let text = BenchData.unitRows(size, dimensions, name: "text"), image = BenchData.unitRows(size, dimensions, name: "image")
        let bankStart = Date()
        let bank = EmbeddingBank(text: text, image: image, dimensions: dimensions, queryDropout: settings.queryDropout)
        let examplesStart = Date()
        let examples = RetrievalExamples(documents: corpus, vocabulary: vocabulary, settings: settings, seed: 0, bank: bank)
        let built = Date()

        var generator = SplitMix64(seed: 0, name: "bench-data/queries")
        // The first search touches the bank's pages after construction; not timed.
        _ = examples.example(for: generator.nextInt(below: size), epoch: 0)
        var timed = 0, retrieved = 0
        let start = Date()
        while timed < queries || Date().timeIntervalSince(start) < seconds {
            retrieved += examples.example(for: generator.nextInt(below: size), epoch: 0).retrieved.count
            timed += 1
        }
        let elapsed = Date().timeIntervalSince(start)
        let rate = Double(timed) / elapsed
        let bytes = (bank.text.count + bank.image.count + bank.documentVectors.count) * MemoryLayout<Float>.size
        print(String(format: "  bank %8ld: %.1f examples/s, %.2f ms per example (%ld examples in %.2f s, %.1f retrieved each); bank %.1f MiB (text, image and document vectors, float32); built in %.2f s (documents and vectors %.2f s, EmbeddingBank %.2f s, RetrievalExamples %.2f s)",
                     size, rate, 1000 / rate, timed, elapsed, Double(retrieved) / Double(timed), Double(bytes) / 1_048_576,
                     built.timeIntervalSince(vectorsStart), bankStart.timeIntervalSince(vectorsStart),
                     examplesStart.timeIntervalSince(bankStart), built.timeIntervalSince(examplesStart)))
        flush()
        return rate
    }

    /// `count` caption-image documents of 16 random text ids, `<break>`, 32 random image
    /// codes and `<eos>`. The search cost does not depend on the tokens; only the copying
    /// of retrieved documents into the example does, and that stays small.
    static func syntheticDocuments(_ count: Int, vocabulary: Vocabulary) -> FlatDocuments {
        let length = 16 + 1 + 32 + 1
        let firstWord = Int(vocabulary.specials.max()!) + 1  // below it are the special tokens
        var generator = SplitMix64(seed: 0, name: "bench-data/documents")
        var tokens: [Int32] = []
        tokens.reserveCapacity(count * length)
        for _ in 0..<count {
            for _ in 0..<16 { tokens.append(Int32(firstWord + generator.nextInt(below: vocabulary.textVocabulary - firstWord))) }
            tokens.append(vocabulary.breakToken)
            for _ in 0..<32 { tokens.append(vocabulary.imageToken(generator.nextInt(below: vocabulary.imageCodes))) }
            tokens.append(vocabulary.eos)
        }
        return FlatDocuments(tokens: tokens, offsets: Array(stride(from: 0, through: tokens.count, by: length)))
    }

    /// `rows` random unit vectors of `dimensions` coordinates, row-major. Coordinates are
    /// uniform in [-1, 1) (not uniform on the sphere after normalising, which timing does
    /// not care about), written in place: a million 512-dimensional rows must take
    /// seconds, not the minutes that building arrays row by row would.
    static func unitRows(_ rows: Int, _ dimensions: Int, name: String) -> [Float] {
        var generator = SplitMix64(seed: 0, name: "bench-data/\(name)")
        return [Float](unsafeUninitializedCapacity: rows * dimensions) { buffer, initialized in
            for row in 0..<rows {
                let base = row * dimensions
                var norm: Float = 0
                for i in base..<(base + dimensions) {
                    // 24 random bits are exact in a Float: k · 2⁻²³ − 1 lies in [-1, 1).
                    let value = Float(generator.next() >> 40) * 0x1p-23 - 1
                    buffer[i] = value
                    norm += value * value
                }
                // A zero row would need every coordinate to be exactly 0: never in practice.
                let scale = 1 / norm.squareRoot()
                for i in base..<(base + dimensions) { buffer[i] *= scale }
            }
            initialized = rows * dimensions
        }
    }

    /// Lines reach a pipe or file as they are printed, so a long run shows progress.
    private func flush() { fflush(stdout) }
}
