import CM3Objective
import Randomness

/// The built-in corpus: pictures of coloured shapes on a 6 × 6 grid with captions that fully
/// determine them, so a model can learn text→image and image→text exactly.
///
/// The grid is 3 × 3 regions of 2 × 2 cells. A picture has 1–3 shapes in distinct regions.
/// A background cell's code is its position (0–35), so neighbouring cells never repeat a
/// code; a shape s of colour c fills its region's four cells with codes
/// `36 + (s·colours + c)·4 + quadrant`. The caption reads, e.g.,
/// `an image of a red circle at top left and a blue square at center`, naming the shapes in
/// reading order (top left to bottom right). Half the documents
/// are `caption <break> image <eos>`, the other half `image <break> caption <eos>`, so both
/// directions are learned alike.
public struct DefaultCorpus: Sendable {
    public static let shapes = ["circle", "square", "triangle", "cross"]
    public static let colours = ["red", "green", "blue", "yellow", "purple", "orange"]
    public static let regions = [
        "top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right"
    ]
    static let fixedWords = ["an", "image", "of", "a", "at", "and"]
    /// Words of fine-tuning instructions (`configs/tasks/shapes.yaml`); no caption uses them.
    /// They come after the caption words, whose ids they leave unchanged.
    public static let instructionWords = [
        "describe", "the", "given", "picture", "generate", "high", "quality",
        "question", "what", "colour", "is", "answer", ".", "?", ":"
    ]

    /// Every word, in id order after the special tokens.
    public static let words: [String] = {
        var words = fixedWords + shapes + colours
        for region in regions {
            for word in region.split(separator: " ").map(String.init) where !words.contains(word) {
                words.append(word)
            }
        }
        return words + instructionWords
    }()

    /// Image codes the corpus uses (a background code per cell, then every shape, colour
    /// and quadrant).
    public static let imageCodesUsed = cells + shapes.count * colours.count * 4
    /// Cells per picture.
    public static let cells = 36
    /// Most shapes a picture holds.
    public static let maxShapes = 3
    /// Tokens of the longest caption: `an image of`, then per shape `a C S at` and its
    /// region (at most two words), joined by `and`.
    public static let longestCaption = 3 + maxShapes * (4 + 2) + (maxShapes - 1)

    public let vocabulary: Vocabulary
    public let seed: UInt64

    /// The vocabulary must have room for the words after the largest special id, and for
    /// `imageCodesUsed` image codes.
    public init(vocabulary: Vocabulary, seed: UInt64 = 0) {
        self.vocabulary = vocabulary
        self.seed = seed
    }

    /// The smallest text vocabulary that holds the words after the special tokens.
    public static func requiredTextVocabulary(_ vocabulary: Vocabulary) -> Int {
        Int(vocabulary.specials.max()!) + 1 + words.count
    }

    func wordId(_ word: String) -> Int32 {
        Int32(vocabulary.specials.max()!) + 1 + Int32(DefaultCorpus.words.firstIndex(of: word)!)
    }

    /// Document `index` (deterministic in seed and index).
    public func document(_ index: Int) -> [Int32] {
        var generator = SplitMix64(seed: seed, name: "default-corpus/\(index)")
        let shapeCount = 1 + generator.nextInt(below: DefaultCorpus.maxShapes)
        var regions = Array(0..<9)
        for i in 0..<shapeCount { regions.swapAt(i, i + generator.nextInt(below: 9 - i)) }
        let items = (0..<shapeCount).map { k in
            let shape = generator.nextInt(below: DefaultCorpus.shapes.count)
            return Picture.Item(
                shape: shape, colour: generator.nextInt(below: DefaultCorpus.colours.count), region: regions[k])
        }
        // Captions name shapes in reading order, so a picture has one caption.
        let picture = Picture(items: items.sorted { $0.region < $1.region })
        let caption = caption(of: picture), image = image(of: picture)
        let captionFirst = generator.nextInt(below: 2) != 0
        return (captionFirst ? caption + [vocabulary.breakToken] + image : image + [vocabulary.breakToken] + caption)
            + [vocabulary.eos]
    }

    /// Documents `0..<count`.
    public func documents(_ count: Int) -> [[Int32]] { (0..<count).map(document) }

    /// Renders tokens readably: words, `<break>`-style specials, image codes as `img:K`.
    public func render(_ tokens: some Sequence<Int32>) -> String { render(tokens, words: true) }

    /// Renders tokens of another corpus: specials and image codes by name, text as `#id`.
    public func renderIds(_ tokens: some Sequence<Int32>) -> String { render(tokens, words: false) }

    /// The inverse of `render`: words of the corpus (when `words`), special tokens by name
    /// (`<break>`), image codes as `img:K` and any id as `#id` or a bare number.
    public func parse(_ text: String, words: Bool = true) throws -> [Int32] {
        try text.split(whereSeparator: \.isWhitespace).map { item in
            let item = String(item)
            if let special = vocabulary.specials.first(where: { vocabulary.specialName($0) == item }) {
                return special
            }
            if item.hasPrefix("img:"), let code = Int(item.dropFirst(4)), (0..<vocabulary.imageCodes).contains(code) {
                return vocabulary.imageToken(code)
            }
            if let id = Int(item.hasPrefix("#") ? String(item.dropFirst()) : item), (0..<vocabulary.size).contains(id)
            {
                return Int32(id)
            }
            if words, DefaultCorpus.words.contains(item),
                vocabulary.textVocabulary >= DefaultCorpus.requiredTextVocabulary(vocabulary)
            {
                return wordId(item)
            }
            throw UnknownToken(item: item)
        }
    }

    /// A prompt item that is no word, special token, image code or id of the vocabulary.
    public struct UnknownToken: Error, Equatable, CustomStringConvertible {
        public let item: String
        public var description: String {
            "'\(item)' is not a word of the built-in corpus, a special token, img:K or a token id of this vocabulary"
        }
    }

    func render(_ tokens: some Sequence<Int32>, words: Bool) -> String {
        tokens.map { token -> String in
            if let special = vocabulary.specialName(token) { return special }
            if vocabulary.isImage(token) { return "img:\(Int(token) - vocabulary.textVocabulary)" }
            let word = Int(token) - Int(vocabulary.specials.max()!) - 1
            return words && word >= 0 && word < DefaultCorpus.words.count ? DefaultCorpus.words[word] : "#\(token)"
        }.joined(separator: " ")
    }
}
