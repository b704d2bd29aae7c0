import CM3Objective
import Diagnostics
import ShapesCorpus
import Tokenizer

/// The documents of a config with `data.tokenizer`: text is the tokenizer's, encoded
/// between special-token names and `img:K` codes as `launch prepare` encodes a text
/// segment, and a document's template fields are its caption and its image. Task templates
/// and prompts on a user's own data read through it.
///
/// Unchecked: the tokenizer's word cache changes as it encodes. Only `templateTokens`
/// encodes, when a task file is read, on one thread; `templateFields`, which the data
/// pipeline calls, does not touch the tokenizer.
public struct TokenizedCorpus: TemplateCorpus, @unchecked Sendable {
    public let tokenizer: ByteLevelBPETokenizer
    public let vocabulary: Vocabulary

    public init(tokenizer: ByteLevelBPETokenizer, vocabulary: Vocabulary) {
        self.tokenizer = tokenizer
        self.vocabulary = vocabulary
    }

    /// Special tokens by name and `img:K` codes as they are; each run of other words
    /// between them encoded as one text, ending in a space when `spaced`.
    public func tokens(_ text: String, spaced: Bool = false) throws -> [Int32] {
        let names = DefaultCorpus(vocabulary: vocabulary)
        var tokens: [Int32] = [], words: [Substring] = []
        func flush(last: Bool = false) {
            guard !words.isEmpty else { return }
            tokens += tokenizer.encode(words.joined(separator: " ") + (last && spaced ? " " : ""))
            words = []
        }
        for item in text.split(whereSeparator: \.isWhitespace) {
            let isCode = item.hasPrefix("img:") && Int(item.dropFirst(4)) != nil
            let isSpecial = vocabulary.specials.contains { vocabulary.specialName($0) == String(item) }
            guard isCode || isSpecial else { words.append(item); continue }
            flush()
            tokens += try names.parse(String(item), words: false)
        }
        flush(last: true)
        return tokens
    }

    /// A field always follows a template's run of text; a space keeps the two apart, as
    /// in `question : {caption}` (a document's caption is encoded without one).
    public func templateTokens(_ text: String) throws -> [Int32] { try tokens(text, spaced: true) }

    /// Only the caption and the image: the other fields describe built-in pictures.
    public var fieldNames: [String] { ["caption", "image"] }

    public func templateFields(of document: [Int32], readsPictures: Bool) -> [String: [Int32]] {
        guard let parts = TemplateFields.captionAndImage(of: document, vocabulary: vocabulary) else { return [:] }
        return ["caption": parts.caption, "image": parts.image]
    }
}

extension TesseraConfig {
    /// `data.tokenizer`, nil without one; refused when its ids run past the text vocabulary.
    public func tokenizer() throws -> ByteLevelBPETokenizer? {
        guard let path = data.tokenizer else { return nil }
        let tokenizer = try ByteLevelBPETokenizer(contentsOf: path)
        guard tokenizer.vocabularySize <= vocabulary.textVocabulary else {
            throw ConfigError(
                file: source, key: "data.tokenizer",
                message: """
                    \(path) has \(tokenizer.vocabularySize) tokens, more than data.text_vocab \
                    \(vocabulary.textVocabulary)
                    """)
        }
        return tokenizer
    }

    /// What this config's task templates and prompts read as: its tokenizer's text, or the
    /// built-in corpus's words.
    public func templateCorpus() throws -> any TemplateCorpus {
        if let tokenizer = try tokenizer() { return TokenizedCorpus(tokenizer: tokenizer, vocabulary: vocabulary) }
        return DefaultCorpus(vocabulary: vocabulary)
    }
}
