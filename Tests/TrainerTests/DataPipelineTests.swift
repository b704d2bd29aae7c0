import Autograd
import CM3Objective
import ShapesCorpus
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
        let vocabulary = config.vocabulary
        let documents = DefaultCorpus(vocabulary: vocabulary, seed: 0).documents(400)
        try DatasetShard.writeShards(
            documents, embeddings: builtinEmbeddings(documents, vocabulary), directory: directory.path,
            prefix: "train", perShard: 150, vocabulary: vocabulary
        ) { _ in }
        let paths = (0..<3).map { directory.appendingPathComponent(String(format: "train-%05d.h5", $0)).path }
        let fromShards = try DataPipeline(config: try tinyConfig { $0.data.train = paths })
        let inMemory = try DataPipeline(config: config)
        XCTAssertEqual(fromShards.training.documents.tokens, inMemory.training.documents.tokens)
        XCTAssertEqual(fromShards.training.embeddings?.dimensions, 64)
        for _ in 0..<20 { XCTAssertEqual(fromShards.stream.next(), inMemory.stream.next()) }
    }

    func builtinEmbeddings(_ documents: [[Int32]], _ vocabulary: Vocabulary) -> [DocumentEmbedding] {
        documents.map { BuiltinEmbedding().embed(document: $0, vocabulary: vocabulary) }
    }

    /// Retrieval on the default corpus (built-in embeddings) and on stored embeddings: each
    /// example starts a block, un-masks to `r1 r2 r3 query`, and follows §2.1's rules: no
    /// retrieved document is the query, a copy of its tokens, or more relevant than 0.9 to
    /// the full query; what was retrieved is as relevant as the bank says.
    func testRetrievalFollowsThePaperWithBuiltinAndStoredEmbeddings() throws {
        let config = try tinyConfig {
            $0.data.retrieval = true
            $0.model.seqLen = 256
        }
        let builtin = try DataPipeline(config: config)
        let vocabulary = builtin.vocabulary
        let documents = DefaultCorpus(vocabulary: vocabulary, seed: 0).documents(400)
        XCTAssertLessThan(
            Set(documents).count, documents.count, "the corpus should hold copies for the rule to matter")
        try DatasetShard.writeShards(
            documents, embeddings: builtinEmbeddings(documents, vocabulary), directory: directory.path,
            prefix: "train", perShard: 400, vocabulary: vocabulary
        ) { _ in }
        let stored = try DataPipeline(
            config: try tinyConfig {
                $0.data.train = [self.directory.appendingPathComponent("train-00000.h5").path]
                $0.data.retrieval = true
                $0.model.seqLen = 256
            })
        let bank = EmbeddingBank(
            builtinFor: builtin.training.documents, vocabulary: vocabulary, embedding: BuiltinEmbedding())
        for pipeline in [builtin, stored] {
            var retrievedCount = 0
            for _ in 0..<60 {
                let block = pipeline.stream.next()
                XCTAssertEqual(block.pieces.count, 1, "one example per block")
                let piece = block.pieces[0]
                XCTAssertEqual(piece.range.lowerBound, 0)
                XCTAssertTrue(piece.startsExample && piece.endsExample)
                let query = Array(pipeline.training.documents.document(piece.query))
                let expected = piece.retrieved.flatMap { pipeline.training.documents.document($0.document) } + query
                XCTAssertEqual(cm3Untransform(Array(block.tokens[piece.range]), vocabulary: vocabulary), expected)
                XCTAssertEqual(block.padding, block.tokens.count - piece.range.count)
                for retrieved in piece.retrieved {
                    XCTAssertNotEqual(retrieved.document, piece.query)
                    XCTAssertNotEqual(Array(pipeline.training.documents.document(retrieved.document)), query)
                    XCTAssertLessThanOrEqual(retrieved.relevance, 0.9)
                    let relevance = dot(bank.documentVector(retrieved.document), bank.documentVector(piece.query))
                    XCTAssertEqual(retrieved.relevance, relevance, accuracy: 1e-5)
                }
                XCTAssertEqual(Set(piece.retrieved.map(\.document)).count, piece.retrieved.count)
                retrievedCount += piece.retrieved.count
            }
            XCTAssertGreaterThan(retrievedCount, 150, "most examples carry three retrieved documents")
        }
    }

    /// The BLAS bank ranks like a plain dot-product search over the document vectors (the
    /// normalised average of text and image), and coordinate dropout zeroes 20% of a stored
    /// query and renormalises it.
    func testEmbeddingBankAndCoordinateDropout() {
        func vectors(_ phase: Double) -> [[Float]] {
            (0..<50).map { i in normalized((0..<8).map { j in Float(sin(Double(i * 8 + j) * 1.3 + phase)) }) }
        }
        let text = vectors(0), image = vectors(0.7)
        let bank = EmbeddingBank(
            text: text.flatMap { $0 }, image: image.flatMap { $0 }, dimensions: 8, queryDropout: 0.2)
        let documentVectors = zip(text, image).map { normalized(zip($0, $1).map { ($0 + $1) / 2 }) }
        let query = normalized([1, 0.5, -0.2, 0, 0.3, 0.1, -0.7, 0.4])
        let expected = documentVectors.enumerated().map { ($0.offset, dot($0.element, query)) }
            .sorted { $0.1 > $1.1 }.prefix(7).map(\.0)
        XCTAssertEqual(bank.ranked(query, limit: 7, of: nil, modality: .text).map(\.document), Array(expected))
        XCTAssertEqual(bank.documentVector(3), documentVectors[3])
        XCTAssertEqual(bank.vector(3, .image), image[3])
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
            (
                try shard("dtype.h5") { f in
                    try f.write("tokens", floats: [5, 6, 1], shape: [3]);
                    try f.write("doc_offsets", int64: [0, 3], shape: [2])
                },
                "dataset 'tokens' has the wrong dtype (expected int32)"
            ),
            (
                try shard("range.h5") { f in
                    try f.write("tokens", int32: [5, 600, 1], shape: [3]);
                    try f.write("doc_offsets", int64: [0, 3], shape: [2])
                },
                "token 600 at position 1 is outside the vocabulary 0..<512"
            ),
            (
                try shard("offsets.h5") { f in
                    try f.write("tokens", int32: [5, 6, 1, 7, 1], shape: [5]);
                    try f.write("doc_offsets", int64: [0, 3, 2, 5], shape: [4])
                },
                "doc_offsets are not increasing at document 1 (3 then 2)"
            ),
            (
                try shard("embeddings.h5") { f in
                    try f.write("tokens", int32: [5, 1, 6, 1], shape: [4]);
                    try f.write("doc_offsets", int64: [0, 2, 4], shape: [3])
                    try f.write("text_embeddings", floats: [1, 0, 0], shape: [1, 3]);
                    try f.write("image_embeddings", floats: [1, 0, 0], shape: [1, 3])
                },
                "text_embeddings has shape [1, 3] but there are 2 documents"
            ),
            (
                try shard("image-missing.h5") { f in
                    try f.write("tokens", int32: [5, 1], shape: [2]);
                    try f.write("doc_offsets", int64: [0, 2], shape: [2])
                    try f.write("text_embeddings", floats: [1, 0, 0], shape: [1, 3])
                },
                "has text_embeddings but no image_embeddings"
            ),
            (
                try shard("unnormalised.h5") { f in
                    try f.write("tokens", int32: [5, 1], shape: [2]);
                    try f.write("doc_offsets", int64: [0, 2], shape: [2])
                    try f.write("text_embeddings", floats: [1, 0, 0], shape: [1, 3]);
                    try f.write("image_embeddings", floats: [2, 0, 0], shape: [1, 3])
                },
                "image_embeddings row 0 has length 2.0, not 1 (rows are L2-normalised, or zero for a missing part)"
            ),
            (
                try shard("averaged.h5") { f in
                    try f.write("tokens", int32: [5, 1], shape: [2]);
                    try f.write("doc_offsets", int64: [0, 2], shape: [2])
                    try f.write("embeddings", floats: [1, 0, 0], shape: [1, 3])
                },
                """
                holds one averaged 'embeddings' per document (an older shard format); retrieval needs \
                text_embeddings and image_embeddings: write it again with launch prepare
                """
            )
        ]
        for (path, message) in cases {
            XCTAssertThrowsError(try DatasetShard.read(path: path, vocabulary: vocabulary)) {
                XCTAssertEqual("\($0)", "\(path): \(message)")
            }
        }
    }
}
