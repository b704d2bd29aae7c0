import CM3Objective
import Randomness
import XCTest

final class PackingTests: XCTestCase {
    let vocabulary = Vocabulary(textVocabulary: 100, imageCodes: 50)

    func corpus(_ count: Int) -> FlatDocuments {
        var generator = SplitMix64(seed: 9, name: "corpus")
        return FlatDocuments(documents: (0..<count).map { _ in randomDocument(&generator, vocabulary: vocabulary) })
    }

    func stream(_ documents: FlatDocuments, seed: UInt64 = 5, dpRank: Int = 0, dp: Int = 1) -> BlockStream {
        BlockStream(
            documentCount: documents.count, examples: PlainExamples(documents: documents), vocabulary: vocabulary,
            settings: CM3Settings(), seqLen: 128, seed: seed, dpRank: dpRank, dp: dp)
    }

    /// Over one epoch every document is one example, masked on its own: its pieces, joined
    /// across blocks, un-mask to exactly the document. Every block has seq + 1 tokens and
    /// only the epoch's last one is padded.
    func testOneEpochHoldsEveryDocumentOnce() {
        let documents = corpus(500)
        let blocks = stream(documents)
        var masked: [Int: [Int32]] = [:], restored: [Int: [Int32]] = [:]
        var block = blocks.next(), padded = 0
        repeat {
            XCTAssertEqual(block.tokens.count, 129)
            XCTAssertEqual(block.weights.count, 128)
            if block.padding > 0 { padded += 1 }
            for piece in block.pieces {
                XCTAssertEqual(piece.startsExample, masked[piece.query] == nil)
                masked[piece.query, default: []] += block.tokens[piece.range]
                if piece.endsExample {
                    restored[piece.query] = cm3Untransform(masked[piece.query]!, vocabulary: vocabulary)
                }
            }
            block = blocks.next()
        } while block.epoch == 0
        XCTAssertEqual(padded, 1)
        XCTAssertEqual(restored.count, documents.count)
        for (index, tokens) in restored { XCTAssertEqual(tokens, Array(documents.document(index))) }
    }

    /// The span count is drawn per example from clamp(Poisson(1), 1, 16): its mean over
    /// examples is 1 + e⁻¹ ≈ 1.368, and about e⁻¹ + e⁻¹ ≈ 73.6% of examples have one span.
    func testSpanCountIsDrawnPerExample() {
        let documents = corpus(3000)
        let blocks = stream(documents)
        var counts: [Int] = []
        while counts.count < 3000 {
            counts += blocks.next().pieces.filter(\.startsExample).map(\.spanCount)
        }
        let mean = Double(counts.reduce(0, +)) / Double(counts.count)
        XCTAssertEqual(mean, 1 + exp(-1), accuracy: 0.06)
        XCTAssertEqual(Double(counts.filter { $0 == 1 }.count) / Double(counts.count), 2 * exp(-1), accuracy: 0.03)
    }

    /// Retrieval examples start a block each. One that does not fit loses retrieved
    /// documents from the front; a query longer than a block runs on over the next blocks
    /// and the next example starts a block of its own.
    func testRetrievalExamplesStartBlocksAndKeepTheirQuery() {
        // Documents of 33 tokens, and document 3 of 300 (longer than a 129-token block).
        var documents = (0..<40).map { i in (0..<32).map { j in Int32(10 + (i + j) % 80) } + [vocabulary.eos] }
        documents[3] = (0..<299).map { j in Int32(10 + j % 80) } + [vocabulary.eos]
        let corpus = FlatDocuments(documents: documents)
        let bank = PlainBank(
            (0..<40).map { direction(Float($0) * 4) }, queries: [.text: direction(0), .image: direction(90)])
        let examples = RetrievalExamples(
            documents: corpus, vocabulary: vocabulary, settings: RetrievalSettings(), seed: 1, bank: bank)
        let blocks = BlockStream(
            documentCount: corpus.count, examples: examples, vocabulary: vocabulary, settings: CM3Settings(),
            seqLen: 128, seed: 5)
        var masked: [Int: [Int32]] = [:], sawLongQuery = false, sawFitted = false
        for _ in 0..<45 {
            let block = blocks.next()
            XCTAssertEqual(block.pieces.count, 1)
            let piece = block.pieces[0]
            XCTAssertEqual(piece.range.lowerBound, 0)
            masked[piece.query, default: []] += block.tokens[piece.range]
            XCTAssertEqual(block.padding, piece.endsExample ? 129 - piece.range.count : 0)
            guard piece.endsExample else { continue }
            let tokens = cm3Untransform(masked.removeValue(forKey: piece.query)!, vocabulary: vocabulary)!
            XCTAssertEqual(
                tokens, piece.retrieved.flatMap { corpus.document($0.document) } + corpus.document(piece.query),
                "query \(piece.query)")
            if piece.query == 3 {
                sawLongQuery = true
                XCTAssertTrue(piece.retrieved.isEmpty)
            } else {
                XCTAssertLessThanOrEqual(piece.length, 129, "an example that is not a long query fits a block")
                if piece.retrieved.count < 3 { sawFitted = true }
            }
        }
        XCTAssertTrue(sawLongQuery, "the 300-token query should come up in the first epoch")
        XCTAssertTrue(sawFitted, "four 33-token documents exceed 129 tokens: one retrieved should be dropped")
    }

    /// Same seed, same blocks; a restored cursor reproduces what followed it; another seed
    /// gives other blocks.
    func testDeterminismAndResume() {
        let documents = corpus(40)  // ~17 blocks an epoch, so the resumed run crosses one
        let a = stream(documents), b = stream(documents)
        let first = (0..<30).map { _ in a.next() }
        XCTAssertEqual(first, (0..<30).map { _ in b.next() })
        let c = stream(documents)
        for _ in 0..<12 { _ = c.next() }
        let saved = c.cursor
        let expected = (0..<25).map { _ in c.next() }  // crosses into the next epoch
        let resumed = stream(documents)
        resumed.restore(saved)
        XCTAssertEqual((0..<25).map { _ in resumed.next() }, expected)
        XCTAssertTrue(expected.contains { $0.epoch == 1 }, "the check should cross an epoch boundary")
        XCTAssertNotEqual(stream(documents, seed: 6).next(), first[0])
    }

    /// Data-parallel ranks see disjoint blocks that together are the single-rank stream.
    func testDataParallelRanksSeeDisjointBlocks() {
        let documents = corpus(40)  // ~17 blocks an epoch: 24 blocks cross into epoch 1
        let single = stream(documents)
        let all = (0..<24).map { _ in single.next() }
        let ranks = (0..<3).map { stream(documents, dpRank: $0, dp: 3) }
        var union: [TrainingBlock] = []
        for _ in 0..<8 { for rank in ranks { union.append(rank.next()) } }
        XCTAssertEqual(union, all)
        let keys = union.map(\.index)
        XCTAssertEqual(Set(keys).count, keys.count)
        XCTAssertTrue(all.contains { $0.epoch == 1 }, "dealing must stay aligned across an epoch boundary")
    }

    /// After whole steps, rank 0's cursor is the global one: restored on any number of
    /// ranks it continues the same sequence of blocks (what resuming under another dp needs).
    func testRankZeroCursorResumesUnderAnotherDataParallelSize() {
        let documents = corpus(40)
        let single = stream(documents)
        let all = (0..<40).map { _ in single.next() }
        let three = (0..<3).map { stream(documents, dpRank: $0, dp: 3) }
        for _ in 0..<4 { for rank in three { _ = rank.next() } }  // 12 blocks = 2 steps of 2 per rank
        let saved = three[0].cursor
        let two = (0..<2).map { rank -> BlockStream in
            let resumed = stream(documents, dpRank: rank, dp: 2)
            resumed.restore(saved)
            return resumed
        }
        var continued: [TrainingBlock] = []
        for _ in 0..<10 { for rank in two { continued.append(rank.next()) } }
        XCTAssertEqual(continued, Array(all[12..<32]))
    }
}
