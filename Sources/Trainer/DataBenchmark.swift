import CM3Objective
import Configuration
import Foundation
import Model
import Randomness
import TrainingData

/// Whether the data side keeps up with training (`launch bench-data`): blocks/s of the whole
/// pipeline on the default corpus, retrieval examples/s over synthetic banks of CLIP-sized
/// embeddings, and the most examples/s training of a model could consume on this machine.
public enum DataBenchmark {
    /// Blocks/s of the whole pipeline (examples, CM3 masking, packing).
    public struct PipelineRate: Sendable {
        public let retrieval: Bool
        public let blocks: Int
        public let tokensPerBlock: Int
        public let seconds: Double
        /// Building the pipeline (corpus, embeddings, bank).
        public let setupSeconds: Double
        public var blocksPerSecond: Double { Double(blocks) / seconds }
    }

    /// Times `blocks` blocks of `seq` tokens from the default corpus of `documents` documents.
    public static func pipeline(seq: Int, blocks: Int, documents: Int, retrieval: Bool) throws -> PipelineRate {
        let config = try TesseraConfig.parse(
            """
            model: {vocab_size: 64512, d_model: 64, layers: 1, heads: 1, ffn: 64, seq_len: \(seq)}
            data: {retrieval: \(retrieval), documents: \(documents), validation_documents: 1}
            train: {seed: 0}
            """, source: "bench-data")
        let setupStart = Date()
        let pipeline = try DataPipeline(config: config)
        let setup = Date().timeIntervalSince(setupStart)
        let start = Date()
        for _ in 0..<blocks { _ = pipeline.stream.next() }
        return PipelineRate(
            retrieval: retrieval, blocks: blocks, tokensPerBlock: seq + 1,
            seconds: Date().timeIntervalSince(start), setupSeconds: setup)
    }

    /// Retrieval examples/s over one synthetic bank.
    public struct RetrievalRate: Sendable {
        public let bankSize: Int
        public let examples: Int
        public let seconds: Double
        public let retrievedPerExample: Double
        /// Text, image and document vectors, float32.
        public let bankBytes: Int
        /// Building the documents and vectors, the `EmbeddingBank` and the `RetrievalExamples`.
        public let buildSeconds: (vectors: Double, bank: Double, examples: Double)
        public var examplesPerSecond: Double { Double(examples) / seconds }
    }

    /// Examples/s of `RetrievalExamples.example(for:epoch:)` over a synthetic bank of
    /// `bankSize` documents: at least `queries` examples, more until `seconds` have passed,
    /// after one untimed example.
    public static func retrieval(bankSize size: Int, dimensions: Int, queries: Int, seconds: Double) -> RetrievalRate {
        let vocabulary = Vocabulary.cm3leon
        let settings = RetrievalSettings()
        let vectorsStart = Date()
        let corpus = syntheticDocuments(size, vocabulary: vocabulary)
        let text = unitRows(size, dimensions, name: "text"), image = unitRows(size, dimensions, name: "image")
        let bankStart = Date()
        let bank = EmbeddingBank(text: text, image: image, dimensions: dimensions, queryDropout: settings.queryDropout)
        let examplesStart = Date()
        let examples = RetrievalExamples(
            documents: corpus, vocabulary: vocabulary, settings: settings, seed: 0, bank: bank)
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
        let bytes = (bank.text.count + bank.image.count + bank.documentVectors.count) * MemoryLayout<Float>.size
        return RetrievalRate(
            bankSize: size, examples: timed, seconds: Date().timeIntervalSince(start),
            retrievedPerExample: Double(retrieved) / Double(timed), bankBytes: bytes,
            buildSeconds: (
                bankStart.timeIntervalSince(vectorsStart), examplesStart.timeIntervalSince(bankStart),
                built.timeIntervalSince(examplesStart)
            ))
    }

    /// The most a model's training could consume: tokens/s at 100% of `sgemmGflops`, and
    /// retrieval examples/s at one example per block of seq_len tokens (a retrieval example
    /// starts a block of its own and a long one spans several).
    public static func consumption(_ model: ModelConfig, sgemmGflops: Double)
        -> (flopsPerToken: Double, tokensPerSecond: Double, examplesPerSecond: Double)
    {
        let flopsPerToken = model.parameterTable.trainingFlopsPerToken
        let tokensPerSecond = sgemmGflops * 1e9 / flopsPerToken
        return (flopsPerToken, tokensPerSecond, tokensPerSecond / Double(model.seqLen))
    }

    /// `count` caption-image documents of 16 random text ids, `<break>`, 32 random image
    /// codes and `<eos>`. The search cost does not depend on the tokens; only the copying
    /// of retrieved documents into the example does, and that stays small.
    public static func syntheticDocuments(_ count: Int, vocabulary: Vocabulary) -> FlatDocuments {
        let length = 16 + 1 + 32 + 1
        let firstWord = Int(vocabulary.specials.max()!) + 1  // below it are the special tokens
        var generator = SplitMix64(seed: 0, name: "bench-data/documents")
        var tokens: [Int32] = []
        tokens.reserveCapacity(count * length)
        for _ in 0..<count {
            for _ in 0..<16 {
                tokens.append(Int32(firstWord + generator.nextInt(below: vocabulary.textVocabulary - firstWord)))
            }
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
    public static func unitRows(_ rows: Int, _ dimensions: Int, name: String) -> [Float] {
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
}
