import CM3Objective
import Randomness
import XCTest

/// Exact inner-product search in plain Swift, for tests.
final class PlainSearch: RelevanceSearch {
    let embeddings: [[Float]]
    init(_ embeddings: [[Float]]) { self.embeddings = embeddings }
    func ranked(_ query: [Float], limit: Int) -> [(document: Int, score: Float)] {
        let scored = embeddings.enumerated().map { ($0.offset, zip($0.element, query).map(*).reduce(0, +)) }
        return Array(scored.sorted { $0.1 > $1.1 }.prefix(limit)).map { (document: $0.0, score: $0.1) }
    }
}

final class RetrievalTests: XCTestCase {
    let vocabulary = Vocabulary(textVocabulary: 100, imageCodes: 50)

    /// Selection: the query and anything above 0.9 are skipped, multimodal documents come
    /// first, nothing is taken twice.
    func testSelectionRules() {
        let ranked: [(document: Int, score: Float)] = [(0, 1.0), (1, 0.95), (2, 0.88), (3, 0.86), (4, 0.84), (5, 0.5)]
        let multimodal: Set<Int> = [3, 4, 5]
        let chosen = selectRetrieved(ranked, count: 2, query: 0, taken: [], maxRelevance: 0.9) { multimodal.contains($0) }
        XCTAssertEqual(chosen, [3, 4])
        let next = selectRetrieved(ranked, count: 2, query: 0, taken: Set(chosen), maxRelevance: 0.9) { multimodal.contains($0) }
        XCTAssertEqual(next, [5, 2])
    }

    /// A bank with planted neighbours: the right documents come back, with the 0.9 rule and
    /// de-duplication, and three of the four are prepended to the query.
    func testPlantedNeighboursComeBack() {
        func doc(_ text: Int32) -> [Int32] {
            [text, vocabulary.breakToken, vocabulary.imageToken(Int(text) % 50), vocabulary.eos]
        }
        let documents = FlatDocuments(documents: (0..<10).map { doc(Int32(10 + $0)) })
        // Unit vectors by angle: the text query is 0°, the image query 90°, so a document at
        // angle a scores cos a by text and sin a by image.
        //   0 (the query) 45°; 1 at 5° is a near-duplicate by text (0.996 > 0.9);
        //   2 at 30° (0.87 by text), 3 at 45° (0.71 both), 4 at 62° (0.88 by image),
        //   5 at 150° (0.5 by image); 6–9 point away.
        let angles: [Float] = [45, 5, 30, 45, 62, 150, 200, 230, 260, 290]
        let bank = angles.map { [cos($0 * .pi / 180), sin($0 * .pi / 180)] }
        var queries: [[Float]] = []
        let examples = RetrievalExamples(documents: documents, vocabulary: vocabulary, settings: RetrievalSettings(), seed: 1,
                                         search: PlainSearch(bank)) { _, part, _ in
            let query: [Float] = part.contains(where: self.vocabulary.isImage) ? [0, 1] : [1, 0]
            queries.append(query)
            return query
        }
        // By text: 1 is skipped (> 0.9), then 2 and 3. By image: 4, then 3 is already taken,
        // so 5. Three of {2, 3, 4, 5} are kept.
        let retrieved = examples.retrieved(for: 0, epoch: 0)
        XCTAssertEqual(retrieved.count, 3)
        XCTAssertEqual(Set(retrieved).count, 3)
        XCTAssertTrue(Set(retrieved).isSubset(of: [2, 3, 4, 5]), "got \(retrieved)")
        XCTAssertEqual(queries, [[1, 0], [0, 1]], "one query by text, one by image")
        let example = examples.example(for: 0, epoch: 0)
        XCTAssertEqual(example, retrieved.flatMap { documents.document($0) } + documents.document(0))
        let all = Set((0..<20).flatMap { examples.retrieved(for: 0, epoch: $0) })
        XCTAssertEqual(all, [2, 3, 4, 5], "over epochs every one of the four is sometimes kept")
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

    /// The built-in embedding is normalised, and documents sharing tokens score higher than
    /// unrelated ones.
    func testBuiltinEmbedding() {
        let embedding = BuiltinEmbedding()
        let a = embedding.embed(document: [10, 11, 12, vocabulary.breakToken, vocabulary.imageToken(3), vocabulary.eos], vocabulary: vocabulary)
        let b = embedding.embed(document: [10, 11, 13, vocabulary.breakToken, vocabulary.imageToken(3), vocabulary.eos], vocabulary: vocabulary)
        let c = embedding.embed(document: [50, 51, 52, vocabulary.breakToken, vocabulary.imageToken(40), vocabulary.eos], vocabulary: vocabulary)
        XCTAssertEqual(a.reduce(0) { $0 + $1 * $1 }, 1, accuracy: 1e-5)
        func dot(_ x: [Float], _ y: [Float]) -> Float { zip(x, y).map(*).reduce(0, +) }
        XCTAssertGreaterThan(dot(a, b), dot(a, c) + 0.3)
    }
}
