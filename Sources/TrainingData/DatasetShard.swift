import CM3Objective
import Diagnostics
import Foundation
import HDF5

/// A data problem, reported as one line naming the file and what is wrong.
public struct DataError: ReportableError {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }

    public init(path: String, message: String) {
        self.path = path
        self.message = message
    }
}

/// A dataset shard (docs/data-format.md): one HDF5 file holding `tokens` (int32, flat),
/// `doc_offsets` (int64, documents + 1) and optionally `embeddings` (float32,
/// `[documents, dim]`, rows normalised), with `text_vocab` and `image_codes` attributes.
public struct DatasetShard {
    public var tokens: [Int32]
    public var offsets: [Int]
    public var embeddings: [Float]?
    public var embeddingDimensions: Int

    public var documentCount: Int { offsets.count - 1 }

    /// Writes a shard atomically (temporary file, then rename).
    public static func write(path: String, documents: [[Int32]], embeddings: [[Float]]? = nil, vocabulary: Vocabulary) throws {
        var offsets: [Int64] = [0]
        for document in documents { offsets.append(offsets.last! + Int64(document.count)) }
        let temporary = path + ".tmp"
        do {
            let file = try HDF5File.create(temporary)
            let tokens = documents.flatMap { $0 }
            try file.write("tokens", int32: tokens, shape: [tokens.count])
            try file.write("doc_offsets", int64: offsets, shape: [offsets.count])
            if let embeddings, let dimensions = embeddings.first?.count {
                try file.write("embeddings", floats: embeddings.flatMap { $0 }, shape: [embeddings.count, dimensions])
            }
            try file.setAttribute("text_vocab", Int64(vocabulary.textVocabulary))
            try file.setAttribute("image_codes", Int64(vocabulary.imageCodes))
            try file.setAttribute("format", "tessera-shard-1")
            try file.flush()
        }
        guard rename(temporary, path) == 0 else {
            throw DataError(path: path, message: "cannot move the finished shard into place (errno \(errno))")
        }
    }

    /// Writes `documents` as shards of `perShard` documents, `DIRECTORY/PREFIX-00000.h5`, …,
    /// with the built-in embeddings if asked; `progress` hears one line per shard.
    public static func writeShards(_ documents: [[Int32]], directory: String, prefix: String, perShard: Int,
                                   withEmbeddings: Bool, vocabulary: Vocabulary, progress: (String) -> Void) throws {
        let shards = max(1, (documents.count + perShard - 1) / perShard)
        let embedding = BuiltinEmbedding()
        for shard in 0..<shards {
            let slice = Array(documents[(shard * perShard)..<min(documents.count, (shard + 1) * perShard)])
            let path = (directory as NSString).appendingPathComponent(prefix + "-" + String(format: "%05d", shard) + ".h5")
            let vectors = withEmbeddings ? slice.map { embedding.embed(document: $0, vocabulary: vocabulary) } : nil
            try write(path: path, documents: slice, embeddings: vectors, vocabulary: vocabulary)
            progress("\(prefix) shard \(shard + 1)/\(shards): \(slice.count) documents, \(slice.reduce(0) { $0 + $1.count }) tokens → \(path)")
        }
    }

    /// Reads and checks a shard against the run's vocabulary: every problem is a DataError
    /// naming the file (missing file, wrong dtype, token ≥ vocabulary, offsets that do not
    /// rise from 0 to the token count, an embedding row count that is not the document count).
    public static func read(path: String, vocabulary: Vocabulary) throws -> DatasetShard {
        guard FileManager.default.fileExists(atPath: path) else { throw DataError(path: path, message: "no such file") }
        do {
            let file = try HDF5File.open(path)
            for (name, expected) in [("text_vocab", vocabulary.textVocabulary), ("image_codes", vocabulary.imageCodes)] {
                // Without the attribute nothing says which vocabulary the ids belong to.
                guard let stored = try file.integerAttribute(name) else {
                    throw DataError(path: path, message: "no \(name) attribute: not a shard (see docs/data-format.md)")
                }
                guard Int(stored) == expected else {
                    throw DataError(path: path, message: "\(name) is \(stored) but the config's vocabulary has \(expected)")
                }
            }
            let tokens = try file.readInt32("tokens")
            let offsets = try file.readInt64("doc_offsets").map { Int($0) }
            guard offsets.count >= 1, offsets.first == 0, offsets.last == tokens.count else {
                throw DataError(path: path, message: "doc_offsets must start at 0 and end at the token count \(tokens.count)")
            }
            if let step = (0..<(offsets.count - 1)).first(where: { offsets[$0] >= offsets[$0 + 1] }) {
                throw DataError(path: path, message: "doc_offsets are not increasing at document \(step) (\(offsets[step]) then \(offsets[step + 1]))")
            }
            if let index = tokens.firstIndex(where: { $0 < 0 || Int($0) >= vocabulary.size }) {
                throw DataError(path: path, message: "token \(tokens[index]) at position \(index) is outside the vocabulary 0..<\(vocabulary.size)")
            }
            if let index = tokens.firstIndex(where: vocabulary.isReservedInDocuments) {
                throw DataError(path: path, message: "token \(tokens[index]) at position \(index) is <pad>, <mask> or <infill>, which the objective reserves")
            }
            var shard = DatasetShard(tokens: tokens, offsets: offsets, embeddings: nil, embeddingDimensions: 0)
            if file.contains("embeddings") {
                let shape = try file.shape(of: "embeddings")
                guard shape.count == 2, shape[0] == shard.documentCount else {
                    throw DataError(path: path, message: "embeddings have shape \(shape) but there are \(shard.documentCount) documents")
                }
                shard.embeddings = try file.readFloats("embeddings")
                shard.embeddingDimensions = shape[1]
            }
            return shard
        } catch let error as HDF5Error {
            throw DataError(path: path, message: error.message)
        }
    }
}

/// The documents of a list of shards, in order, with their embeddings when every shard has
/// them.
public struct Dataset {
    public let documents: FlatDocuments
    /// `[documents, dimensions]`, or nil (the built-in embedding then stands in).
    public let embeddings: [Float]?
    public let embeddingDimensions: Int

    public init(documents: FlatDocuments, embeddings: [Float]? = nil, embeddingDimensions: Int = 0) {
        self.documents = documents
        self.embeddings = embeddings
        self.embeddingDimensions = embeddingDimensions
    }

    public static func load(paths: [String], vocabulary: Vocabulary) throws -> Dataset {
        var tokens: [Int32] = [], offsets = [0]
        var embeddings: [Float]? = [], dimensions: Int? = nil
        for path in paths {
            let shard = try DatasetShard.read(path: path, vocabulary: vocabulary)
            let base = tokens.count
            tokens += shard.tokens
            offsets += shard.offsets.dropFirst().map { $0 + base }
            if let stored = shard.embeddings, dimensions == nil || dimensions == shard.embeddingDimensions {
                dimensions = shard.embeddingDimensions
                embeddings? += stored
            } else {
                embeddings = nil
            }
        }
        return Dataset(documents: FlatDocuments(tokens: tokens, offsets: offsets),
                       embeddings: embeddings?.isEmpty == false ? embeddings : nil, embeddingDimensions: dimensions ?? 0)
    }
}
