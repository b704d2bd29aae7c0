import CM3Objective
import Foundation

/// Documents given as JSON lines (`launch prepare --from-jsonl`): each line a JSON array of
/// token ids or `{"tokens": [...]}`. Every id is checked before anything is written, and a
/// problem is a `DataError` naming the file and the line.
public enum JSONLDocuments {
    /// The documents of `path`, checked against `vocabulary`; `<eos>` is appended where a
    /// document lacks it. Lines may end in LF or CRLF; blank lines are skipped. `progress`
    /// hears a line every 100,000 documents.
    public static func read(_ path: String, vocabulary: Vocabulary, progress: (String) -> Void) throws -> [[Int32]] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(path: path, message: "cannot read the file")
        }
        var documents: [[Int32]] = []
        // Split bytes, not Characters: Swift reads "\r\n" as one Character, so a split on
        // "\n" would leave a CRLF file as a single line.
        for (number, bytes) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated() {
            let line = bytes.last == UInt8(ascii: "\r") ? bytes.dropLast() : bytes
            guard line.contains(where: { !isWhitespace($0) }) else { continue }
            do {
                documents.append(try document(Data(line), vocabulary: vocabulary))
            } catch let problem as LineProblem {
                throw DataError(path: path, message: "line \(number + 1): \(problem.message)")
            }
            if documents.count % 100_000 == 0 { progress("read \(documents.count) documents") }
        }
        // An empty shard would only fail later, when training finds nothing to pack.
        guard !documents.isEmpty else { throw DataError(path: path, message: "no documents (every line is blank)") }
        return documents
    }

    /// One line's document, or the reason it is not one.
    static func document(_ line: Data, vocabulary: Vocabulary) throws -> [Int32] {
        guard let items = try? JSONDecoder().decode(Line.self, from: line).items, !items.isEmpty else {
            throw LineProblem(message: "expected a JSON array of token ids or {\"tokens\": [...]}")
        }
        var document: [Int32] = []
        document.reserveCapacity(items.count + 1)
        for (position, item) in items.enumerated() {
            guard case .id(let id) = item else {
                // Truncating 6.5 or reading `true` as 1 would train on tokens nobody wrote.
                throw LineProblem(message: "item \(position + 1) is \(item), not an integer token id")
            }
            guard id >= 0 && id < vocabulary.size else {
                throw LineProblem(message: "token \(id) is outside the vocabulary 0..<\(vocabulary.size)")
            }
            let token = Int32(id)
            if vocabulary.isReservedInDocuments(token) {
                throw LineProblem(message: "token \(id) (item \(position + 1)) is \(vocabulary.specialName(token) ?? ""), which the objective reserves")
            }
            if token == vocabulary.eos && position != items.count - 1 {
                throw LineProblem(message: "token \(id) (item \(position + 1)) is <eos>, which may only end a document")
            }
            document.append(token)
        }
        if document.last != vocabulary.eos { document.append(vocabulary.eos) }
        return document
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r")
    }

    /// Why a line was refused; `read` adds the file and the line number.
    struct LineProblem: Error {
        let message: String
    }

    /// A line: a bare array, or an object whose `tokens` is the array (other keys ignored).
    struct Line: Decodable {
        let items: [Item]

        private enum Keys: String, CodingKey { case tokens }

        init(from decoder: Decoder) throws {
            if let array = try? decoder.singleValueContainer().decode([Item].self) {
                items = array
            } else {
                items = try decoder.container(keyedBy: Keys.self).decode([Item].self, forKey: .tokens)
            }
        }
    }

    /// One array element: an integer id, or whatever else was written, for the message.
    enum Item: Decodable, CustomStringConvertible {
        case id(Int)
        case other(String)

        init(from decoder: Decoder) throws {
            let value = try decoder.singleValueContainer()
            if let id = try? value.decode(Int.self) {
                self = .id(id)
            } else if let flag = try? value.decode(Bool.self) {
                self = .other("\(flag)")
            } else if let number = try? value.decode(Double.self) {
                self = .other("\(number)")
            } else if let text = try? value.decode(String.self) {
                self = .other("\"\(text)\"")
            } else {
                self = .other(value.decodeNil() ? "null" : "a list or object")
            }
        }

        var description: String {
            switch self {
            case .id(let id): return "\(id)"
            case .other(let text): return text
            }
        }
    }
}
