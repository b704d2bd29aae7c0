import CM3Objective
import Randomness
import XCTest

/// A bank in plain Swift, for tests: given document vectors, and a fixed query vector per
/// modality (whatever the query dropout kept).
final class PlainBank: RetrievalBank {
    let documentVectors: [[Float]]
    let queries: [Modality: [Float]]
    private(set) var asked: [Modality] = []
    init(_ documentVectors: [[Float]], queries: [Modality: [Float]]) {
        self.documentVectors = documentVectors
        self.queries = queries
    }
    var count: Int { documentVectors.count }
    func ranked(_ query: [Float], limit: Int, of source: (document: Int, epoch: Int)?, modality: Modality)
        -> [(document: Int, score: Float)]
    {
        let scored = documentVectors.enumerated().map { (document: $0.offset, score: dot($0.element, query)) }
        return Array(scored.sorted { $0.score > $1.score }.prefix(limit))
    }
    func documentVector(_ document: Int) -> [Float] { documentVectors[document] }
    func queryVector(_ document: Int, _ modality: Modality, kept: [Int32], generator: inout SplitMix64) -> [Float] {
        asked.append(modality)
        return queries[modality]!
    }
}

/// A unit vector in the xy-plane at `degrees`.
func direction(_ degrees: Float) -> [Float] { [cos(degrees * .pi / 180), sin(degrees * .pi / 180), 0] }

final class RetrievalTests: XCTestCase {
    let vocabulary = Vocabulary(textVocabulary: 100, imageCodes: 50)

    /// Selection: the query, a copy of its tokens, anything more relevant than 0.9 to the
    /// query and anything taken are skipped; multimodal documents come first.
    func testSelectionRules() {
        let candidates: [(document: Int, relevance: Float)] = [
            (0, 1.0), (1, 0.95), (2, 0.88), (6, 0.3), (3, 0.86), (4, 0.84), (5, 0.5)
        ]
        let multimodal: Set<Int> = [3, 4, 5, 6]
        func select(taken: Set<Int>) -> [Int] {
            selectRetrieved(
                candidates, count: 2, query: 0, taken: taken, maxRelevance: 0.9, isCopyOfQuery: { $0 == 6 },
                isMultimodal: { multimodal.contains($0) })
        }
        XCTAssertEqual(select(taken: []), [3, 4])
        XCTAssertEqual(select(taken: [3, 4]), [5, 2])
    }

    /// A bank with planted neighbours. The query document lies at 45°; its text query
    /// points at 0° and its image query at 90°. Ranking uses the query vectors, the 0.9 rule
    /// the full query document:
    ///   1 at 2° has the query's tokens: skipped, though it ranks first by text and is only
    ///   0.73 relevant;
    ///   2 at 5° scores 0.996 by text but is only 0.77 relevant to the query: kept;
    ///   3 at 45° (relevance 1) and 4 at 30° (0.97) are too similar: skipped;
    ///   5 at 15° (0.87) is kept by text; 6 at 80° (0.82) and 8 at 110° (0.42) by image,
    ///   7 at 60° (0.97) is skipped.
    func testPlantedNeighboursComeBack() {
        let angles: [Float] = [45, 2, 5, 45, 30, 15, 80, 60, 110, 250]
        var documents = (0..<angles.count).map { i in
            [Int32(10 + i), vocabulary.breakToken, vocabulary.imageToken(i), vocabulary.eos]
        }
        documents[1] = documents[0]
        let corpus = FlatDocuments(documents: documents)
        let bank = PlainBank(angles.map(direction), queries: [.text: direction(0), .image: direction(90)])
        let examples = RetrievalExamples(
            documents: corpus, vocabulary: vocabulary, settings: RetrievalSettings(), seed: 1, bank: bank)
        let found = Dictionary(
            (0..<40).flatMap { examples.retrieved(for: 0, epoch: $0) }.map { ($0.document, $0) },
            uniquingKeysWith: { a, _ in a })
        XCTAssertEqual(Set(found.keys), [2, 5, 6, 8], "over epochs every one of the four is sometimes kept")
        XCTAssertEqual(found.mapValues(\.modality), [2: .text, 5: .text, 6: .image, 8: .image])
        for (document, relevance) in [(2, Float(0.766)), (5, 0.866), (6, 0.819), (8, 0.423)] {
            XCTAssertEqual(found[document]!.relevance, relevance, accuracy: 1e-3)
        }
        let retrieved = examples.retrieved(for: 0, epoch: 0)
        XCTAssertEqual(retrieved.count, 3)
        XCTAssertEqual(Array(bank.asked.suffix(2)), [.text, .image], "one query by text, one by image")
        let example = examples.example(for: 0, epoch: 0)
        XCTAssertEqual(example.tokens, retrieved.flatMap { corpus.document($0.document) } + corpus.document(0))
    }

    /// Fitting drops retrieved documents from the front, never the query.
    func testFittingDropsRetrievedDocumentsNotTheQuery() {
        var example = Example(
            query: 7, queryTokens: [1, 2, 3],
            retrieved: [4, 5, 6].map { RetrievedDocument(document: $0, relevance: 0.5, modality: .text) },
            retrievedTokens: [[10, 11], [20, 21, 22], [30]])
        example.fit(7)
        XCTAssertEqual(example.retrieved.map(\.document), [5, 6])
        XCTAssertEqual(example.tokens, [20, 21, 22, 30, 1, 2, 3])
        example.fit(4)
        XCTAssertEqual(example.retrieved.map(\.document), [6])
        XCTAssertEqual(example.tokens, [30, 1, 2, 3])
        example.fit(2)
        XCTAssertEqual(example.tokens, [1, 2, 3])
    }

    /// Query dropout removes round(20%) of the tokens, keeps the others in order, and
    /// changes the query embedding.
    func testQueryDropout() {
        let tokens: [Int32] = Array(10..<30)
        var generator = SplitMix64(seed: 2, name: "dropout")
        let kept = dropTokens(tokens, rate: 0.2, generator: &generator)
        XCTAssertEqual(kept.count, 16)
        XCTAssertEqual(kept, kept.sorted())
        XCTAssertTrue(Set(kept).isSubset(of: Set(tokens)))
        let embedding = BuiltinEmbedding()
        XCTAssertNotEqual(embedding.embed(kept), embedding.embed(tokens))
        XCTAssertEqual(dropTokens([1, 2], rate: 0.2, generator: &generator), [1, 2], "round(0.4) = 0 tokens dropped")
    }

    /// The built-in embedding gives a unit text and a unit image vector (zero for a missing
    /// part), the document vector is their normalised average, and documents sharing
    /// tokens score higher than unrelated ones.
    func testBuiltinEmbedding() {
        let embedding = BuiltinEmbedding()
        let a = embedding.embed(
            document: [10, 11, 12, vocabulary.breakToken, vocabulary.imageToken(3), vocabulary.eos],
            vocabulary: vocabulary)
        let b = embedding.embed(
            document: [10, 11, 13, vocabulary.breakToken, vocabulary.imageToken(3), vocabulary.eos],
            vocabulary: vocabulary)
        let c = embedding.embed(
            document: [50, 51, 52, vocabulary.breakToken, vocabulary.imageToken(40), vocabulary.eos],
            vocabulary: vocabulary)
        for vector in [a.text, a.image, a.document] { XCTAssertEqual(dot(vector, vector), 1, accuracy: 1e-5) }
        XCTAssertEqual(a.document, normalized(zip(a.text, a.image).map { ($0 + $1) / 2 }))
        XCTAssertGreaterThan(dot(a.document, b.document), dot(a.document, c.document) + 0.3)
        let textOnly = embedding.embed(document: [10, 11, vocabulary.eos], vocabulary: vocabulary)
        XCTAssertEqual(textOnly.image, [Float](repeating: 0, count: 64))
        for (a, b) in zip(textOnly.document, textOnly.text) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }
}
