/// Tokens added to a vocabulary (special tokens such as `</s>`), which are found in the text
/// before anything else and never split: the text between them is what the pre-tokenizer
/// and BPE see.
struct AddedTokens {
    struct Token {
        let content: String
        let id: Int32
        /// Whether the match also takes the whitespace on its left or right.
        let stripsLeft: Bool, stripsRight: Bool
        /// Whether it matches only as a whole word.
        let singleWord: Bool
    }
    let tokens: [Token]
    /// Added tokens by first Unicode scalar, longest first, to try at each position.
    private let byFirstScalar: [Unicode.Scalar: [Token]]

    init(_ tokens: [Token]) {
        self.tokens = tokens
        var byFirstScalar: [Unicode.Scalar: [Token]] = [:]
        for token in tokens where !token.content.isEmpty {
            byFirstScalar[token.content.unicodeScalars.first!, default: []].append(token)
        }
        self.byFirstScalar = byFirstScalar.mapValues {
            $0.sorted { $0.content.unicodeScalars.count > $1.content.unicodeScalars.count }
        }
    }

    /// A stretch of the text: an added token's id, or text to pre-tokenize.
    enum Part {
        case added(Int32)
        case text(Substring)
    }

    /// `text` split at the added tokens, leftmost first and the longest at a position.
    func split(_ text: String) -> [Part] {
        guard !byFirstScalar.isEmpty else { return text.isEmpty ? [] : [.text(Substring(text))] }
        let scalars = text.unicodeScalars
        var parts: [Part] = []
        var textStart = scalars.startIndex, position = scalars.startIndex
        while position < scalars.endIndex {
            guard let candidates = byFirstScalar[scalars[position]],
                let (token, matchEnd) = candidates.lazy.compactMap({ token in
                    match(token, in: scalars, at: position).map { (token, $0) }
                }).first
            else {
                position = scalars.index(after: position)
                continue
            }
            var before = position, after = matchEnd
            if token.stripsLeft {
                while before > textStart && isWhitespace(scalars[scalars.index(before: before)]) {
                    before = scalars.index(before: before)
                }
            }
            if token.stripsRight {
                while after < scalars.endIndex && isWhitespace(scalars[after]) { after = scalars.index(after: after) }
            }
            if before > textStart { parts.append(.text(Substring(scalars[textStart..<before]))) }
            parts.append(.added(token.id))
            textStart = after
            position = after
        }
        if textStart < scalars.endIndex { parts.append(.text(Substring(scalars[textStart..<scalars.endIndex]))) }
        return parts
    }

    /// Where `token` ends when it starts at `position`, or nil.
    private func match(
        _ token: Token, in scalars: String.UnicodeScalarView, at position: String.UnicodeScalarView.Index
    ) -> String.UnicodeScalarView.Index? {
        var cursor = position
        for scalar in token.content.unicodeScalars {
            guard cursor < scalars.endIndex, scalars[cursor] == scalar else { return nil }
            cursor = scalars.index(after: cursor)
        }
        if token.singleWord {
            let wordBefore = position > scalars.startIndex && isWordCharacter(scalars[scalars.index(before: position)])
            let wordAfter = cursor < scalars.endIndex && isWordCharacter(scalars[cursor])
            if wordBefore || wordAfter { return nil }
        }
        return cursor
    }

    private func isWhitespace(_ scalar: Unicode.Scalar) -> Bool { scalar.properties.isWhitespace }
    private func isWordCharacter(_ scalar: Unicode.Scalar) -> Bool {
        scalar == "_" || scalar.properties.isAlphabetic || scalar.properties.numericType != nil
    }
}
