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
        BlockStream(documentCount: documents.count, examples: PlainExamples(documents: documents), vocabulary: vocabulary,
                    settings: CM3Settings(), seqLen: 128, seed: seed, dpRank: dpRank, dp: dp)
    }

    /// Over one epoch the multiset of corpus tokens equals the multiset of un-transformed
    /// block tokens: nothing lost, nothing repeated. Every block has seq + 1 tokens.
    func testOneEpochHoldsEveryCorpusTokenOnce() {
        let documents = corpus(500)
        let blocks = stream(documents)
        var seen: [Int32: Int] = [:]
        var block = blocks.next()
        repeat {
            XCTAssertEqual(block.tokens.count, 129)
            XCTAssertEqual(block.weights.count, 128)
            let restored = cm3Untransform(block.tokens, vocabulary: vocabulary)
            XCTAssertEqual(restored, block.raw)
            for token in restored ?? [] { seen[token, default: 0] += 1 }
            block = blocks.next()
        } while block.epoch == 0
        var expected: [Int32: Int] = [:]
        for token in documents.tokens { expected[token, default: 0] += 1 }
        XCTAssertEqual(seen, expected)
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
