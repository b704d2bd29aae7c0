import Foundation
import Randomness

/// Settings of retrieval augmentation (CM3Leon §2.1).
public struct RetrievalSettings: Equatable, Sendable {
    /// Documents retrieved with the query's text part, and again with its image part.
    public var perModality = 2
    /// Of those, how many are kept (at random) and prepended.
    public var keep = 3
    /// Candidates scoring above this are too similar to the query and skipped.
    public var maxRelevance: Float = 0.9
    /// Fraction of the query's tokens dropped before embedding it.
    public var queryDropout = 0.2

    public init() {}
}

/// Ranks the memory bank for a query vector: (document, score) by decreasing inner product.
/// Trainer implements it with BLAS over the bank's embeddings.
public protocol RelevanceSearch {
    func ranked(_ query: [Float], limit: Int) -> [(document: Int, score: Float)]
}

/// Tessera's stand-in for CLIP when a dataset stores no embeddings: feature hashing of a
/// document's tokens. Each token adds ±1 to one of `dimensions` coordinates (both chosen
/// by a hash of the id), the text part and the image part are each normalised, and the
/// document vector is their normalised average, as the paper combines CLIP's text and
/// image embeddings. Documents sharing words or image codes score high.
public struct BuiltinEmbedding: Sendable {
    public let dimensions: Int

    public init(dimensions: Int = 64) { self.dimensions = dimensions }

    /// Normalised hashed bag of `tokens` (all zeros when empty).
    public func embed(_ tokens: some Sequence<Int32>) -> [Float] {
        var vector = [Float](repeating: 0, count: dimensions)
        for token in tokens {
            var hash = UInt64(bitPattern: Int64(token)) &* 0x9e37_79b9_7f4a_7c15
            hash ^= hash >> 29
            vector[Int(hash % UInt64(dimensions))] += (hash >> 40) & 1 == 0 ? 1 : -1
        }
        return normalized(vector)
    }

    /// The document vector: the normalised average of the text and image embeddings.
    public func embed(document: some Collection<Int32>, vocabulary: Vocabulary) -> [Float] {
        let parts = modalities(of: document, vocabulary: vocabulary)
        return normalized(zip(embed(parts.text), embed(parts.image)).map { ($0 + $1) / 2 })
    }
}

/// `v / ‖v‖`, or `v` unchanged when it is zero.
public func normalized(_ vector: [Float]) -> [Float] {
    let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return norm > 0 ? vector.map { $0 / norm } : vector
}

/// Query dropout: removes `round(rate · count)` of `tokens`, chosen uniformly, keeping the
/// order of the rest.
public func dropTokens(_ tokens: [Int32], rate: Double, generator: inout SplitMix64) -> [Int32] {
    let dropCount = Int((rate * Double(tokens.count)).rounded())
    guard dropCount > 0 else { return tokens }
    var indices = Array(tokens.indices)
    for i in 0..<dropCount { indices.swapAt(i, i + generator.nextInt(below: indices.count - i)) }
    let dropped = Set(indices[0..<dropCount])
    return tokens.indices.filter { !dropped.contains($0) }.map { tokens[$0] }
}

/// The selection rules of CM3Leon §2.1, given candidates ranked by relevance: skip the
/// query itself, anything scoring above `maxRelevance`, and anything already taken; prefer
/// multimodal documents (take them first, in rank order, then unimodal ones if needed).
public func selectRetrieved(_ ranked: [(document: Int, score: Float)], count: Int, query: Int,
                            taken: Set<Int>, maxRelevance: Float, isMultimodal: (Int) -> Bool) -> [Int] {
    let eligible = ranked.filter { $0.document != query && $0.score <= maxRelevance && !taken.contains($0.document) }
    let preferred = eligible.filter { isMultimodal($0.document) } + eligible.filter { !isMultimodal($0.document) }
    return Array(preferred.prefix(count).map(\.document))
}

/// Builds retrieval-augmented examples: for each query document, `perModality` documents
/// retrieved by its text part and `perModality` by its image part (each after query
/// dropout), then `keep` of those at random, prepended in retrieval order.
public final class RetrievalExamples: ExampleBuilder {
    public let documents: DocumentSource
    public let vocabulary: Vocabulary
    public let settings: RetrievalSettings
    public let seed: UInt64
    let search: RelevanceSearch
    /// Embeds a query part (text or image tokens) into the bank's space.
    let embedQuery: (_ document: Int, _ part: [Int32], _ generator: inout SplitMix64) -> [Float]
    let multimodal: [Bool]

    public init(documents: DocumentSource, vocabulary: Vocabulary, settings: RetrievalSettings, seed: UInt64,
                search: RelevanceSearch,
                embedQuery: @escaping (_ document: Int, _ part: [Int32], _ generator: inout SplitMix64) -> [Float]) {
        self.documents = documents
        self.vocabulary = vocabulary
        self.settings = settings
        self.seed = seed
        self.search = search
        self.embedQuery = embedQuery
        multimodal = (0..<documents.count).map { index in
            let parts = modalities(of: documents.document(index), vocabulary: vocabulary)
            return !parts.text.isEmpty && !parts.image.isEmpty
        }
    }

    /// The documents retrieved for `document` in `epoch`, in the order they are prepended.
    public func retrieved(for document: Int, epoch: Int) -> [Int] {
        var generator = SplitMix64(seed: seed, name: "retrieval/\(epoch)/\(document)")
        let parts = modalities(of: documents.document(document), vocabulary: vocabulary)
        var chosen: [Int] = []
        for part in [parts.text, parts.image] where !part.isEmpty {
            let query = embedQuery(document, dropTokens(part, rate: settings.queryDropout, generator: &generator), &generator)
            let limit = min(documents.count, 16 * (settings.perModality + chosen.count + 1))
            chosen += selectRetrieved(search.ranked(query, limit: limit), count: settings.perModality, query: document,
                                      taken: Set(chosen), maxRelevance: settings.maxRelevance) { self.multimodal[$0] }
        }
        while chosen.count > settings.keep { chosen.remove(at: generator.nextInt(below: chosen.count)) }
        return chosen
    }

    public func example(for document: Int, epoch: Int) -> [Int32] {
        retrieved(for: document, epoch: epoch).flatMap { documents.document($0) } + documents.document(document)
    }
}
