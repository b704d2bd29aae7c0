/// A fine-tuning task's template in the form of CM3Leon's Table 5: fixed tokens and named
/// fields of a document, e.g. `{image} <break> describe the given picture . {caption}`.
/// The last field is what the task asks for: everything before it is the prompt.
public struct TaskTemplate: Equatable, Sendable {
    public enum Piece: Equatable, Sendable {
        case tokens([Int32])
        case field(String)
    }
    public let pieces: [Piece]
    /// The template as written.
    public let text: String

    /// Reads `text`: `{name}` is a field, anything else a word of the built-in corpus, a
    /// special token (`<break>`), `img:K` or a token id.
    public init(_ text: String, corpus: DefaultCorpus) throws {
        var pieces: [Piece] = []
        for item in text.split(whereSeparator: \.isWhitespace).map(String.init) {
            if item.hasPrefix("{") && item.hasSuffix("}") && item.count > 2 {
                let name = String(item.dropFirst().dropLast())
                guard TemplateFields.names.contains(name) else { throw TemplateError.unknownField(name) }
                pieces.append(.field(name))
                continue
            }
            let token: [Int32]
            do { token = try corpus.parse(item) } catch let error as DefaultCorpus.UnknownToken { throw TemplateError.unknownToken(error) }
            if case .tokens(let previous)? = pieces.last { pieces[pieces.count - 1] = .tokens(previous + token) } else { pieces.append(.tokens(token)) }
        }
        guard case .field? = pieces.last else { throw TemplateError.noAnswerField }
        self.pieces = pieces
        self.text = text
    }

    /// The fields the template reads.
    public var fields: [String] { pieces.compactMap { if case .field(let name) = $0 { name } else { nil } } }

    /// The field the task asks for (the last piece).
    public var answerField: String { fields.last! }

    /// The template filled in with `fields`, or nil when the document lacks one of them.
    public func render(_ fields: [String: [Int32]]) -> [Int32]? { render(pieces, fields) }

    /// Everything before the answer, filled in: what a model is prompted with.
    public func prompt(_ fields: [String: [Int32]]) -> [Int32]? { render(pieces.dropLast(), fields) }

    private func render(_ pieces: some Sequence<Piece>, _ fields: [String: [Int32]]) -> [Int32]? {
        var tokens: [Int32] = []
        for piece in pieces {
            switch piece {
            case .tokens(let fixed): tokens += fixed
            case .field(let name):
                guard let value = fields[name] else { return nil }
                tokens += value
            }
        }
        return tokens
    }
}

/// Why a template was refused (the task file's reader adds the file and the task).
public enum TemplateError: Error, Equatable, CustomStringConvertible {
    case unknownField(String)
    case unknownToken(DefaultCorpus.UnknownToken)
    case noAnswerField

    public var description: String {
        switch self {
        case .unknownField(let name): "unknown field {\(name)} (fields: \(TemplateFields.names.map { "{\($0)}" }.joined(separator: ", ")))"
        case .unknownToken(let unknown): unknown.description
        case .noAnswerField: "must end with a field, the task's answer"
        }
    }
}

/// The fields a template can read from a document: its caption and image (either order
/// around `<break>`), and, for a picture of the built-in corpus with a shape drawn only
/// once, that shape's name, colour and region (for questions about it).
public enum TemplateFields {
    public static let names = ["caption", "image", "shape", "colour", "region"]

    /// The fields of `document`. `corpus` splits it (any corpus's documents are `caption
    /// <break> image` or the reverse); with `readsPictures` (the built-in corpus) the shape
    /// fields are read from its picture too.
    public static func of(_ document: [Int32], corpus: DefaultCorpus, readsPictures: Bool) -> [String: [Int32]] {
        guard let parts = corpus.parts(of: document) else { return [:] }
        var fields = ["caption": parts.caption, "image": parts.image]
        // The question must have one answer: ask about the first shape the picture holds once.
        if readsPictures, let picture = corpus.picture(fromImage: parts.image),
           let item = picture.items.first(where: { item in picture.items.filter { $0.shape == item.shape }.count == 1 }) {
            fields["shape"] = [corpus.wordId(DefaultCorpus.shapes[item.shape])]
            fields["colour"] = [corpus.wordId(DefaultCorpus.colours[item.colour])]
            fields["region"] = DefaultCorpus.regions[item.region].split(separator: " ").map { corpus.wordId(String($0)) }
        }
        return fields
    }
}
