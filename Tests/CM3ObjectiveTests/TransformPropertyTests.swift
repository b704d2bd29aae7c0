import CM3Objective
import Foundation
import Randomness
import XCTest

/// Random documents with random `<break>` layouts: 1–4 segments of 1–30 text or image
/// tokens, separated by `<break>`, ending in `<eos>`.
func randomDocument(_ generator: inout SplitMix64, vocabulary: Vocabulary) -> [Int32] {
    let segments = 1 + generator.nextInt(below: 4)
    var document: [Int32] = []
    for segment in 0..<segments {
        if segment > 0 { document.append(vocabulary.breakToken) }
        let image = generator.nextInt(below: 2) == 0
        for _ in 0..<(1 + generator.nextInt(below: 30)) {
            document.append(
                image
                    ? vocabulary.imageToken(generator.nextInt(below: vocabulary.imageCodes))
                    : Int32(5 + generator.nextInt(below: vocabulary.textVocabulary - 5)))
        }
    }
    return document + [vocabulary.eos]
}

final class TransformPropertyTests: XCTestCase {
    let vocabulary = Vocabulary(textVocabulary: 100, imageCodes: 50)
    let settings = CM3Settings()

    /// Over 10,000+ documents in blocks of 1–3: spans lie inside segments (no special token
    /// inside, so they never contain or cross `<break>` or a document boundary), do not
    /// overlap, undoing the transform restores the block, and the layout is as specified.
    func testSpansStayInsideSegmentsAndTheTransformInverts() {
        var generator = SplitMix64(seed: 1, name: "documents")
        var documents = 0
        var blocks = 0
        while documents < 10_000 {
            let count = 1 + generator.nextInt(below: 3)
            let block = (0..<count).flatMap { _ in randomDocument(&generator, vocabulary: vocabulary) }
            documents += count
            blocks += 1
            var masking = SplitMix64(seed: 2, name: "block/\(blocks)")
            let example = cm3Transform(block, vocabulary: vocabulary, settings: settings, generator: &masking)
            XCTAssertGreaterThanOrEqual(example.spans.count, 1)
            XCTAssertEqual(example.tokens.count, block.count + 2 * example.spans.count + 1)
            for (i, span) in example.spans.enumerated() {
                XCTAssertFalse(span.isEmpty)
                XCTAssertFalse(
                    block[span].contains(where: vocabulary.isSpecial), "span \(span) covers a special token")
                if i > 0 { XCTAssertLessThanOrEqual(example.spans[i - 1].upperBound, span.lowerBound, "overlap") }
            }
            XCTAssertEqual(cm3Untransform(example.tokens, vocabulary: vocabulary), block)
            // Layout: masks in the source, then <infill> span … in order, then <eos>.
            let firstInfill = example.tokens.firstIndex(of: vocabulary.infill)!
            XCTAssertEqual(example.tokens[..<firstInfill].filter { $0 == vocabulary.mask }.count, example.spans.count)
            XCTAssertEqual(example.tokens.last, vocabulary.eos)
            XCTAssertEqual(
                Array(example.tokens[(firstInfill + 1)...].prefix(example.spans[0].count)),
                Array(block[example.spans[0]]))
        }
    }

    /// The span count follows clamp(Poisson(1), 1, 16): chi-square over 1, 2, 3, 4, ≥5 spans
    /// (4 degrees of freedom; the 0.001 critical value is 18.47).
    func testSpanCountsFollowTheClampedPoisson() {
        var generator = SplitMix64(seed: 3, name: "documents")
        var histogram = [Int](repeating: 0, count: 5)
        let trials = 20_000
        for trial in 0..<trials {
            let block =
                (0..<3).flatMap { _ in randomDocument(&generator, vocabulary: vocabulary) }
                + [Int32](repeating: 7, count: 40)
            var masking = SplitMix64(seed: 4, name: "\(trial)")
            let spans = cm3Transform(block, vocabulary: vocabulary, settings: settings, generator: &masking).spans
                .count
            histogram[min(spans, 5) - 1] += 1
        }
        func poisson(_ k: Int) -> Double { exp(-1) / Double((1...max(k, 1)).reduce(1, *)) }
        let probabilities = [poisson(0) + poisson(1), poisson(2), poisson(3), poisson(4)]
        let expected = (probabilities + [1 - probabilities.reduce(0, +)]).map { $0 * Double(trials) }
        let chiSquare = zip(histogram, expected).map { (Double($0) - $1) * (Double($0) - $1) / $1 }.reduce(0, +)
        XCTAssertLessThan(chiSquare, 18.47, "histogram \(histogram), expected \(expected)")
    }

    /// Weights: 0 for padding targets, `maskWeight` for `<mask>` targets, 1 otherwise.
    func testLossWeights() {
        let targets: [Int32] = [
            10, vocabulary.mask, 11, vocabulary.infill, 12, vocabulary.eos, vocabulary.pad, vocabulary.pad
        ]
        XCTAssertEqual(
            cm3LossWeights(targets: targets, vocabulary: vocabulary, settings: settings), [1, 0, 1, 1, 1, 1, 0, 0])
        var half = settings
        half.maskWeight = 0.5
        XCTAssertEqual(
            cm3LossWeights(targets: targets, vocabulary: vocabulary, settings: half), [1, 0.5, 1, 1, 1, 1, 0, 0])
    }

    /// The paper's example: one span over "a chameleon" in the caption.
    func testPaperLayoutWithOneSpan() {
        // "Image of a chameleon : <break> [image] <eos>"
        let block: [Int32] = [20, 21, 22, 23, 24, vocabulary.breakToken, vocabulary.imageToken(5), vocabulary.eos]
        var generator = SplitMix64(seed: 0, name: "")
        let settings = CM3Settings(lambda: 0, minSpans: 1, maxSpans: 1)
        var found = false
        for attempt in 0..<2000 where !found {
            generator = SplitMix64(seed: UInt64(attempt), name: "paper")
            let example = cm3Transform(block, vocabulary: vocabulary, settings: settings, generator: &generator)
            if example.spans == [2..<4] {
                XCTAssertEqual(
                    example.tokens,
                    [
                        20, 21, vocabulary.mask, 24, vocabulary.breakToken, vocabulary.imageToken(5),
                        vocabulary.eos, vocabulary.infill, 22, 23, vocabulary.eos
                    ])
                found = true
            }
        }
        XCTAssertTrue(found)
    }
}
