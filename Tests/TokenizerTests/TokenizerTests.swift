import Foundation
import TestSupport
import Tokenizer
import XCTest

/// The Swift byte-level BPE against Hugging Face `tokenizers`: the fixture's ids come from the
/// library (scripts/make_tokenizer_fixture.py), for 3,000 lines with unicode in several
/// scripts, combining marks, emoji sequences, runs of spaces and tabs, digit runs,
/// contractions, special tokens inside text and empty lines.
final class TokenizerTests: XCTestCase {
    let fixture = ProjectPaths.root.appendingPathComponent("Tests/Fixtures/tokenizer")

    func testEncodingMatchesHuggingFaceAndDecodingRestoresTheText() throws {
        let tokenizer = try ByteLevelBPETokenizer(contentsOf: fixture.appendingPathComponent("tokenizer.json").path)
        XCTAssertEqual(tokenizer.vocabularySize, 3000)
        XCTAssertEqual(tokenizer.id(of: "</s>"), 1)
        let lines = try String(contentsOf: fixture.appendingPathComponent("lines.jsonl"), encoding: .utf8).split(
            separator: "\n")
        XCTAssertEqual(lines.count, 3000)
        var checked = 0, empty = 0
        for (number, line) in lines.enumerated() {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            let text = object["text"] as! String, expected = (object["ids"] as! [Int]).map(Int32.init)
            let ids = tokenizer.encode(text)
            guard ids == expected else {
                return XCTFail(
                    "line \(number + 1) \(String(reflecting: text)): got \(ids), Hugging Face gives \(expected)")
            }
            XCTAssertEqual(tokenizer.decode(ids), text, "line \(number + 1)")
            if text.isEmpty { empty += 1 }
            checked += 1
        }
        XCTAssertEqual(checked, 3000)
        XCTAssertGreaterThan(empty, 50, "the fixture holds empty lines")
    }

    /// Bad files are one line naming the file and the key.
    func testBadFilesNameTheFileAndKey() throws {
        let directory = try makeTemporaryDirectory("tessera-tokenizer")
        let good = try String(contentsOf: fixture.appendingPathComponent("tokenizer.json"), encoding: .utf8)
        let cases: [(String, String)] = [
            ("{not json", "not a JSON object"),
            (
                good.replacingOccurrences(of: "\"type\": \"BPE\"", with: "\"type\": \"WordPiece\""),
                "model.type: expected BPE, got WordPiece"
            ),
            (
                good.replacingOccurrences(of: "\"merges\": [", with: "\"merges\": [\"qqq zzz\", "),
                "model.merges[0]: qqq zzz does not merge two tokens of the vocabulary into one"
            ),
            (
                good.replacingOccurrences(
                    of: "\"type\": \"ByteLevel\",\n    \"add_prefix_space\"",
                    with: "\"type\": \"Whitespace\",\n    \"add_prefix_space\""),
                "pre_tokenizer: expected ByteLevel (alone or as the only step of a Sequence)"
            )
        ]
        for (index, (text, message)) in cases.enumerated() {
            let path = directory.appendingPathComponent("bad-\(index).json").path
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            XCTAssertNotEqual(text, good, "case \(index) must change the file")
            XCTAssertThrowsError(try ByteLevelBPETokenizer(contentsOf: path)) {
                XCTAssertEqual("\($0)", "\(path): \(message)")
            }
        }
    }
}
