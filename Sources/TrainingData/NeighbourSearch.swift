import CM3Objective
import COpenBLAS

/// The offline search of `launch retrieve`, exact by BLAS: for a range of query documents
/// and one epoch, each part's query exactly as training draws it (`RetrievalExamples.queries`:
/// that epoch's query dropout), ranked against every document vector, the bank visited
/// `blockDocuments` at a time (one `cblas_sgemm` per block), so memory holds the queries
/// and one block of the bank, never all of it. Of the first `depth` of each ranking it keeps
/// the `candidates` best that training could take (not the query, not a copy of it,
/// relevance to it at most `maxRelevance`), with their positions.
public struct NeighbourSearch {
    public let examples: RetrievalExamples
    public let vectors: PartVectors
    public let candidates: Int
    public let depth: Int
    public let blockDocuments: Int

    public init(examples: RetrievalExamples, vectors: PartVectors, candidates: Int, depth: Int, blockDocuments: Int) {
        self.examples = examples
        self.vectors = vectors
        self.candidates = candidates
        self.depth = max(depth, candidates)
        self.blockDocuments = blockDocuments
    }

    /// `[queries.count, 2 (text, image), candidates]` documents and their positions, best
    /// first, `-1` past the end and for a part the document lacks.
    public func search(_ queries: Range<Int>, epoch: Int) -> (found: [Int32], positions: [Int32]) {
        let dimensions = vectors.dimensions, bankCount = vectors.documents.count, rows = 2 * queries.count
        // [2 · queries, dimensions]: each query's text query, then its image query.
        var queryMatrix = [Float](repeating: 0, count: rows * dimensions)
        var present = [Bool](repeating: false, count: rows)
        let full = queries.map { vectors.parts($0).document }
        for (index, document) in queries.enumerated() {
            for (modality, vector) in examples.queries(for: document, epoch: epoch).vectors {
                let row = 2 * index + (modality == .text ? 0 : 1)
                present[row] = true
                queryMatrix.replaceSubrange((row * dimensions)..<((row + 1) * dimensions), with: vector)
            }
        }
        var ranked = [[(document: Int, score: Float)]](repeating: [], count: rows)
        var relevance = [[Int: Float]](repeating: [:], count: rows)
        var bank = [Float](repeating: 0, count: blockDocuments * dimensions)
        var scores = [Float](repeating: 0, count: rows * blockDocuments)
        for start in stride(from: 0, to: bankCount, by: blockDocuments) {
            let count = min(blockDocuments, bankCount - start)
            for index in 0..<count {
                bank.replaceSubrange(
                    (index * dimensions)..<((index + 1) * dimensions), with: vectors.parts(start + index).document)
            }
            // scores [rows, count] = queryMatrix [rows, dimensions] · bank [count, dimensions]ᵀ
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(count), Int32(dimensions), 1, queryMatrix,
                Int32(dimensions), bank, Int32(dimensions), 0, &scores, Int32(count))
            bank.withUnsafeBufferPointer { bank in
                for row in 0..<rows where present[row] {
                    let offset = row * count
                    ranked[row] = topScores(
                        (0..<count).lazy.map { (start + $0, scores[offset + $0]) }, limit: depth, after: ranked[row],
                        accept: { document in
                            // Relevance as training measures it, while the row is at hand.
                            relevance[row][document] = full[row / 2].withUnsafeBufferPointer {
                                dot(
                                    bank.baseAddress! + (document - start) * dimensions, $0.baseAddress!,
                                    count: dimensions)
                            }
                            return true
                        })
                }
            }
        }
        var found = [Int32](repeating: -1, count: rows * candidates), positions = found
        for row in 0..<rows {
            let query = queries.lowerBound + row / 2, tokens = vectors.documents.document(query)
            let eligible = ranked[row].enumerated().filter { position, candidate in
                candidate.document != query && relevance[row][candidate.document]! <= examples.settings.maxRelevance
                    && !vectors.documents.document(candidate.document).elementsEqual(tokens)
            }
            for (slot, (position, candidate)) in eligible.prefix(candidates).enumerated() {
                found[row * candidates + slot] = Int32(candidate.document)
                positions[row * candidates + slot] = Int32(position)
            }
        }
        return (found, positions)
    }
}
