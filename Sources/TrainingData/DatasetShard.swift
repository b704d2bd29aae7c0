import CM3Objective
import Diagnostics
import Foundation
import Storage
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
/// `doc_offsets` (int64, documents + 1) and optionally `text_embeddings` and
/// `image_embeddings` (float32, `[documents, dim]` each, rows of unit length, or zero where
/// a document lacks that part), with `text_vocab` and `image_codes` attributes.
public struct DatasetShard {
    public var tokens: [Int32]
    public var offsets: [Int]
    public var embeddings: StoredEmbeddings?

    public var documentCount: Int { offsets.count - 1 }

    /// Writes a shard durably (`DurableFile`: temporary, fsync, rename).
    public static func write(
        path: String, documents: [[Int32]], embeddings: [DocumentEmbedding]? = nil, vocabulary: Vocabulary
    ) throws {
        var offsets: [Int64] = [0]
        for document in documents { offsets.append(offsets.last! + Int64(document.count)) }
        do {
            try DurableFile.write(path) { temporary in
                let file = try HDF5File.create(temporary)
                let tokens = documents.flatMap { $0 }
                try file.write("tokens", int32: tokens, shape: [tokens.count])
                try file.write("doc_offsets", int64: offsets, shape: [offsets.count])
                if let embeddings, let dimensions = embeddings.first?.text.count {
                    for modality in Modality.allCases {
                        try file.write(
                            StoredEmbeddings.dataset(modality), floats: embeddings.flatMap { $0[modality] },
                            shape: [embeddings.count, dimensions])
                    }
                }
                try file.setAttribute("text_vocab", Int64(vocabulary.textVocabulary))
                try file.setAttribute("image_codes", Int64(vocabulary.imageCodes))
                try file.setAttribute("format", "tessera-shard-2")
                try file.close()
            }
        } catch let failure as DurableFile.Failure {
            throw DataError(path: path, message: "cannot move the finished shard into place (\(failure.reason))")
        }
    }

    /// Writes `documents` as shards of `perShard` documents, `DIRECTORY/PREFIX-00000.h5`, …,
    /// with their embeddings if given; `progress` hears one line per shard.
    public static func writeShards(
        _ documents: [[Int32]], embeddings: [DocumentEmbedding]?, directory: String, prefix: String,
        perShard: Int, vocabulary: Vocabulary, progress: (String) -> Void
    ) throws {
        precondition(embeddings == nil || embeddings?.count == documents.count)
        let shards = max(1, (documents.count + perShard - 1) / perShard)
        for shard in 0..<shards {
            let range = (shard * perShard)..<min(documents.count, (shard + 1) * perShard)
            let slice = Array(documents[range])
            let path = (directory as NSString).appendingPathComponent(
                prefix + "-" + String(format: "%05ld", shard) + ".h5")
            try write(
                path: path, documents: slice, embeddings: embeddings.map { Array($0[range]) }, vocabulary: vocabulary)
            progress(
                """
                \(prefix) shard \(shard + 1)/\(shards): \(slice.count) documents, \
                \(slice.reduce(0) { $0 + $1.count }) tokens → \(path)
                """
            )
        }
    }

    /// Reads and checks a shard against the run's vocabulary: every problem is a DataError
    /// naming the file (missing file, wrong dtype, token ≥ vocabulary, offsets that do not
    /// rise from 0 to the token count, embeddings of the wrong shape or length).
    public static func read(path: String, vocabulary: Vocabulary) throws -> DatasetShard {
        guard FileManager.default.fileExists(atPath: path) else {
            throw DataError(path: path, message: "no such file")
        }
        do {
            let file = try HDF5File.open(path)
            for (name, expected) in [("text_vocab", vocabulary.textVocabulary), ("image_codes", vocabulary.imageCodes)]
            {
                // Without the attribute nothing says which vocabulary the ids belong to.
                guard let stored = try file.integerAttribute(name) else {
                    throw DataError(path: path, message: "no \(name) attribute: not a shard (see docs/data-format.md)")
                }
                guard Int(stored) == expected else {
                    throw DataError(
                        path: path, message: "\(name) is \(stored) but the config's vocabulary has \(expected)")
                }
            }
            let tokens = try file.readInt32("tokens")
            let offsets = try file.readInt64("doc_offsets").map { Int($0) }
            guard offsets.count >= 1, offsets.first == 0, offsets.last == tokens.count else {
                throw DataError(
                    path: path, message: "doc_offsets must start at 0 and end at the token count \(tokens.count)")
            }
            if let step = (0..<(offsets.count - 1)).first(where: { offsets[$0] >= offsets[$0 + 1] }) {
                throw DataError(
                    path: path,
                    message:
                        """
                        doc_offsets are not increasing at document \(step) (\(offsets[step]) then \
                        \(offsets[step + 1]))
                        """
                )
            }
            if let index = tokens.firstIndex(where: { $0 < 0 || Int($0) >= vocabulary.size }) {
                throw DataError(
                    path: path,
                    message:
                        "token \(tokens[index]) at position \(index) is outside the vocabulary 0..<\(vocabulary.size)")
            }
            if let index = tokens.firstIndex(where: vocabulary.isReservedInDocuments) {
                throw DataError(
                    path: path,
                    message:
                        """
                        token \(tokens[index]) at position \(index) is <pad>, <mask> or <infill>, which the \
                        objective reserves
                        """
                )
            }
            var shard = DatasetShard(tokens: tokens, offsets: offsets, embeddings: nil)
            shard.embeddings = try StoredEmbeddings.read(file, path: path, documents: shard.documentCount)
            return shard
        } catch let error as HDF5Error {
            throw DataError(path: path, message: error.message)
        }
    }
}

/// Text and image embeddings stored in a shard, `[documents, dimensions]` each.
public struct StoredEmbeddings {
    public var text: [Float]
    public var image: [Float]
    public var dimensions: Int

    static func dataset(_ modality: Modality) -> String { "\(modality.rawValue)_embeddings" }

    /// A shard's embeddings, nil when it stores none. Rows must have unit length, or be
    /// zero where the document lacks that part.
    static func read(_ file: HDF5File, path: String, documents: Int) throws -> StoredEmbeddings? {
        guard file.contains(dataset(.text)) || file.contains(dataset(.image)) else {
            if file.contains("embeddings") {
                throw DataError(
                    path: path,
                    message:
                        """
                        holds one averaged 'embeddings' per document (an older shard format); retrieval needs \
                        text_embeddings and image_embeddings: write it again with launch prepare
                        """
                )
            }
            return nil
        }
        var parts: [[Float]] = [], dimensions = 0
        for modality in Modality.allCases {
            let name = dataset(modality)
            guard file.contains(name) else {
                throw DataError(
                    path: path, message: "has \(dataset(modality == .text ? .image : .text)) but no \(name)")
            }
            let shape = try file.shape(of: name)
            guard shape.count == 2, shape[0] == documents, shape[1] > 0, dimensions == 0 || shape[1] == dimensions
            else {
                throw DataError(
                    path: path,
                    message:
                        """
                        \(name) has shape \(shape) but there are \(documents) \
                        documents\(dimensions > 0 ? " of \(dimensions)-dimensional embeddings" : "")
                        """
                )
            }
            dimensions = shape[1]
            let values = try file.readFloats(name)
            for row in 0..<documents {
                let norm = values[(row * dimensions)..<((row + 1) * dimensions)].reduce(0) { $0 + $1 * $1 }
                guard norm == 0 || abs(norm - 1) < 1e-3 else {
                    throw DataError(
                        path: path,
                        message:
                            """
                            \(name) row \(row) has length \(norm.squareRoot()), not 1 (rows are L2-normalised, or \
                            zero for a missing part)
                            """
                    )
                }
            }
            parts.append(values)
        }
        return StoredEmbeddings(text: parts[0], image: parts[1], dimensions: dimensions)
    }
}

/// The documents of a list of shards, in order, with their embeddings when the shards
/// store them.
public struct Dataset {
    public let documents: FlatDocuments
    /// nil: the built-in embedding stands in.
    public let embeddings: StoredEmbeddings?
    /// Each shard's name and document count, in order (the built-in corpus is one source).
    public let sources: [(name: String, documents: Int)]

    public init(
        documents: FlatDocuments, embeddings: StoredEmbeddings? = nil, sources: [(name: String, documents: Int)]? = nil
    ) {
        self.documents = documents
        self.embeddings = embeddings
        self.sources = sources ?? [("default corpus", documents.count)]
    }

    /// Where document `index` comes from: its source and its index there.
    public func source(of index: Int) -> (name: String, index: Int) {
        var first = 0
        for source in sources {
            if index < first + source.documents { return (source.name, index - first) }
            first += source.documents
        }
        preconditionFailure("document \(index) is past the dataset's \(first)")
    }

    /// The shards' documents and embeddings. Either every shard stores embeddings, of one
    /// dimension, or none does.
    public static func load(paths: [String], vocabulary: Vocabulary) throws -> Dataset {
        var tokens: [Int32] = [], offsets = [0]
        var text: [Float] = [], image: [Float] = [], dimensions: Int?
        var sources: [(name: String, documents: Int)] = []
        for path in paths {
            let shard = try DatasetShard.read(path: path, vocabulary: vocabulary)
            if let first = sources.first, (shard.embeddings == nil) != (dimensions == nil) {
                let (with, without) = dimensions == nil ? (path, first.name) : (first.name, path)
                throw DataError(
                    path: without,
                    message: "stores no embeddings but \(with) does: every shard of a dataset needs them, or none")
            }
            if let stored = shard.embeddings {
                if let dimensions, dimensions != stored.dimensions {
                    throw DataError(
                        path: path,
                        message:
                            "embeddings have \(stored.dimensions) dimensions but \(sources[0].name) has \(dimensions)")
                }
                dimensions = stored.dimensions
                text += stored.text
                image += stored.image
            }
            let base = tokens.count
            tokens += shard.tokens
            offsets += shard.offsets.dropFirst().map { $0 + base }
            sources.append((path, shard.documentCount))
        }
        let embeddings = dimensions.map { StoredEmbeddings(text: text, image: image, dimensions: $0) }
        return Dataset(
            documents: FlatDocuments(tokens: tokens, offsets: offsets), embeddings: embeddings, sources: sources)
    }
}
