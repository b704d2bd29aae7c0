import Randomness

/// Settings of retrieval augmentation (CM3Leon §2.1).
public struct RetrievalSettings: Equatable, Sendable {
    /// Documents retrieved with the query's text part, and again with its image part.
    public var perModality = 2
    /// Of those, how many are kept (at random) and prepended.
    public var keep = 3
    /// Candidates whose relevance to the full query document exceeds this are too similar
    /// to it and skipped.
    public var maxRelevance: Float = 0.9
    /// Fraction of the query's tokens dropped before embedding it.
    public var queryDropout = 0.2

    public init() {}
}

/// The memory bank retrieval searches: a document vector per document (the normalised
/// average of its text and image embeddings), searched by exact maximum inner product.
/// TrainingData implements it with BLAS.
public protocol RetrievalBank: AnyObject {
    var count: Int { get }
    /// Documents by decreasing inner product (`innerProduct`; ties by index) of their
    /// document vector with `query`, the first `limit`. `query` searches for the `modality`
    /// part of a training document in an epoch (nil: a new prompt): a bank of stored
    /// neighbours answers from what was found offline for exactly that query.
    func ranked(_ query: [Float], limit: Int, of source: (document: Int, epoch: Int)?, modality: Modality)
        -> [(document: Int, score: Float)]
    /// The document vector of `document`.
    func documentVector(_ document: Int) -> [Float]
    /// The vector that searches for the `modality` part of `document` after query dropout;
    /// `kept` are the part's tokens that the dropout left.
    func queryVector(_ document: Int, _ modality: Modality, kept: [Int32], generator: inout SplitMix64) -> [Float]
}

/// A document prepended to a query, and why: its relevance to the full query document
/// (inner product of the document vectors) and the part of the query that found it.
public struct RetrievedDocument: Equatable, Codable, Sendable {
    public var document: Int
    public var relevance: Float
    public var modality: Modality

    public init(document: Int, relevance: Float, modality: Modality) {
        self.document = document; self.relevance = relevance; self.modality = modality
    }
}

/// The selection rules of CM3Leon §2.1, given candidates in rank order with their
/// relevance to the full query: skip the query itself, a copy of its tokens, anything whose
/// relevance exceeds `maxRelevance`, and anything already taken; prefer multimodal
/// documents (take them first, in rank order, then unimodal ones if needed).
public func selectRetrieved(
    _ candidates: [(document: Int, relevance: Float)], count: Int, query: Int, taken: Set<Int>,
    maxRelevance: Float, isCopyOfQuery: (Int) -> Bool, isMultimodal: (Int) -> Bool
) -> [Int] {
    let eligible = candidates.filter {
        $0.document != query && $0.relevance <= maxRelevance && !taken.contains($0.document)
            && !isCopyOfQuery($0.document)
    }
    let preferred = eligible.filter { isMultimodal($0.document) } + eligible.filter { !isMultimodal($0.document) }
    return Array(preferred.prefix(count).map(\.document))
}

/// Builds retrieval-augmented examples: for each query document, `perModality` documents
/// retrieved by its text part and `perModality` by its image part (each after query
/// dropout), then `keep` of those at random, prepended in retrieval order (`r1 r2 r3 query`).
public final class RetrievalExamples: ExampleBuilder {
    public let documents: DocumentSource
    public let vocabulary: Vocabulary
    public let settings: RetrievalSettings
    public let seed: UInt64
    public let bank: RetrievalBank
    let multimodal: [Bool]

    public init(
        documents: DocumentSource, vocabulary: Vocabulary, settings: RetrievalSettings, seed: UInt64,
        bank: RetrievalBank
    ) {
        precondition(
            bank.count == documents.count, "the bank has \(bank.count) documents, the corpus \(documents.count)")
        self.documents = documents
        self.vocabulary = vocabulary
        self.settings = settings
        self.seed = seed
        self.bank = bank
        multimodal = (0..<documents.count).map { index in
            let parts = modalities(of: documents.document(index), vocabulary: vocabulary)
            return !parts.text.isEmpty && !parts.image.isEmpty
        }
    }

    /// Each example starts a block of its own, so the query sits with what was retrieved.
    public var startsAtBlockBoundary: Bool { true }

    /// The query vectors `document` searches with in `epoch` (one per part it has, after
    /// query dropout), and the generator that drew them, which then picks what is kept.
    /// Offline search (`launch retrieve`) draws the same.
    public func queries(for document: Int, epoch: Int) -> (vectors: [(Modality, [Float])], generator: SplitMix64) {
        var generator = SplitMix64(seed: seed, name: "retrieval/\(epoch)/\(document)")
        let parts = modalities(of: documents.document(document), vocabulary: vocabulary)
        var vectors: [(Modality, [Float])] = []
        for modality in Modality.allCases {
            let part = modality == .text ? parts.text : parts.image
            guard !part.isEmpty else { continue }
            let kept = dropTokens(part, rate: settings.queryDropout, generator: &generator)
            vectors.append((modality, bank.queryVector(document, modality, kept: kept, generator: &generator)))
        }
        return (vectors, generator)
    }

    /// The documents retrieved for `document` in `epoch`, in the order they are prepended.
    public func retrieved(for document: Int, epoch: Int) -> [RetrievedDocument] {
        var (queries, generator) = queries(for: document, epoch: epoch)
        // The 0.9 rule compares with the whole, undropped query: dropout changes what is
        // found, never what counts as too similar.
        let full = bank.documentVector(document), queryTokens = documents.document(document)
        var chosen: [RetrievedDocument] = []
        for (modality, query) in queries {
            chosen += search(
                query, modality: modality, count: settings.perModality, full: full,
                excluding: (document: document, epoch: epoch),
                isCopyOfQuery: { self.documents.document($0) == queryTokens }, taken: chosen)
        }
        while chosen.count > settings.keep { chosen.remove(at: generator.nextInt(below: chosen.count)) }
        return chosen
    }

    /// `count` documents for one query vector of the `modality` part, by the rules of
    /// `selectRetrieved`, with relevance measured against `full`, the whole query's vector.
    /// The ranking window widens until enough candidates pass (a corpus full of near-copies
    /// can fill the first window).
    public func search(
        _ query: [Float], modality: Modality, count: Int, full: [Float],
        excluding queryDocument: (document: Int, epoch: Int)?,
        isCopyOfQuery: (Int) -> Bool, taken: [RetrievedDocument]
    ) -> [RetrievedDocument] {
        var limit = min(bank.count, 16 * (count + taken.count + 1))
        while true {
            let candidates = bank.ranked(query, limit: limit, of: queryDocument, modality: modality).map {
                (document: $0.document, relevance: dot(bank.documentVector($0.document), full))
            }
            let picked = selectRetrieved(
                candidates, count: count, query: queryDocument?.document ?? -1, taken: Set(taken.map(\.document)),
                maxRelevance: settings.maxRelevance, isCopyOfQuery: isCopyOfQuery,
                isMultimodal: { self.multimodal[$0] })
            if picked.count == count || limit == bank.count {
                return picked.map { document in
                    RetrievedDocument(
                        document: document, relevance: candidates.first { $0.document == document }!.relevance,
                        modality: modality)
                }
            }
            limit = min(bank.count, limit * 4)
        }
    }

    public func example(for document: Int, epoch: Int) -> Example {
        let retrieved = retrieved(for: document, epoch: epoch)
        return Example(
            query: document, queryTokens: Array(documents.document(document)),
            retrieved: retrieved, retrievedTokens: retrieved.map { Array(documents.document($0.document)) })
    }
}
