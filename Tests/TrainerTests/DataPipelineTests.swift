import Autograd
import CM3Objective
import Configuration
import Foundation
import HDF5
import Randomness
import TestSupport
import Trainer
import TrainingData
import XCTest

final class DataPipelineTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try makeTemporaryDirectory("tessera-data") }

    func tinyConfig(_ edit: (inout TesseraConfig) -> Void = { _ in }) throws -> TesseraConfig {
        var config = try TesseraConfig.load(path: ProjectPaths.config("tiny"))
        config.data.documents = 400
        config.data.validationDocuments = 50
        edit(&config)
        return config
    }

    /// Shards of the default corpus give exactly the blocks the in-memory corpus gives.
    func testShardsRoundTripIntoTheSameBlocks() throws {
        let config = try tinyConfig()
        let vocabulary = config.data.vocabulary(vocabSize: config.model.vocabSize)
        let documents = DefaultCorpus(vocabulary: vocabulary, seed: 0).documents(400)
        try DatasetShard.writeShards(documents, directory: directory.path, prefix: "train", perShard: 150,
                                     withEmbeddings: true, vocabulary: vocabulary) { _ in }
        let paths = (0..<3).map { directory.appendingPathComponent(String(format: "train-%05d.h5", $0)).path }
        let fromShards = try DataPipeline(config: try tinyConfig { $0.data.train = paths })
        let inMemory = try DataPipeline(config: config)
        XCTAssertEqual(fromShards.training.documents.tokens, inMemory.training.documents.tokens)
        XCTAssertEqual(fromShards.training.embeddingDimensions, 64)
        for _ in 0..<20 { XCTAssertEqual(fromShards.stream.next(), inMemory.stream.next()) }
    }

    /// Retrieval on the default corpus (built-in embeddings) and on stored embeddings: every
    /// block still un-masks to corpus documents, and examples carry retrieved documents.
    func testRetrievalWorksWithBuiltinAndStoredEmbeddings() throws {
        let builtin = try DataPipeline(config: try tinyConfig { $0.data.retrieval = true })
        let plain = try DataPipeline(config: try tinyConfig())
        let augmented = (0..<10).flatMap { _ in builtin.stream.next().raw }
        let original = (0..<10).flatMap { _ in plain.stream.next().raw }
        XCTAssertNotEqual(augmented, original)
        XCTAssertEqual(augmented.count, original.count, "same packing capacity")

        let vocabulary = builtin.vocabulary
        let documents = DefaultCorpus(vocabulary: vocabulary, seed: 0).documents(400)
        try DatasetShard.writeShards(documents, directory: directory.path, prefix: "train", perShard: 400,
                                     withEmbeddings: true, vocabulary: vocabulary) { _ in }
        let stored = try DataPipeline(config: try tinyConfig {
            $0.data.train = [self.directory.appendingPathComponent("train-00000.h5").path]
            $0.data.retrieval = true
        })
        let block = stored.stream.next()
        XCTAssertEqual(cm3Untransform(block.tokens, vocabulary: vocabulary), block.raw)
    }

    /// The BLAS bank ranks like a plain dot-product search, and coordinate dropout zeroes
    /// 20% of a stored query and renormalises it.
    func testEmbeddingBankAndCoordinateDropout() {
        let vectors: [[Float]] = (0..<50).map { i in normalized((0..<8).map { j in Float(sin(Double(i * 8 + j) * 1.3)) }) }
        let bank = EmbeddingBank(vectors: vectors.flatMap { $0 }, dimensions: 8)
        let query = normalized([1, 0.5, -0.2, 0, 0.3, 0.1, -0.7, 0.4])
        let expected = vectors.enumerated().map { ($0.offset, zip($0.element, query).map(*).reduce(0, +)) }
            .sorted { $0.1 > $1.1 }.prefix(7).map(\.0)
        XCTAssertEqual(bank.ranked(query, limit: 7).map(\.document), Array(expected))
        var generator = SplitMix64(seed: 1, name: "dropout")
        let dropped = dropCoordinates((0..<10).map { _ in Float(1) }, rate: 0.2, generator: &generator)
        XCTAssertEqual(dropped.filter { $0 == 0 }.count, 2)
        XCTAssertEqual(dropped.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-5)
    }

    /// Bad shards fail with one line naming the file and the problem.
    func testBadShardsAreNamed() throws {
        let vocabulary = Vocabulary(textVocabulary: 256, imageCodes: 256)
        func shard(_ name: String, _ write: (HDF5File) throws -> Void) throws -> String {
            let path = directory.appendingPathComponent(name).path
            let file = try HDF5File.create(path)
            // A shard in every way but the one each case breaks.
            try file.setAttribute("text_vocab", Int64(vocabulary.textVocabulary))
            try file.setAttribute("image_codes", Int64(vocabulary.imageCodes))
            try write(file)
            return path
        }
        let cases: [(String, String)] = [
            (directory.appendingPathComponent("absent.h5").path, "no such file"),
            (try shard("dtype.h5") { f in
                try f.write("tokens", floats: [5, 6, 1], shape: [3]); try f.write("doc_offsets", int64: [0, 3], shape: [2]) },
             "dataset 'tokens' has the wrong dtype (expected int32)"),
            (try shard("range.h5") { f in
                try f.write("tokens", int32: [5, 600, 1], shape: [3]); try f.write("doc_offsets", int64: [0, 3], shape: [2]) },
             "token 600 at position 1 is outside the vocabulary 0..<512"),
            (try shard("offsets.h5") { f in
                try f.write("tokens", int32: [5, 6, 1, 7, 1], shape: [5]); try f.write("doc_offsets", int64: [0, 3, 2, 5], shape: [4]) },
             "doc_offsets are not increasing at document 1 (3 then 2)"),
            (try shard("embeddings.h5") { f in
                try f.write("tokens", int32: [5, 1, 6, 1], shape: [4]); try f.write("doc_offsets", int64: [0, 2, 4], shape: [3])
                try f.write("embeddings", floats: [1, 0, 0], shape: [1, 3]) },
             "embeddings have shape [1, 3] but there are 2 documents"),
        ]
        for (path, message) in cases {
            XCTAssertThrowsError(try DatasetShard.read(path: path, vocabulary: vocabulary)) {
                XCTAssertEqual("\($0)", "\(path): \(message)")
            }
        }
    }
}
