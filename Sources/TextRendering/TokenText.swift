import CM3Objective
import Configuration
import Diagnostics
import Foundation
import ShapesCorpus
import Tokenizer

/// How tokens read as text for a config: words of the built-in corpus, text through the
/// config's `data.tokenizer`, or ids; special tokens by name and image codes as `img:K`
/// either way.
public struct TokenText {
    public let corpus: DefaultCorpus
    public let builtin: Bool
    public let tokenizer: ByteLevelBPETokenizer?

    /// Loads `data.tokenizer` when the config names one; a tokenizer whose ids run past the
    /// text vocabulary is refused.
    public init(_ config: TesseraConfig) throws {
        let vocabulary = config.vocabulary
        corpus = DefaultCorpus(vocabulary: vocabulary)
        builtin = config.usesBuiltInCorpus
        tokenizer = try config.tokenizer()
    }

    /// `tokens` for people: runs of text decoded (or as words or `#id`), the rest by name.
    public func render(_ tokens: [Int32]) -> String {
        guard let tokenizer else { return builtin ? corpus.render(tokens) : corpus.renderIds(tokens) }
        var pieces: [String] = [], run: [Int32] = []
        let vocabulary = corpus.vocabulary
        func flush() { if !run.isEmpty { pieces.append(tokenizer.decode(run)); run = [] } }
        for token in tokens {
            if vocabulary.specialName(token) == nil && !vocabulary.isImage(token) { run.append(token); continue }
            flush()
            pieces.append(corpus.renderIds([token]))
        }
        flush()
        return pieces.joined(separator: " ")
    }

    /// A prompt: with a tokenizer, as `TokenizedCorpus` reads text; otherwise words of the
    /// built-in corpus (or ids), as `DefaultCorpus.parse` reads them.
    public func parse(_ prompt: String) throws -> [Int32] {
        guard let tokenizer else { return try corpus.parse(prompt, words: builtin) }
        return try TokenizedCorpus(tokenizer: tokenizer, vocabulary: corpus.vocabulary).tokens(prompt)
    }
}
