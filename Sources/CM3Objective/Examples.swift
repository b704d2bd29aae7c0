/// One unit of CM3 masking: a query document and the documents retrieved for it (none
/// without retrieval), laid out `r1 r2 r3 query` (paper fig. 9).
public struct Example: Equatable, Sendable {
    /// The query document's index in the corpus.
    public var query: Int
    public var queryTokens: [Int32]
    public var retrieved: [RetrievedDocument]
    /// The tokens of each retrieved document, in the order of `retrieved`.
    public var retrievedTokens: [[Int32]]
    /// The fine-tuning task whose template made `queryTokens` from the document (nil: the
    /// document as it is).
    public var task: String?

    public init(
        query: Int, queryTokens: [Int32], retrieved: [RetrievedDocument] = [], retrievedTokens: [[Int32]] = [],
        task: String? = nil
    ) {
        precondition(retrieved.count == retrievedTokens.count)
        self.query = query; self.queryTokens = queryTokens; self.retrieved = retrieved;
        self.retrievedTokens = retrievedTokens
        self.task = task
    }

    /// `r1 r2 r3 query`.
    public var tokens: [Int32] { retrievedTokens.flatMap { $0 } + queryTokens }

    /// Drops retrieved documents, farthest from the query (first) first, until the example
    /// has at most `limit` tokens or only the query is left; the query is never cut here.
    public mutating func fit(_ limit: Int) {
        var length = tokens.count
        while length > limit && !retrieved.isEmpty {
            length -= retrievedTokens.removeFirst().count
            retrieved.removeFirst()
        }
    }
}

/// Builds the example for one query document. Deterministic in (epoch, document).
public protocol ExampleBuilder {
    func example(for document: Int, epoch: Int) -> Example
    /// Whether each example starts a block of its own (retrieval: the query must share a
    /// block with what was retrieved for it), or examples run on across blocks.
    var startsAtBlockBoundary: Bool { get }
}

/// Examples without retrieval: each document as it is, running on across blocks, or
/// starting a block each (`oneDocumentPerBlock`: how validation scores query documents
/// without retrieval, so that no unrelated document precedes them).
public struct PlainExamples: ExampleBuilder {
    public let documents: DocumentSource
    public let startsAtBlockBoundary: Bool
    public init(documents: DocumentSource, oneDocumentPerBlock: Bool = false) {
        self.documents = documents
        startsAtBlockBoundary = oneDocumentPerBlock
    }
    public func example(for document: Int, epoch: Int) -> Example {
        Example(query: document, queryTokens: Array(documents.document(document)))
    }
}

/// An example after CM3 masking, as it is packed: `source-with-masks <infill> span … <eos>`.
public struct MaskedExample: Equatable, Sendable {
    public var example: Example
    /// The transform's output.
    public var tokens: [Int32]
    /// The masked spans, as ranges of `example.tokens`.
    public var spans: [Range<Int>]
}

/// The part of one masked example that lies in a block.
public struct BlockPiece: Equatable, Codable, Sendable {
    /// The query document's index in the corpus, and what was retrieved for it.
    public var query: Int
    public var retrieved: [RetrievedDocument]
    /// The fine-tuning task that templated the example, if any.
    public var task: String?
    /// Spans CM3 masked in the whole example.
    public var spanCount: Int
    /// Where the piece lies in the block's tokens.
    public var range: Range<Int>
    /// Where the piece starts in the masked example (0: the example starts in this block),
    /// and the masked example's length (the piece ends it when `offset + range.count`
    /// equals it).
    public var offset: Int
    public var length: Int

    public var startsExample: Bool { offset == 0 }
    public var endsExample: Bool { offset + range.count == length }
}
