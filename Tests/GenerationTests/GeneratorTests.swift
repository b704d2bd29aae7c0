import CM3Objective
import Generation
import Model
import XCTest

final class GeneratorTests: XCTestCase {
    let vocabulary = Vocabulary(textVocabulary: 64, imageCodes: 32)

    /// Image mode gives exactly the image's codes, image codes only, then `<eos>`; text
    /// mode gives text tokens only and stops at `<eos>` or the limit. Greedy decoding is
    /// deterministic; seeded sampling is reproducible; guided streams run too.
    func testModesSeedsAndGuidance() throws {
        let generator = Generator(decoder: randomDecoder(), vocabulary: vocabulary)
        let prompt: [Int32] = [10, 11, 12, vocabulary.breakToken]
        for guidance in [Guidance.none, .classifierFree(scale: 3), .contrastive(k: 5, alpha: 0.1)] {
            let settings = DecodingSettings(guidance: guidance, samples: 3, seed: 4)
            let images = try generator.generate(prompt: prompt, mode: .image(codes: 9), settings: settings)
            XCTAssertEqual(images.count, 3)
            for image in images {
                XCTAssertEqual(image.count, 10)
                XCTAssertTrue(image.dropLast().allSatisfy(vocabulary.isImage), "\(image)")
                XCTAssertEqual(image.last, vocabulary.eos)
            }
            XCTAssertEqual(
                try generator.generate(prompt: prompt, mode: .image(codes: 9), settings: settings), images, "seeded")
            let texts = try generator.generate(prompt: prompt, mode: .text(maxTokens: 12), settings: settings)
            for text in texts {
                XCTAssertLessThanOrEqual(text.count, 13)
                XCTAssertEqual(text.last, vocabulary.eos)
                XCTAssertTrue(
                    text.dropLast().allSatisfy { !vocabulary.isImage($0) && !vocabulary.isSpecial($0) }, "\(text)")
            }
        }
        let greedy = DecodingSettings(sampling: SamplingSettings(temperature: 0), samples: 2, seed: 1)
        let a = try generator.generate(prompt: prompt, mode: .image(codes: 9), settings: greedy)
        XCTAssertEqual(a[0], a[1], "greedy samples agree")
        var other = greedy
        other.seed = 99
        XCTAssertEqual(
            try generator.generate(prompt: prompt, mode: .image(codes: 9), settings: other), a,
            "greedy ignores the seed")
        XCTAssertThrowsError(try generator.generate(prompt: prompt, mode: .image(codes: 200), settings: greedy)) {
            XCTAssertEqual($0 as? GenerationError, .tooLong(prompt: 4, generated: 201, seqLen: 64))
        }
    }

    /// Greedy decoding through the cache picks, at every step, the argmax of a full forward
    /// pass over the prompt and what was generated so far.
    func testGreedyDecodingMatchesFullForwardPasses() throws {
        let decoder = randomDecoder()
        let generator = Generator(decoder: decoder, vocabulary: vocabulary)
        let prompt: [Int32] = [10, 11, 12, vocabulary.breakToken]
        let image = try generator.generate(
            prompt: prompt, mode: .image(codes: 9),
            settings: DecodingSettings(sampling: SamplingSettings(temperature: 0)))[0]
        var sequence = prompt
        for token in image {
            let logits = decoder.fullForwardLogits(sequence).last!
            let allowed = GenerationMode.image(codes: 9).constrain(
                logits, after: sequence.count - prompt.count, vocabulary: vocabulary)
            XCTAssertEqual(Int32(argmax(allowed)), token)
            sequence.append(token)
        }
    }
}
