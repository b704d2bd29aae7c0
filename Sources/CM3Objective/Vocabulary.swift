/// The CM3Leon vocabulary: text ids first (special tokens live among them), then image
/// codes, so image code `c` is token `textVocabulary + c`. Paper: 56320 + 8192 = 64512.
public struct Vocabulary: Equatable, Sendable {
    public var textVocabulary: Int
    public var imageCodes: Int
    public var pad: Int32
    public var eos: Int32
    public var breakToken: Int32
    public var mask: Int32
    public var infill: Int32

    /// CM3Leon's sizes: 56320 text ids + 8192 image codes = 64512.
    public static let cm3leon = Vocabulary(textVocabulary: 56320, imageCodes: 8192)

    public init(
        textVocabulary: Int, imageCodes: Int, pad: Int32 = 0, eos: Int32 = 1,
        breakToken: Int32 = 2, mask: Int32 = 3, infill: Int32 = 4
    ) {
        self.textVocabulary = textVocabulary
        self.imageCodes = imageCodes
        self.pad = pad; self.eos = eos; self.breakToken = breakToken; self.mask = mask; self.infill = infill
    }

    /// Total ids the model embeds.
    public var size: Int { textVocabulary + imageCodes }

    /// The five special tokens.
    public var specials: [Int32] { [pad, eos, breakToken, mask, infill] }

    /// Token id of image code `code`.
    public func imageToken(_ code: Int) -> Int32 { Int32(textVocabulary + code) }

    /// The image codes (`0..<imageCodes`) among `tokens`, in order; other tokens are skipped.
    public func imageCodes<Tokens: Sequence<Int32>>(in tokens: Tokens) -> [Int] {
        tokens.filter(isImage).map { Int($0) - textVocabulary }
    }

    /// Whether `token` is an image code.
    public func isImage(_ token: Int32) -> Bool { Int(token) >= textVocabulary }

    /// Whether `token` is one of the special tokens.
    public func isSpecial(_ token: Int32) -> Bool {
        token == pad || token == eos || token == breakToken || token == mask || token == infill
    }

    /// The special token's name (`<mask>`), or nil for any other token.
    public func specialName(_ token: Int32) -> String? {
        switch token {
        case pad: return "<pad>"
        case eos: return "<eos>"
        case breakToken: return "<break>"
        case mask: return "<mask>"
        case infill: return "<infill>"
        default: return nil
        }
    }

    /// Whether `token` may not appear in a document: `<pad>`, `<mask>` and `<infill>` are
    /// what the CM3 transform writes, so a document holding them would be misread as masked.
    public func isReservedInDocuments(_ token: Int32) -> Bool {
        token == pad || token == mask || token == infill
    }

    /// A reason the special ids cannot work (outside the text range, or repeated), or nil.
    public var problem: String? {
        if let bad = specials.first(where: { $0 < 0 || Int($0) >= textVocabulary }) {
            return "special token id \(bad) is outside the text range 0..<\(textVocabulary)"
        }
        if Set(specials).count != specials.count { return "special token ids must differ, got \(specials)" }
        return nil
    }
}
