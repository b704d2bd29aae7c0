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

    /// Reads `text`: `{name}` is a field, and each run of other items between fields is
    /// text `corpus` reads as tokens (for the built-in corpus: words, special tokens such as
    /// `<break>`, `img:K` or ids; with a tokenizer, its encoding of the run).
    public init(_ text: String, corpus: any TemplateCorpus) throws {
        var pieces: [Piece] = [], run: [String] = []
        func flush() throws {
            guard !run.isEmpty else { return }
            do {
                pieces.append(.tokens(try corpus.templateTokens(run.joined(separator: " "))))
            } catch {
                throw TemplateError.unknownToken("\(error)")
            }
            run = []
        }
        for item in text.split(whereSeparator: \.isWhitespace).map(String.init) {
            guard item.hasPrefix("{") && item.hasSuffix("}") && item.count > 2 else {
                run.append(item)
                continue
            }
            let name = String(item.dropFirst().dropLast())
            guard corpus.fieldNames.contains(name) else {
                throw TemplateError.unknownField(name, known: corpus.fieldNames)
            }
            try flush()
            pieces.append(.field(name))
        }
        try flush()
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
    /// A field the corpus does not give, with those it does.
    case unknownField(String, known: [String])
    /// An item the corpus cannot read, with the corpus's reason.
    case unknownToken(String)
    case noAnswerField

    public var description: String {
        switch self {
        case .unknownField(let name, let known):
            "unknown field {\(name)} (fields: \(known.map { "{\($0)}" }.joined(separator: ", ")))"
        case .unknownToken(let reason): reason
        case .noAnswerField: "must end with a field, the task's answer"
        }
    }
}

/// What templates are written against: how an item of a template's text reads as tokens,
/// and the fields a document gives. The built-in shapes corpus is one; the objective knows
/// no corpus.
public protocol TemplateCorpus: Sendable {
    var vocabulary: Vocabulary { get }
    /// A run of a template's text between fields (items joined by single spaces) as
    /// tokens; the error's description says why not.
    func templateTokens(_ text: String) throws -> [Int32]
    /// The fields of `document` (`TemplateFields.names`); `readsPictures` adds those read
    /// from its picture.
    func templateFields(of document: [Int32], readsPictures: Bool) -> [String: [Int32]]
    /// The fields `templateFields` can give.
    var fieldNames: [String] { get }
}

extension TemplateCorpus {
    public var fieldNames: [String] { TemplateFields.names }
}

/// The fields a template can read from a document: its caption and image (either order
/// around `<break>`), and, for a picture of the built-in corpus with a shape drawn only
/// once, that shape's name, colour and region (for questions about it).
public enum TemplateFields {
    public static let names = ["caption", "image", "shape", "colour", "region"]

    /// The fields of `document`, as `corpus` reads them.
    public static func of(_ document: [Int32], corpus: any TemplateCorpus, readsPictures: Bool) -> [String: [Int32]] {
        corpus.templateFields(of: document, readsPictures: readsPictures)
    }

    /// The caption and the image of a document of any corpus, either order around its
    /// `<break>`; nil without one.
    public static func captionAndImage(of document: [Int32], vocabulary: Vocabulary) -> (
        caption: [Int32], image: [Int32]
    )? {
        guard let split = document.firstIndex(of: vocabulary.breakToken) else { return nil }
        let first = Array(document[..<split]), second = Array(document[(split + 1)...].prefix { $0 != vocabulary.eos })
        return first.first.map(vocabulary.isImage) == true ? (second, first) : (first, second)
    }
}
