import Autograd
import CM3Objective
import COpenBLAS
import Randomness

/// The retrieval memory bank: one normalised vector per document, searched exactly by
/// maximum inner product (`cblas_sgemv` over all of them).
public final class EmbeddingBank: RelevanceSearch {
    public let dimensions: Int
    /// `[documents, dimensions]`, row-major.
    public let vectors: [Float]
    public var count: Int { vectors.count / dimensions }

    public init(vectors: [Float], dimensions: Int) {
        precondition(dimensions > 0 && vectors.count % dimensions == 0)
        self.vectors = vectors
        self.dimensions = dimensions
    }

    /// The bank of built-in embeddings of `documents`.
    public convenience init(builtinFor documents: DocumentSource, vocabulary: Vocabulary, embedding: BuiltinEmbedding) {
        var vectors: [Float] = []
        vectors.reserveCapacity(documents.count * embedding.dimensions)
        for index in 0..<documents.count { vectors += embedding.embed(document: documents.document(index), vocabulary: vocabulary) }
        self.init(vectors: vectors, dimensions: embedding.dimensions)
    }

    /// Documents by decreasing inner product with `query`, the first `limit`.
    public func ranked(_ query: [Float], limit: Int) -> [(document: Int, score: Float)] {
        precondition(query.count == dimensions, "query has \(query.count) dimensions, the bank \(dimensions)")
        var scores = [Float](repeating: 0, count: count)
        vectors.withUnsafeBufferPointer { bank in
            // scores [documents] = vectors [documents, dimensions] · query [dimensions]
            cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(count), Int32(dimensions), 1, bank.baseAddress, Int32(dimensions),
                        query, 1, 0, &scores, 1)
        }
        // Partial selection: only the top `limit` are ever sorted.
        var top: [(document: Int, score: Float)] = []
        top.reserveCapacity(limit + 1)
        for (document, score) in scores.enumerated() where top.count < limit || score > top[top.count - 1].score {
            let at = top.firstIndex { $0.score < score } ?? top.count
            top.insert((document, score), at: at)
            if top.count > limit { top.removeLast() }
        }
        return top
    }

    /// The vector of document `index`.
    public func vector(_ index: Int) -> [Float] { Array(vectors[(index * dimensions)..<((index + 1) * dimensions)]) }
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
