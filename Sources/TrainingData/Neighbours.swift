import CM3Objective
import Foundation
import HDF5
import Randomness
import Storage

/// What `launch retrieve` found offline (`neighbours.h5`, beside the shards;
/// docs/data-format.md): for every epoch, training document and part, the documents the
/// part's query (after that epoch's query dropout, drawn as training draws it) ranks
/// highest among those training could take (not the query, not a copy of it, relevance at
/// most 0.9), best first, each with its position in the ranking of the whole bank; `-1`
/// past the end. Training re-scores them exactly and applies the remaining rules, so it
/// retrieves what online search would without holding the bank.
public struct NeighbourFile: Equatable {
    public static let format = "tessera-neighbours-2"
    public var epochs: Int, documents: Int, candidates: Int
    /// `[epochs, documents, 2 (text, image), candidates]`, row-major.
    public var found: [Int32], positions: [Int32]
    /// What they were computed for (`NeighbourFile.corpus`): a file of another corpus,
    /// embedding or seed is refused.
    public var corpus: String

    public init(epochs: Int, documents: Int, candidates: Int, found: [Int32], positions: [Int32], corpus: String) {
        precondition(found.count == epochs * documents * 2 * candidates && positions.count == found.count)
        self.epochs = epochs
        self.documents = documents
        self.candidates = candidates
        self.found = found
        self.positions = positions
        self.corpus = corpus
    }

    /// The identity of what neighbours depend on: each training shard's name and
    /// fingerprint, the embedding, and the seed and rates of retrieval.
    public static func corpus(of dataset: Dataset, shards: [String], seed: UInt64, settings: RetrievalSettings)
        -> String
    {
        let embedding =
            dataset.embeddings.map { "stored \($0.dimensions)" } ?? "builtin \(BuiltinEmbedding().dimensions)"
        let files = shards.map { "\(($0 as NSString).lastPathComponent) \(FileFingerprint.of($0) ?? "missing")" }
        return """
            embedding \(embedding); seed \(seed); query dropout \(settings.queryDropout); relevance at most \
            \(settings.maxRelevance); shards \(files.joined(separator: ", "))
            """
    }

    /// Epochs of examples that `blocks` training blocks can reach: each retrieval example
    /// starts a block, so an epoch takes at least as many blocks as there are documents.
    public static func epochs(reachedBy blocks: Int, documents: Int) -> Int {
        max(1, (blocks + documents - 1) / max(1, documents))
    }

    /// The candidates of one query with their positions, best first.
    public func candidates(epoch: Int, document: Int, _ modality: Modality) -> [(document: Int, position: Int)] {
        let start = ((epoch * documents + document) * 2 + (modality == .text ? 0 : 1)) * candidates
        return (start..<(start + candidates)).prefix { found[$0] >= 0 }.map { (Int(found[$0]), Int(positions[$0])) }
    }

    public func write(to path: String) throws {
        do {
            try DurableFile.write(path) { temporary in
                let file = try HDF5File.create(temporary)
                let shape = [epochs, documents, 2, candidates]
                try file.write("candidates", int32: found, shape: shape)
                try file.write("positions", int32: positions, shape: shape)
                try file.setAttribute("format", NeighbourFile.format)
                try file.setAttribute("corpus", corpus)
                try file.close()
            }
        } catch let failure as DurableFile.Failure {
            throw DataError(path: path, message: "cannot move the finished file into place (\(failure.reason))")
        }
    }

    /// Reads `path`; a file of another corpus (`corpus`), of another document count, or of
    /// fewer than `epochs` epochs is one `DataError` saying which.
    public static func read(_ path: String, corpus: String? = nil, documents: Int? = nil, epochs: Int? = nil) throws
        -> NeighbourFile
    {
        let file: HDF5File
        do { file = try HDF5File.open(path) } catch let error as HDF5Error {
            throw DataError(path: path, message: "\(error)")
        }
        guard try file.stringAttribute("format") == format else {
            throw DataError(path: path, message: "not a neighbours file of launch retrieve (\(format))")
        }
        let stored = try file.stringAttribute("corpus") ?? ""
        if let corpus, stored != corpus {
            throw DataError(
                path: path, message: "was computed for another corpus or seed (\(stored)); run launch retrieve again")
        }
        let shape = try file.shape(of: "candidates")
        guard shape.count == 4, shape[2] == 2, try file.shape(of: "positions") == shape else {
            throw DataError(path: path, message: "candidates and positions must be [epochs, documents, 2, candidates]")
        }
        if let documents, shape[1] != documents {
            throw DataError(
                path: path,
                message: "holds \(shape[1]) documents, the training shards \(documents); run launch retrieve again")
        }
        if let epochs, shape[0] < epochs {
            throw DataError(
                path: path,
                message: "covers \(shape[0]) epochs, the run needs \(epochs); run launch retrieve --epochs \(epochs)")
        }
        return NeighbourFile(
            epochs: shape[0], documents: shape[1], candidates: shape[3], found: try file.readInt32("candidates"),
            positions: try file.readInt32("positions"), corpus: stored)
    }
}

/// Each document's two part vectors and its document vector, as the full bank has them:
/// the built-in embedding of its tokens, or its stored rows. Computed per document, never
/// for the whole corpus at once.
public struct PartVectors {
    public let documents: DocumentSource
    public let vocabulary: Vocabulary
    public let stored: StoredEmbeddings?
    let embedding = BuiltinEmbedding()

    public init(documents: DocumentSource, vocabulary: Vocabulary, stored: StoredEmbeddings?) {
        self.documents = documents
        self.vocabulary = vocabulary
        self.stored = stored
    }

    public var dimensions: Int { stored?.dimensions ?? embedding.dimensions }

    public func parts(_ document: Int) -> DocumentEmbedding {
        guard let stored else {
            return embedding.embed(document: documents.document(document), vocabulary: vocabulary)
        }
        let range = (document * stored.dimensions)..<((document + 1) * stored.dimensions)
        return DocumentEmbedding(text: Array(stored.text[range]), image: Array(stored.image[range]))
    }
}

/// The retrieval bank of stored neighbours: a query gets the candidates found offline for
/// exactly it (its document, part and epoch) that lie within the window asked for, in the
/// order `innerProduct` gives them over the whole bank. Without a file it only makes query
/// and document vectors (what offline search needs).
public final class NeighbourBank: RetrievalBank {
    public let neighbours: NeighbourFile?
    let vectors: PartVectors
    let queryDropout: Double

    public init(vectors: PartVectors, queryDropout: Double, neighbours: NeighbourFile? = nil) {
        self.neighbours = neighbours
        self.vectors = vectors
        self.queryDropout = queryDropout
    }

    public var count: Int { vectors.documents.count }

    public func ranked(_ query: [Float], limit: Int, of source: (document: Int, epoch: Int)?, modality: Modality)
        -> [(document: Int, score: Float)]
    {
        guard let source, let neighbours else {
            preconditionFailure("stored neighbours answer only the training queries they were computed for")
        }
        let window = neighbours.candidates(epoch: source.epoch, document: source.document, modality)
            .filter { $0.position < limit }
        let scored = window.map { candidate -> (Int, Float) in
            let vector = documentVector(candidate.document)
            let score = vector.withUnsafeBufferPointer { vector in
                query.withUnsafeBufferPointer {
                    innerProduct(vector.baseAddress!, $0.baseAddress!, count: query.count)
                }
            }
            return (candidate.document, score)
        }
        // In document order, so that ties fall as they do over the whole bank.
        return topScores(scored.sorted { $0.0 < $1.0 }, limit: limit)
    }

    public func documentVector(_ document: Int) -> [Float] { vectors.parts(document).document }

    public func queryVector(_ document: Int, _ modality: Modality, kept: [Int32], generator: inout SplitMix64)
        -> [Float]
    {
        guard vectors.stored != nil else { return vectors.embedding.embed(kept) }
        return dropCoordinates(vectors.parts(document)[modality], rate: queryDropout, generator: &generator)
    }
}
