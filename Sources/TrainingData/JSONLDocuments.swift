import CM3Objective
import Foundation

/// Documents given as JSON lines (`launch prepare --from-jsonl`): each line a JSON array of
/// token ids or `{"tokens": [...]}`, or interleaved text and image segments
/// (JSONLSegments.swift), optionally with `"text_embedding"` and
/// `"image_embedding"` (e.g. CLIP ViT-B/32 vectors computed elsewhere). Every id and vector
/// is checked before anything is written, and a problem is a `DataError` naming the file
/// and the line.
public enum JSONLDocuments {
    /// The documents of `path`, checked against `vocabulary`, and their embeddings when the
    /// file gives them; `<eos>` is appended where a document lacks it. Lines may end in LF
    /// or CRLF; blank lines are skipped. `progress` hears a line every 100,000 documents.
    ///
    /// Embeddings are all or nothing: when the first document has them, every document
    /// needs `text_embedding` if it has text tokens and `image_embedding` if it has image
    /// tokens (and no other), all of one dimension and none zero; each is L2-normalised here.
    public static func read(
        _ path: String, vocabulary: Vocabulary, segments rules: SegmentRules,
        progress: (String) -> Void
    ) throws -> (documents: [[Int32]], embeddings: [DocumentEmbedding]?) {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(path: path, message: "cannot read the file")
        }
        var documents: [[Int32]] = [], embeddings: [DocumentEmbedding] = []
        var firstLine: Int?, withEmbeddings = false, dimensions: Int?
        // Split bytes, not Characters: Swift reads "\r\n" as one Character, so a split on
        // "\n" would leave a CRLF file as a single line.
        for (number, bytes) in data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false).enumerated()
        {
            let line = bytes.last == UInt8(ascii: "\r") ? bytes.dropLast() : bytes
            guard line.contains(where: { !isWhitespace($0) }) else { continue }
            do {
                let parsed = try Line.parse(Data(line))
                let document: [Int32]
                switch parsed.content {
                case .ids(let items): document = try self.document(items, vocabulary: vocabulary)
                case .segments(let segments):
                    document = try self.document(segments, vocabulary: vocabulary, rules: rules)
                }
                let given = parsed.text != nil || parsed.image != nil
                if firstLine == nil { (firstLine, withEmbeddings) = (number + 1, given) }
                if withEmbeddings {
                    embeddings.append(
                        try embedding(
                            parsed, of: document, vocabulary: vocabulary, dimensions: &dimensions,
                            firstLine: firstLine!))
                } else if given {
                    throw LineProblem(
                        message: "gives embeddings but line \(firstLine!) gives none: give them on every line or none")
                }
                documents.append(document)
            } catch let problem as LineProblem {
                throw DataError(path: path, message: "line \(number + 1): \(problem.message)")
            }
            if documents.count % 100_000 == 0 { progress("read \(documents.count) documents") }
        }
        // An empty shard would only fail later, when training finds nothing to pack.
        guard !documents.isEmpty else { throw DataError(path: path, message: "no documents (every line is blank)") }
        return (documents, withEmbeddings ? embeddings : nil)
    }

    /// A document's checked, normalised embeddings; a part the document lacks is zero.
    static func embedding(
        _ line: Line, of document: [Int32], vocabulary: Vocabulary, dimensions: inout Int?,
        firstLine: Int
    ) throws -> DocumentEmbedding {
        let parts = modalities(of: document, vocabulary: vocabulary)
        /// The part's normalised vector, or nil for a part the document lacks.
        func checked(_ modality: Modality) throws -> [Float]? {
            let key = "\(modality.rawValue)_embedding",
                present = !(modality == .text ? parts.text : parts.image).isEmpty
            guard let given = modality == .text ? line.text : line.image else {
                if present {
                    throw LineProblem(
                        message:
                            """
                            no \(key), but the document has \(modality.rawValue) tokens (the file gives embeddings \
                            from line \(firstLine) on)
                            """
                    )
                }
                return nil
            }
            // A vector for a part the document lacks would give it a relevance it has no tokens for.
            guard present else {
                throw LineProblem(message: "\(key) given, but the document has no \(modality.rawValue) tokens")
            }
            if let dimensions, given.count != dimensions {
                throw LineProblem(
                    message:
                        "\(key) has \(given.count) dimensions, but the file's embeddings so far have \(dimensions)")
            }
            guard !given.isEmpty, given.contains(where: { $0 != 0 }) else {
                throw LineProblem(message: "\(key) is a zero vector")
            }
            dimensions = given.count
            return normalized(given)
        }
        let text = try checked(.text), image = try checked(.image)
        let zero = [Float](repeating: 0, count: dimensions ?? 0)
        return DocumentEmbedding(text: text ?? zero, image: image ?? zero)
    }

    /// One line's document, or the reason it is not one.
    static func document(_ items: [Item], vocabulary: Vocabulary) throws -> [Int32] {
        guard !items.isEmpty else { throw LineProblem(message: "the document has no tokens") }
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
                throw LineProblem(
                    message:
                        """
                        token \(id) (item \(position + 1)) is \(vocabulary.specialName(token) ?? ""), which the \
                        objective reserves
                        """
                )
            }
            if token == vocabulary.eos && position != items.count - 1 {
                throw LineProblem(
                    message: "token \(id) (item \(position + 1)) is <eos>, which may only end a document")
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

    /// A line: a bare array of ids or of segments, or an object whose `tokens` or `segments`
    /// is that array, with optional embeddings (other keys ignored).
    struct Line: Decodable {
        enum Content {
            case ids([Item])
            case segments([Segment])
        }
        let content: Content
        var text: [Float]?, image: [Float]?

        private enum Keys: String, CodingKey { case tokens, segments, text_embedding, image_embedding }

        static func parse(_ line: Data) throws -> Line {
            do {
                return try JSONDecoder().decode(Line.self, from: line)
            } catch let problem as LineProblem {
                throw problem
            } catch {
                throw LineProblem(
                    message:
                        """
                        expected a JSON array of token ids or of segments, or {\"tokens\": [...]} or {\"segments\": \
                        [...]}
                        """
                )
            }
        }

        init(from decoder: Decoder) throws {
            if let content = try Line.content(decoder.singleValueContainer()) {
                self.content = content
                return
            }
            let object = try decoder.container(keyedBy: Keys.self)
            if object.contains(.segments) {
                guard let content = try Line.content(object.superDecoder(forKey: .segments).singleValueContainer()),
                    case .segments = content
                else { throw LineProblem(message: "\"segments\" must be a list of segments") }
                self.content = content
            } else {
                content = .ids(try object.decode([Item].self, forKey: .tokens))
            }
            for key in [Keys.text_embedding, .image_embedding] where object.contains(key) {
                guard let vector = try? object.decode([Float].self, forKey: key), vector.allSatisfy(\.isFinite) else {
                    throw LineProblem(message: "\(key.rawValue) must be a list of finite numbers")
                }
                if key == .text_embedding { text = vector } else { image = vector }
            }
        }

        /// An array of segments (objects), or of ids; nil when the value is no array. A
        /// malformed segment is a `LineProblem`.
        private static func content(_ value: SingleValueDecodingContainer) throws -> Content? {
            do {
                return .segments(try value.decode([Segment].self))
            } catch let problem as LineProblem {
                throw problem
            } catch {
                return (try? value.decode([Item].self)).map(Content.ids)
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
