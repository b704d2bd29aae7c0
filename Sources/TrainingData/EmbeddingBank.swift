import Autograd
import CM3Objective
import Randomness

/// The retrieval memory bank: each document's text and image embeddings and its document
/// vector (their normalised average), searched exactly by maximum inner product
/// (`innerProduct` with every document vector).
public final class EmbeddingBank: RetrievalBank {
    public let dimensions: Int
    /// Each `[documents, dimensions]`, row-major; a part a document lacks is a zero row.
    public let text: [Float], image: [Float]
    public let documentVectors: [Float]
    public var count: Int { documentVectors.count / dimensions }
    /// Query vectors: the built-in embedding re-embeds the tokens a query kept; stored
    /// embeddings cannot be recomputed from tokens, so their query dropout zeroes that
    /// fraction of the stored vector's coordinates instead.
    private let query: Query
    private enum Query { case builtin(BuiltinEmbedding), stored(dropout: Double) }

    /// A bank of stored embeddings (`[documents, dimensions]` each).
    public convenience init(text: [Float], image: [Float], dimensions: Int, queryDropout: Double) {
        self.init(text: text, image: image, dimensions: dimensions, query: .stored(dropout: queryDropout))
    }

    /// The bank of built-in embeddings of `documents`.
    public convenience init(builtinFor documents: DocumentSource, vocabulary: Vocabulary, embedding: BuiltinEmbedding)
    {
        var text: [Float] = [], image: [Float] = []
        text.reserveCapacity(documents.count * embedding.dimensions)
        image.reserveCapacity(documents.count * embedding.dimensions)
        for index in 0..<documents.count {
            let vectors = embedding.embed(document: documents.document(index), vocabulary: vocabulary)
            text += vectors.text
            image += vectors.image
        }
        self.init(text: text, image: image, dimensions: embedding.dimensions, query: .builtin(embedding))
    }

    private init(text: [Float], image: [Float], dimensions: Int, query: Query) {
        precondition(dimensions > 0 && text.count % dimensions == 0 && text.count == image.count)
        self.dimensions = dimensions
        self.text = text
        self.image = image
        self.query = query
        var documentVectors = [Float](repeating: 0, count: text.count)
        for row in 0..<(text.count / dimensions) {
            let range = (row * dimensions)..<((row + 1) * dimensions)
            let both = DocumentEmbedding(text: Array(text[range]), image: Array(image[range]))
            documentVectors.replaceSubrange(range, with: both.document)
        }
        self.documentVectors = documentVectors
    }

    /// Documents by decreasing inner product with `query`, the first `limit` (every
    /// document is a candidate, whichever part of which document asks).
    public func ranked(_ query: [Float], limit: Int, of source: (document: Int, epoch: Int)?, modality: Modality)
        -> [(document: Int, score: Float)]
    {
        precondition(query.count == dimensions, "query has \(query.count) dimensions, the bank \(dimensions)")
        return documentVectors.withUnsafeBufferPointer { bank in
            query.withUnsafeBufferPointer { query in
                topScores(
                    (0..<count).lazy.map { row in
                        (
                            row,
                            innerProduct(
                                bank.baseAddress! + row * self.dimensions, query.baseAddress!, count: self.dimensions)
                        )
                    }, limit: limit)
            }
        }
    }

    public func documentVector(_ document: Int) -> [Float] { row(documentVectors, document) }

    /// The stored embedding of one part of a document.
    public func vector(_ document: Int, _ modality: Modality) -> [Float] {
        row(modality == .text ? text : image, document)
    }

    public func queryVector(_ document: Int, _ modality: Modality, kept: [Int32], generator: inout SplitMix64)
        -> [Float]
    {
        switch query {
        case .builtin(let embedding): return embedding.embed(kept)
        case .stored(let dropout):
            return dropCoordinates(vector(document, modality), rate: dropout, generator: &generator)
        }
    }

    private func row(_ matrix: [Float], _ index: Int) -> [Float] {
        Array(matrix[(index * dimensions)..<((index + 1) * dimensions)])
    }
}

/// The `limit` best of `kept` (already best first) and those of `scored` that `accept`
/// takes, by decreasing score, ties in the order they come: a partial selection, so only
/// the top `limit` are ever sorted, and `accept` is asked only of those that would enter.
public func topScores(
    _ scored: some Sequence<(Int, Float)>, limit: Int, after kept: [(document: Int, score: Float)] = [],
    accept: (Int) -> Bool = { _ in true }
) -> [(document: Int, score: Float)] {
    var top = kept
    top.reserveCapacity(limit + 1)
    for (document, score) in scored where (top.count < limit || score > top[top.count - 1].score) && accept(document) {
        let at = top.firstIndex { $0.score < score } ?? top.count
        top.insert((document, score), at: at)
        if top.count > limit { top.removeLast() }
    }
    return top
}

/// Query dropout applied to a stored (not re-computable) embedding: a fraction `rate` of
/// the coordinates is zeroed, then the vector is renormalised.
public func dropCoordinates(_ vector: [Float], rate: Double, generator: inout SplitMix64) -> [Float] {
    var result = vector
    let dropCount = Int((rate * Double(vector.count)).rounded())
    var indices = Array(vector.indices)
    for i in 0..<dropCount {
        indices.swapAt(i, i + generator.nextInt(below: indices.count - i))
        result[indices[i]] = 0
    }
    return normalized(result)
}
