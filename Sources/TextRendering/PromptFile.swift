import Diagnostics
import Foundation
import ShapesCorpus

/// A problem with one line of a prompts file: its path, line number and what is wrong.
public struct PromptFileError: ReportableError {
    public let path: String
    public let line: Int?
    public let message: String
    public var description: String { line.map { "\(path): line \($0): \(message)" } ?? "\(path): \(message)" }
}

/// The prompts of `launch generate --prompts FILE.jsonl`: one JSON object per line,
/// `{"prompt": "text"}` (read as `--prompt` is: words or tokenizer text, special tokens,
/// `img:K`) or `{"tokens": [ids]}`, with an optional `"id"` (string or number) that the
/// output repeats.
public enum PromptFile {
    public struct Entry {
        /// The line's tokens, read from its text or ids.
        public let tokens: [Int32]
        /// Its line number, and its `id` if it gives one.
        public let line: Int
        public let id: String?

        public init(tokens: [Int32], line: Int, id: String?) {
            self.tokens = tokens; self.line = line; self.id = id
        }
    }

    /// Every prompt of `path`; the first bad line is one `PromptFileError`.
    public static func read(_ path: String, text: TokenText) throws -> [Entry] {
        guard let data = FileManager.default.contents(atPath: path), let contents = String(data: data, encoding: .utf8)
        else { throw PromptFileError(path: path, line: nil, message: "cannot be read as UTF-8 text") }
        var entries: [Entry] = []
        for (index, line) in contents.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
        where !line.trimmingCharacters(in: .whitespaces).isEmpty {
            func failure(_ message: String) -> PromptFileError {
                PromptFileError(path: path, line: index + 1, message: message)
            }
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else {
                throw failure(#"expected a JSON object {"prompt": "..."} or {"tokens": [ids]}"#)
            }
            let tokens: [Int32]
            if let prompt = object["prompt"] as? String {
                do { tokens = try text.parse(prompt) } catch let unknown as DefaultCorpus.UnknownToken {
                    throw failure("\(unknown)")
                }
            } else if let ids = object["tokens"] as? [Int],
                ids.allSatisfy({ (0..<text.corpus.vocabulary.size).contains($0) })
            {
                tokens = ids.map(Int32.init)
            } else {
                throw failure(#"expected "prompt" (a string) or "tokens" (ids below the vocabulary size)"#)
            }
            guard !tokens.isEmpty else { throw failure("the prompt is empty") }
            entries.append(Entry(tokens: tokens, line: index + 1, id: object["id"].map { "\($0)" }))
        }
        guard !entries.isEmpty else { throw PromptFileError(path: path, line: nil, message: "holds no prompts") }
        return entries
    }
}
