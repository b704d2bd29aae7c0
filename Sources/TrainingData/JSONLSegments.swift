import CM3Objective
import Foundation

/// Interleaved documents in JSONL: a line may be a list of segments,
/// `[{"text": "a red circle"}, {"image": [17, 4, …]}]`, or `{"segments": [...]}` beside
/// embeddings. Text is encoded with the config's tokenizer, image codes are offset past the
/// text vocabulary, and `<break>` separates a segment from the next unless both are text.
extension JSONLDocuments {
    /// What a document's text and images must be.
    public struct SegmentRules {
        /// Encodes a text segment (the config's `data.tokenizer`); nil: text segments are refused.
        public var encode: ((String) -> [Int32])?
        /// Codes per image (`data.image_tokens`).
        public var imageTokens: Int
        public init(encode: ((String) -> [Int32])?, imageTokens: Int) {
            self.encode = encode
            self.imageTokens = imageTokens
        }
    }

    /// One segment of an interleaved document.
    enum Segment: Decodable {
        case text(String)
        case image([Item])

        private enum Keys: String, CodingKey { case text, image }

        init(from decoder: Decoder) throws {
            let object = try decoder.container(keyedBy: Keys.self)
            switch (object.contains(.text), object.contains(.image)) {
            case (true, false):
                guard let text = try? object.decode(String.self, forKey: .text) else {
                    throw LineProblem(message: "a text segment's \"text\" must be a string")
                }
                self = .text(text)
            case (false, true):
                guard let codes = try? object.decode([Item].self, forKey: .image) else {
                    throw LineProblem(message: "an image segment's \"image\" must be a list of codes")
                }
                self = .image(codes)
            default:
                throw LineProblem(message: "each segment is {\"text\": \"...\"} or {\"image\": [codes]}")
            }
        }

        var isText: Bool { if case .text = self { true } else { false } }
    }

    /// The tokens of a list of segments, then `<eos>`; a problem names the segment.
    static func document(_ segments: [Segment], vocabulary: Vocabulary, rules: SegmentRules) throws -> [Int32] {
        guard !segments.isEmpty else { throw LineProblem(message: "the document has no segments") }
        var document: [Int32] = []
        for (index, segment) in segments.enumerated() {
            let name = "segment \(index + 1)"
            if index > 0 && !(segment.isText && segments[index - 1].isText) { document.append(vocabulary.breakToken) }
            switch segment {
            case .text(let text):
                guard let encode = rules.encode else {
                    throw LineProblem(message: "\(name) is text, but the config names no data.tokenizer to encode it")
                }
                let tokens = encode(text)
                guard !tokens.isEmpty else { throw LineProblem(message: "\(name): the text is empty") }
                for token in tokens
                where token < 0 || vocabulary.isImage(token) || vocabulary.isReservedInDocuments(token)
                    || token == vocabulary.eos
                {
                    let what =
                        vocabulary.specialName(token).map { "\($0), which the objective reserves" }
                        ?? "outside the text vocabulary 0..<\(vocabulary.textVocabulary)"
                    throw LineProblem(message: "\(name): the tokenizer gives id \(token), \(what)")
                }
                document += tokens
            case .image(let items):
                guard items.count == rules.imageTokens else {
                    throw LineProblem(
                        message:
                            "\(name).image has \(items.count) codes, but data.image_tokens is \(rules.imageTokens)")
                }
                for (position, item) in items.enumerated() {
                    guard case .id(let code) = item, (0..<vocabulary.imageCodes).contains(code) else {
                        throw LineProblem(
                            message:
                                """
                                \(name).image: code \(item) (item \(position + 1)) is outside \
                                0..<\(vocabulary.imageCodes)
                                """
                        )
                    }
                    document.append(vocabulary.imageToken(code))
                }
            }
        }
        return document + [vocabulary.eos]
    }
}
