import CM3Objective
import Configuration
import Diagnostics
import Foundation
import TestSupport
import TextRendering
import XCTest

/// How tokens read as text: words of the built-in corpus, a config's tokenizer, or ids; special
/// tokens by name and image codes as `img:K` in every case.
final class TokenTextTests: XCTestCase {
    let tokenizer = ProjectPaths.root.appendingPathComponent("Tests/Fixtures/tokenizer/tokenizer.json").path

    func config(_ overrides: [String: String] = [:]) throws -> TesseraConfig {
        try TesseraConfig.load(path: ProjectPaths.config("tiny"), overrides: overrides)
    }

    /// On the built-in corpus a prompt of words, specials, codes and ids reads back as written
    /// (ids as their words).
    func testBuiltInCorpusPromptsRoundTrip() throws {
        let text = try TokenText(try config())
        let prompt = "an image of a red circle at top left <break> img:3 img:40 <eos>"
        let tokens = try text.parse(prompt)
        XCTAssertEqual(tokens.count, 13)
        XCTAssertEqual(text.render(tokens), prompt)
        let vocabulary = try config().vocabulary
        XCTAssertEqual(tokens[10], vocabulary.imageToken(3))
        XCTAssertEqual(text.render(try text.parse("#\(tokens[0]) <break>")), "an <break>")
        XCTAssertThrowsError(try text.parse("an elephant"))
    }

    /// With shards and no tokenizer, text ids print as `#id`; with `data.tokenizer`, runs of
    /// text are encoded and decoded by it and the specials stay by name.
    func testShardsPrintIdsAndATokenizerEncodesTheTextBetweenSpecials() throws {
        let ids = try TokenText(
            try config(["data.train": "unused.h5", "model.vocab_size": "4096", "data.text_vocab": "3072"]))
        XCTAssertEqual(ids.render([7, 2, 3072]), "#7 <break> img:0")
        let text = try TokenText(
            try config([
                "data.train": "unused.h5", "model.vocab_size": "4096", "data.text_vocab": "3072",
                "data.tokenizer": tokenizer
            ]))
        let tokens = try text.parse("a small test <break> img:5")
        XCTAssertEqual(Array(tokens.suffix(2)), [2, 3072 + 5])
        XCTAssertEqual(text.render(tokens), "a small test <break> img:5")
    }

    /// A tokenizer whose ids run past the text vocabulary is refused, naming the key.
    func testATokenizerLargerThanTheTextVocabularyIsRefused() throws {
        let config = try config(["data.train": "unused.h5", "data.tokenizer": tokenizer])
        XCTAssertThrowsError(try TokenText(config)) { error in
            XCTAssertEqual((error as? ConfigError)?.key, "data.tokenizer", "\(error)")
        }
    }
}
