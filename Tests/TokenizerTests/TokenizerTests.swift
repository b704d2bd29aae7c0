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
                // The pre-tokenizer's entry only (the decoder's reads the same).
                good.replacingCharacters(
                    in: good.range(of: "\"type\": \"ByteLevel\",\n    \"add_prefix_space\"")!,
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

    /// The fixture with `edit` applied to its JSON, written to a temporary file.
    func editedFixture(_ name: String, _ edit: (inout [String: Any]) -> Void) throws -> String {
        let data = try Data(contentsOf: fixture.appendingPathComponent("tokenizer.json"))
        var root = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        edit(&root)
        let path = try makeTemporaryDirectory("tessera-tokenizer").appendingPathComponent("\(name).json").path
        try JSONSerialization.data(withJSONObject: root).write(to: URL(fileURLWithPath: path))
        return path
    }

    func editModel(_ root: inout [String: Any], _ edit: (inout [String: Any]) -> Void) {
        var model = root["model"] as! [String: Any]
        edit(&model)
        root["model"] = model
    }

    /// `ignore_merges` and `unk_token` (with and without `fuse_unk`) give the ids `tokenizers`
    /// 0.23 gives for the same files (computed there); dropout, byte fallback, truncation and
    /// unknown fields are refused by name.
    func testSettingsThatChangeTheIdsAreHonouredOrRefused() throws {
        for (ignore, expected) in [
            (true, [69, 3000, 3000] as [Int32]), (false, [69, 225, 94, 94, 85, 85, 225, 94, 94, 85, 85])
        ] {
            let path = try editedFixture("ignore-\(ignore)") { root in
                editModel(&root) { model in
                    model["ignore_merges"] = ignore
                    var vocabulary = model["vocab"] as! [String: Any]
                    vocabulary["Ġzzqq"] = 3000
                    model["vocab"] = vocabulary
                }
            }
            XCTAssertEqual(
                try ByteLevelBPETokenizer(contentsOf: path).encode("a zzqq zzqq"), expected, "ignore_merges \(ignore)")
        }
        for (fuse, expected) in [(false, [69, 70, 0, 0, 0] as [Int32]), (true, [69, 70, 0])] {
            let path = try editedFixture("unk-\(fuse)") { root in
                editModel(&root) { model in
                    var vocabulary = model["vocab"] as! [String: Any]
                    vocabulary["#"] = nil  // in no merge
                    model["vocab"] = vocabulary
                    model["unk_token"] = "<pad>"
                    model["fuse_unk"] = fuse
                }
            }
            XCTAssertEqual(try ByteLevelBPETokenizer(contentsOf: path).encode("ab###"), expected, "fuse_unk \(fuse)")
        }
        let refusals: [(String, (inout [String: Any]) -> Void, String)] = [
            ("model.dropout", { root in self.editModel(&root) { $0["dropout"] = 0.1 } }, "BPE dropout (0.1)"),
            ("model.byte_fallback", { root in self.editModel(&root) { $0["byte_fallback"] = true } }, "not supported"),
            (
                "model.end_of_word_suffix", { root in self.editModel(&root) { $0["end_of_word_suffix"] = "</w>" } },
                "not supported"
            ),
            ("model.shuffle", { root in self.editModel(&root) { $0["shuffle"] = true } }, "unknown field"),
            ("truncation", { $0["truncation"] = ["max_length": 8] }, "set it to null"),
            ("extras", { $0["extras"] = 1 }, "unknown field")
        ]
        for (key, edit, message) in refusals {
            let path = try editedFixture(key, edit)
            XCTAssertThrowsError(try ByteLevelBPETokenizer(contentsOf: path), key) { error in
                XCTAssertEqual((error as? TokenizerError)?.key, key, "\(error)")
                XCTAssertTrue("\(error)".hasPrefix("\(path): \(key): ") && "\(error)".contains(message), "\(error)")
            }
        }
    }

    /// A 42,000-character word without spaces gives the ids `tokenizers` 0.23 gives (their
    /// count, sum and ends, computed there) and decodes back. The merge loop is O(n log n);
    /// benchmarks/tokenizer_speed.py --long-word times it against `tokenizers`.
    func testALongWordMatchesHuggingFace() throws {
        let tokenizer = try ByteLevelBPETokenizer(contentsOf: fixture.appendingPathComponent("tokenizer.json").path)
        let word = String(repeating: "tesseratrainsadecoder", count: 2000)
        let ids = tokenizer.encode(word)
        XCTAssertEqual(ids.count, 10000)
        XCTAssertEqual(ids.reduce(0) { $0 + Int($1) }, 4_724_000)
        XCTAssertEqual(Array(ids.prefix(8)), [88, 467, 874, 69, 864, 88, 467, 874])
        XCTAssertEqual(Array(ids.suffix(8)), [874, 69, 864, 88, 467, 874, 69, 864])
        XCTAssertEqual(tokenizer.decode(ids), word)
    }
}
