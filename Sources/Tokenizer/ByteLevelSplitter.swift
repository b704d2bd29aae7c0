/// GPT-2's pre-tokenizer pattern, scanned by hand instead of with a regex engine:
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
/// At each position the first alternative that matches wins, as in the regex.
enum ByteLevelSplitter {
    enum Kind: Equatable { case letter, number, space, other }

    static func kind(_ scalar: Unicode.Scalar) -> Kind {
        if scalar.value < 128 {
            // The ASCII fast path of the same classes.
            switch scalar.value {
            case 0x41...0x5A, 0x61...0x7A: return .letter
            case 0x30...0x39: return .number
            case 0x09...0x0D, 0x20: return .space
            default: return .other
            }
        }
        if scalar.properties.isWhitespace { return .space }
        switch scalar.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// The pieces of `text`, in order; together they are `text`.
    static func split(_ text: Substring) -> [Substring] {
        let scalars = text.unicodeScalars
        var pieces: [Substring] = []
        var start = scalars.startIndex
        while start < scalars.endIndex {
            let end = pieceEnd(scalars, from: start)
            pieces.append(Substring(scalars[start..<end]))
            start = end
        }
        return pieces
    }

    /// Where the piece that starts at `start` ends.
    private static func pieceEnd(_ scalars: Substring.UnicodeScalarView, from start: Substring.UnicodeScalarView.Index)
        -> Substring.UnicodeScalarView.Index
    {
        let end = scalars.endIndex
        let first = scalars[start]
        if first == "'", let contraction = contractionEnd(scalars, after: scalars.index(after: start)) {
            return contraction
        }
        // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional space, then one class.
        var body = start
        if first == " " {
            let next = scalars.index(after: start)
            if next < end && kind(scalars[next]) != .space { body = next }
        }
        let bodyKind = kind(scalars[body])
        if bodyKind != .space {
            var position = scalars.index(after: body)
            while position < end && kind(scalars[position]) == bodyKind { position = scalars.index(after: position) }
            return position
        }
        // `\s+(?!\S)`: a run of whitespace, less its last character when a non-space follows;
        // `\s+` takes a lone whitespace character before a non-space.
        var position = scalars.index(after: start)
        while position < end && kind(scalars[position]) == .space { position = scalars.index(after: position) }
        if position == end { return end }
        let last = scalars.index(before: position)
        return last > start ? last : position
    }

    /// The end of `'s`, `'t`, `'re`, `'ve`, `'m`, `'ll` or `'d` after the apostrophe.
    private static func contractionEnd(
        _ scalars: Substring.UnicodeScalarView, after apostrophe: Substring.UnicodeScalarView.Index
    ) -> Substring.UnicodeScalarView.Index? {
        let end = scalars.endIndex
        guard apostrophe < end else { return nil }
        let first = scalars[apostrophe], second = scalars.index(after: apostrophe)
        if "stmd".unicodeScalars.contains(first) { return second }
        guard second < end else { return nil }
        switch (first, scalars[second]) {
        case ("r", "e"), ("v", "e"), ("l", "l"): return scalars.index(after: second)
        default: return nil
        }
    }
}
