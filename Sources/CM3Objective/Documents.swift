/// Read access to a corpus of documents (token lists ending in `<eos>`).
public protocol DocumentSource: AnyObject {
    /// Number of documents.
    var count: Int { get }
    /// Document `index`'s tokens.
    func document(_ index: Int) -> ArraySlice<Int32>
}

/// Documents held in memory as one flat token array and offsets (the shard layout).
public final class FlatDocuments: DocumentSource {
    public let tokens: [Int32]
    /// `count + 1` offsets; document i is `tokens[offsets[i] ..< offsets[i+1]]`.
    public let offsets: [Int]

    public init(tokens: [Int32], offsets: [Int]) {
        precondition(offsets.first == 0 && offsets.last == tokens.count, "offsets must span the tokens")
        self.tokens = tokens
        self.offsets = offsets
    }

    public convenience init(documents: [[Int32]]) {
        var offsets = [0]
        for document in documents { offsets.append(offsets.last! + document.count) }
        self.init(tokens: documents.flatMap { $0 }, offsets: offsets)
    }

    public var count: Int { offsets.count - 1 }

    public func document(_ index: Int) -> ArraySlice<Int32> { tokens[offsets[index]..<offsets[index + 1]] }
}

/// The text part and the image part of a document (special tokens dropped).
public func modalities(of document: some Collection<Int32>, vocabulary: Vocabulary) -> (text: [Int32], image: [Int32])
{
    var text: [Int32] = [], image: [Int32] = []
    for token in document where !vocabulary.isSpecial(token) {
        if vocabulary.isImage(token) { image.append(token) } else { text.append(token) }
    }
    return (text, image)
}
