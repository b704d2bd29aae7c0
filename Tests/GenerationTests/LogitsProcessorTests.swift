import CM3Objective
import Generation
import Randomness
import XCTest

final class LogitsProcessorTests: XCTestCase {
    /// eq. 2: uncond + α(cond − uncond), token by token; α = 1 is the conditional stream.
    func testClassifierFreeGuidanceOnHandMadeLogits() {
        let conditional: [Float] = [2, 0, -1, 3], unconditional: [Float] = [1, 1, -1, 0]
        XCTAssertEqual(
            ClassifierFreeGuidance(scale: 3)(conditional: conditional, unconditional: unconditional), [4, -2, -1, 9])
        XCTAssertEqual(
            ClassifierFreeGuidance(scale: 1)(conditional: conditional, unconditional: unconditional), conditional)
        // A token both streams exclude stays excluded.
        let masked = ClassifierFreeGuidance(scale: 2)(conditional: [0, -.infinity], unconditional: [1, -.infinity])
        XCTAssertEqual(masked, [-1, -.infinity])
    }

    /// eq. 3 with probabilities chosen by hand: p_cond = [0.5, 0.3, 0.15, 0.05], k = 2 and
    /// α = 0.5 keep tokens with p ≥ 0.5 · 0.3 = 0.15 (tokens 0, 1, 2), each scored
    /// log p_cond − log p_uncond; token 3 scores −∞.
    func testContrastiveDecodingTopKOnHandMadeLogits() {
        let pCond: [Float] = [0.5, 0.3, 0.15, 0.05], pUncond: [Float] = [0.7, 0.1, 0.1, 0.1]
        let scores = ContrastiveDecodingTopK(k: 2, alpha: 0.5)(
            conditional: pCond.map { log($0) + 4 }, unconditional: pUncond.map(log))
        for (i, expected) in [log(Float(0.5 / 0.7)), log(Float(3)), log(Float(1.5))].enumerated() {
            XCTAssertEqual(scores[i], expected, accuracy: 1e-5)
        }
        XCTAssertEqual(scores[3], -.infinity)
        // The most probable conditional token is not the best contrastive one.
        XCTAssertEqual(argmax(scores), 1)
        // α = 1 and k = 1: only the top token survives.
        XCTAssertEqual(
            ContrastiveDecodingTopK(k: 1, alpha: 1)(conditional: pCond.map(log), unconditional: pUncond.map(log))
                .filter { $0 > -.infinity }.count, 1)
    }

    /// Temperature, top-k and top-p keep what they should.
    func testFilters() {
        XCTAssertEqual(applyTemperature([2, -4], 2), [1, -2])
        XCTAssertEqual(keepTopK([1, 5, 3, 4], 2), [-.infinity, 5, -.infinity, 4])
        // Probabilities 0.5, 0.3, 0.2: top-p 0.7 needs the first two, 0.5 only the first.
        let logits: [Float] = [log(0.5), log(0.3), log(0.2)]
        XCTAssertEqual(keepNucleus(logits, 0.7).map { $0 > -.infinity }, [true, true, false])
        XCTAssertEqual(keepNucleus(logits, 0.5).map { $0 > -.infinity }, [true, false, false])
        XCTAssertEqual(keepNucleus(logits, 1), logits)
    }

    /// Greedy takes the best token; sampling with a seed is reproducible, follows the
    /// probabilities, and never draws an excluded token.
    func testSampling() {
        var generator = SplitMix64(seed: 1, name: "sampling")
        XCTAssertEqual(SamplingSettings(temperature: 0).pick([0, 3, 3, -.infinity], generator: &generator), 1)
        let logits: [Float] = [log(0.6), log(0.3), log(0.1), -.infinity]
        func draws(_ seed: UInt64) -> [Int32] {
            var generator = SplitMix64(seed: seed, name: "sampling")
            return (0..<3000).map { _ in SamplingSettings().pick(logits, generator: &generator) }
        }
        let first = draws(7)
        XCTAssertEqual(first, draws(7))
        XCTAssertNotEqual(first, draws(8))
        XCTAssertFalse(first.contains(3))
        XCTAssertEqual(Double(first.filter { $0 == 0 }.count) / 3000, 0.6, accuracy: 0.03)
        XCTAssertEqual(Double(first.filter { $0 == 2 }.count) / 3000, 0.1, accuracy: 0.02)
    }

    /// The unconditional prompt replaces what precedes the last `<break>` with `<mask>`.
    func testUnconditionalPrompt() {
        let vocabulary = Vocabulary(textVocabulary: 64, imageCodes: 32)
        XCTAssertEqual(
            Generator.unconditionalPrompt([10, 11, 12, vocabulary.breakToken], vocabulary: vocabulary),
            [vocabulary.mask, vocabulary.breakToken])
        XCTAssertEqual(Generator.unconditionalPrompt([10, 11], vocabulary: vocabulary), [vocabulary.mask, 10, 11])
    }
}
