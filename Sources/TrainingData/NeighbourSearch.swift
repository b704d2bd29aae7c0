import CM3Objective
import COpenBLAS

/// The offline search of `launch retrieve`, exact by BLAS: for a range of query documents,
/// each part's `candidates` best documents by inner product of the part's undropped vector
/// with every document vector. The rules that do not depend on query dropout are applied
/// here, so that no slot holds a document training would skip anyway: the query itself, a
/// copy of its tokens, and any document more relevant to it than `maxRelevance`. The bank
/// is visited `blockDocuments` at a time (one `cblas_sgemm` per block), so memory holds the
/// range's queries and one block of document vectors, never the whole bank.
public struct NeighbourSearch {
    public let vectors: PartVectors
    public let candidates: Int
    public let blockDocuments: Int
    public let maxRelevance: Float

    public init(
        vectors: PartVectors, candidates: Int, blockDocuments: Int = 8192,
        maxRelevance: Float = RetrievalSettings().maxRelevance
    ) {
        self.vectors = vectors
        self.candidates = candidates
        self.blockDocuments = blockDocuments
        self.maxRelevance = maxRelevance
    }

    /// Whether `candidate` could ever be retrieved for `query` (whose document vector is
    /// `full`): relevance is measured as training measures it (`dot` of document vectors).
    func eligible(_ candidate: Int, for query: Int, full: [Float]) -> Bool {
        guard candidate != query, dot(vectors.parts(candidate).document, full) <= maxRelevance else { return false }
        return !vectors.documents.document(candidate).elementsEqual(vectors.documents.document(query))
    }

    /// `[queries.count, candidates]` each, best first, `-1` past the end and for a part the
    /// document lacks.
    public func search(_ queries: Range<Int>) -> (text: [Int32], image: [Int32]) {
        let dimensions = vectors.dimensions, bankCount = vectors.documents.count, rows = 2 * queries.count
        // [2 · queries, dimensions]: each query's text part vector, then its image part vector.
        var queryMatrix = [Float](repeating: 0, count: rows * dimensions)
        var present = [Bool](repeating: false, count: rows)
        var full: [[Float]] = []
        for (row, document) in queries.enumerated() {
            let parts = vectors.parts(document)
            full.append(parts.document)
            for (offset, part) in [parts.text, parts.image].enumerated() where part.contains(where: { $0 != 0 }) {
                present[2 * row + offset] = true
                queryMatrix.replaceSubrange(((2 * row + offset) * dimensions)..<((2 * row + offset + 1) * dimensions), with: part)
            }
        }
        var best = [[(document: Int, score: Float)]](repeating: [], count: rows)
        var bank = [Float](repeating: 0, count: blockDocuments * dimensions)
        var scores = [Float](repeating: 0, count: rows * blockDocuments)
        for start in stride(from: 0, to: bankCount, by: blockDocuments) {
            let count = min(blockDocuments, bankCount - start)
            for index in 0..<count {
                bank.replaceSubrange((index * dimensions)..<((index + 1) * dimensions), with: vectors.parts(start + index).document)
            }
            // scores [rows, count] = queryMatrix [rows, dimensions] · bank[count, dimensions]ᵀ
            cblas_sgemm(
                CblasRowMajor, CblasNoTrans, CblasTrans, Int32(rows), Int32(count), Int32(dimensions), 1, queryMatrix,
                Int32(dimensions), bank, Int32(dimensions), 0, &scores, Int32(count))
            for row in 0..<rows where present[row] {
                let offset = row * count
                let query = queries.lowerBound + row / 2
                best[row] = topScores(
                    (0..<count).lazy.map { (start + $0, scores[offset + $0]) }, limit: candidates, after: best[row],
                    accept: { eligible($0, for: query, full: full[row / 2]) })
            }
        }
        var text = [Int32](repeating: -1, count: queries.count * candidates), image = text
        for row in 0..<queries.count {
            for (rank, found) in best[2 * row].enumerated() { text[row * candidates + rank] = Int32(found.document) }
            for (rank, found) in best[2 * row + 1].enumerated() { image[row * candidates + rank] = Int32(found.document) }
        }
        return (text, image)
    }
}
