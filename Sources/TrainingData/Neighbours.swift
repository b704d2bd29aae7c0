import CM3Objective
import Foundation
import HDF5
import Randomness
import Storage

/// Each training document's retrieval candidates, computed offline by `launch retrieve`
/// (`neighbours.h5`, beside the shards; docs/data-format.md): for its text part and for its
/// image part, the `candidates` documents whose document vectors have the largest inner
/// product with the part's undropped vector, best first, `-1` past the end and for a part
/// the document lacks. Training ranks them again by the dropped query and applies §2.1's
/// rules to them, so that no training rank holds the bank.
public struct NeighbourFile: Equatable {
    public static let format = "tessera-neighbours-1"
    public var documents: Int
    public var candidates: Int
    /// `[documents, candidates]` each, row-major.
    public var text: [Int32], image: [Int32]
    /// What they were computed for (`NeighbourFile.corpus`): a file of another corpus or
    /// embedding is refused.
    public var corpus: String

    public init(documents: Int, candidates: Int, text: [Int32], image: [Int32], corpus: String) {
        precondition(text.count == documents * candidates && image.count == text.count)
        self.documents = documents
        self.candidates = candidates
        self.text = text
        self.image = image
        self.corpus = corpus
    }

    /// The identity of a training set for neighbours: each shard's name and fingerprint,
    /// and the embedding searched.
    public static func corpus(of dataset: Dataset, shards: [String]) -> String {
        let embedding = dataset.embeddings.map { "stored \($0.dimensions)" } ?? "builtin \(BuiltinEmbedding().dimensions)"
        let files = shards.map { "\(($0 as NSString).lastPathComponent) \(FileFingerprint.of($0) ?? "missing")" }
        return "embedding \(embedding); shards \(files.joined(separator: ", "))"
    }

    /// The candidates of `document`'s `modality` part, best first.
    public func candidates(of document: Int, _ modality: Modality) -> ArraySlice<Int32> {
        let rows = modality == .text ? text : image
        return rows[(document * candidates)..<((document + 1) * candidates)].prefix { $0 >= 0 }
    }

    public func write(to path: String) throws {
        do {
            try DurableFile.write(path) { temporary in
                let file = try HDF5File.create(temporary)
                try file.write("text", int32: text, shape: [documents, candidates])
                try file.write("image", int32: image, shape: [documents, candidates])
                try file.setAttribute("format", NeighbourFile.format)
                try file.setAttribute("corpus", corpus)
                try file.close()
            }
        } catch let failure as DurableFile.Failure {
            throw DataError(path: path, message: "cannot move the finished file into place (\(failure.reason))")
        }
    }

    /// Reads `path`; `corpus` and `documents` are what the training set is, and a file of
    /// another is one `DataError` saying which.
    public static func read(_ path: String, corpus: String? = nil, documents: Int? = nil) throws -> NeighbourFile {
        do {
            let file = try HDF5File.open(path)
            guard try file.stringAttribute("format") == format else {
                throw DataError(path: path, message: "not a neighbours file of launch retrieve (\(format))")
            }
            let stored = try file.stringAttribute("corpus") ?? ""
            let text = try file.readInt32("text"), image = try file.readInt32("image")
            let shape = try file.shape(of: "text")
            guard shape.count == 2, text.count == image.count else {
                throw DataError(path: path, message: "text and image candidates must be [documents, candidates]")
            }
            if let documents, shape[0] != documents {
                throw DataError(
                    path: path,
                    message: "holds neighbours of \(shape[0]) documents, the training shards \(documents): run launch retrieve again")
            }
            if let corpus, stored != corpus {
                throw DataError(
                    path: path,
                    message: "was computed for another corpus or embedding (\(stored)), not \(corpus): run launch retrieve again")
            }
            return NeighbourFile(documents: shape[0], candidates: shape[1], text: text, image: image, corpus: stored)
        } catch let error as HDF5Error {
            throw DataError(path: path, message: "\(error)")
        }
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
        guard let stored else { return embedding.embed(document: documents.document(document), vocabulary: vocabulary) }
        let range = (document * stored.dimensions)..<((document + 1) * stored.dimensions)
        return DocumentEmbedding(text: Array(stored.text[range]), image: Array(stored.image[range]))
    }
}

/// The retrieval bank of stored neighbours: a query ranks only its document's candidates
/// for the part it searches with, scored by `innerProduct` as the full bank scores them,
/// so where online retrieval's choices lie among the candidates, the blocks are the same.
public final class NeighbourBank: RetrievalBank {
    public let neighbours: NeighbourFile
    let vectors: PartVectors
    let queryDropout: Double

    public init(neighbours: NeighbourFile, vectors: PartVectors, queryDropout: Double) {
        self.neighbours = neighbours
        self.vectors = vectors
        self.queryDropout = queryDropout
    }

    public var count: Int { neighbours.documents }

    public func ranked(_ query: [Float], limit: Int, of document: Int?, modality: Modality)
        -> [(document: Int, score: Float)]
    {
        guard let document else { preconditionFailure("stored neighbours rank a training document's candidates only") }
        let scored = neighbours.candidates(of: document, modality).map { candidate -> (Int, Float) in
            let vector = documentVector(Int(candidate))
            let score = vector.withUnsafeBufferPointer { vector in
                query.withUnsafeBufferPointer {
                    innerProduct(vector.baseAddress!, $0.baseAddress!, count: query.count)
                }
            }
            return (Int(candidate), score)
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
