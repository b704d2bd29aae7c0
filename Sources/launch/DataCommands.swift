import ArgumentParser
import CM3Objective
import ShapesCorpus
import TextRendering
import Configuration
import Diagnostics
import Foundation
import Trainer
import TrainingData

struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write dataset shards: the built-in default corpus, or documents from a JSONL file.",
        discussion: """
            With --from-jsonl, each line is a JSON array of token ids or an object {"tokens": [...]}, \
            or interleaved segments [{"text": "..."}, {"image": [codes]}] (or {"segments": [...]}), \
            text encoded with the config's data.tokenizer and images of data.image_tokens codes; \
            optionally with "text_embedding" and "image_embedding" (lists of numbers, e.g. CLIP \
            ViT-B/32); the ids must fit the config's vocabulary. Shards are named train-00000.h5, … and \
            validation-00000.h5, … (see docs/data-format.md); --validation-fraction holds out part of a \
            JSONL file as validation shards.
            """)

    @Option(name: .long, help: "Directory to write the shards into (created if needed).")
    var out: String

    @Option(name: .long, help: "Config whose model.vocab_size and data section give the vocabulary.")
    var config: String = "configs/tiny.yaml"

    @Option(name: .long, help: "Convert this JSONL file instead of generating the default corpus.")
    var fromJsonl: String?

    @Option(name: .customLong("set"), help: "Override a config value, e.g. --set data.image_tokens=36 (repeatable).")
    var overrides: [String] = []

    @Option(name: .long, help: "Default corpus: training documents (default: the config's data.documents).")
    var documents: Int?

    @Option(name: .long, help: "Default corpus: held-out documents (default: the config's data.validation_documents).")
    var validationDocuments: Int?

    @Option(name: .long, help: "Documents per shard.")
    var shardDocuments: Int = 10_000

    @Option(
        name: .long,
        help: """
            With --from-jsonl: hold out this fraction of the documents as validation-*.h5 (drawn with \
            train.seed, so the same file and seed split alike); default 0: train shards only.
            """)
    var validationFraction: Double = 0

    @Flag(
        name: .long,
        help:
            "Store the built-in text and image embeddings of each document (for retrieval) where the input gives none."
    )
    var embeddings = false

    func validate() throws {
        guard shardDocuments > 0 else { throw ValidationError("--shard-documents must be positive") }
        guard (0..<1).contains(validationFraction) else {
            throw ValidationError("--validation-fraction must be in 0..<1, got \(validationFraction)")
        }
        if validationFraction > 0 && fromJsonl == nil {
            throw ValidationError(
                "--validation-fraction splits --from-jsonl input; the default corpus has --validation-documents")
        }
        // The same bound as data.documents, so the default corpus's ids cannot overflow.
        for (name, count) in [("--documents", documents), ("--validation-documents", validationDocuments)] {
            if let count, !(1...(1 << 24)).contains(count) {
                throw ValidationError("\(name) must be in 1...\(1 << 24), got \(count)")
            }
        }
    }

    func run() throws {
        let resolved = try loadConfig(config, set: overrides)
        let vocabulary = resolved.vocabulary
        try withReportedErrors {
            let progress: (String) -> Void = {
                print($0); fflush(stdout)
            }
            // Every input is read and checked before --out is created, so a refused input
            // leaves nothing on disk.
            var sets: [(prefix: String, documents: [[Int32]], embeddings: [DocumentEmbedding]?)]
            if let fromJsonl {
                let started = Date()
                let tokenizer = try resolved.tokenizer()
                let rules = JSONLDocuments.SegmentRules(
                    encode: tokenizer.map { tokenizer in { tokenizer.encode($0) } },
                    imageTokens: resolved.data.imageTokens)
                let read = try JSONLDocuments.read(
                    fromJsonl, vocabulary: vocabulary, segments: rules, progress: progress)
                let seconds = Date().timeIntervalSince(started), tokens = read.documents.reduce(0) { $0 + $1.count }
                progress(
                    String(
                        format: "read %ld documents, %ld tokens in %.1f s: %.0f documents/s, %.0f tokens/s",
                        read.documents.count, tokens, seconds, Double(read.documents.count) / seconds,
                        Double(tokens) / seconds))
                let held = ValidationSplit.heldOut(
                    count: read.documents.count, fraction: validationFraction, seed: resolved.seed)
                func part(_ validation: Bool) -> ([[Int32]], [DocumentEmbedding]?) {
                    let indices = held.indices.filter { held[$0] == validation }
                    return (indices.map { read.documents[$0] }, read.embeddings.map { all in indices.map { all[$0] } })
                }
                let (train, validation) = (part(false), part(true))
                sets =
                    [("train", train.0, train.1)]
                    + (validation.0.isEmpty ? [] : [("validation", validation.0, validation.1)])
                if !validation.0.isEmpty {
                    progress(
                        """
                        held out \(validation.0.count) of \(read.documents.count) documents for validation \
                        (train.seed \(resolved.train.seed))
                        """
                    )
                }
            } else {
                let corpus = DefaultCorpus(vocabulary: vocabulary, seed: resolved.seed)
                let trainCount = documents ?? resolved.data.documents
                let heldOut = validationDocuments ?? resolved.data.validationDocuments
                sets = [
                    ("train", corpus.documents(trainCount), nil),
                    ("validation", (trainCount..<(trainCount + heldOut)).map(corpus.document), nil)
                ]
            }
            if embeddings {
                let builtin = BuiltinEmbedding()
                for index in sets.indices where sets[index].embeddings == nil {
                    sets[index].embeddings = sets[index].documents.map {
                        builtin.embed(document: $0, vocabulary: vocabulary)
                    }
                }
            }
            do {
                try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
            } catch {
                let underlying = (error as NSError).userInfo[NSUnderlyingErrorKey] as? NSError
                let reason = underlying.flatMap {
                    $0.domain == NSPOSIXErrorDomain ? String(cString: strerror(Int32($0.code))) : nil
                }
                throw DataError(path: out, message: "cannot create the directory" + (reason.map { " (\($0))" } ?? ""))
            }
            for set in sets {
                try DatasetShard.writeShards(
                    set.documents, embeddings: set.embeddings, directory: out, prefix: set.prefix,
                    perShard: shardDocuments, vocabulary: vocabulary, progress: progress)
            }
        }
    }
}

struct InspectData: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect-data",
        abstract: "Show the first training blocks as the model sees them (after retrieval, masking and packing).")

    @Option(name: .long, help: "Path to the YAML config.")
    var config: String

    @Option(name: .long, help: "Blocks to show.")
    var count: Int = 4

    @Option(
        name: .customLong("set"),
        help: "Override a config value, e.g. --set data.tasks=configs/tasks/shapes.yaml (repeatable).")
    var overrides: [String] = []

    @Flag(name: .long, help: "JSON lines with token ids and loss weights instead of text.")
    var json = false

    func validate() throws {
        guard count > 0 else { throw ValidationError("--count must be positive, got \(count)") }
    }

    func run() throws {
        let resolved = try loadConfig(config, set: overrides)
        let pipeline = try withReportedErrors {
            let pipeline = try DataPipeline(config: resolved)
            try pipeline.checkNeighbours(cover: count)
            return pipeline
        }
        let text = try withReportedErrors { try TokenText(resolved) }
        var padding = 0, total = 0
        for _ in 0..<count {
            let block = pipeline.stream.next()
            padding += block.padding
            total += block.tokens.count
            if json {
                print(try InspectedBlock(block, dataset: pipeline.training).jsonLine())
            } else {
                let spans = block.pieces.filter(\.startsExample).reduce(0) { $0 + $1.spanCount }
                print(
                    """
                    block \(block.index) of epoch \(block.epoch): \(block.pieces.count) example(s) or parts, \
                    \(spans) masked span(s), \(block.padding) padding
                    """
                )
                for piece in block.pieces {
                    let source = pipeline.training.source(of: piece.query)
                    let retrieved = piece.retrieved.map {
                        String(format: "%ld (%@, relevance %.2f)", $0.document, $0.modality.rawValue, $0.relevance)
                    }
                    print(
                        (piece.task.map { "  task \($0): document" } ?? "  query")
                            + " \(piece.query) (\(source.name) #\(source.index))"
                            + (retrieved.isEmpty ? "" : " after " + retrieved.joined(separator: ", ")))
                }
                print(text.render(block.tokens))
                print("")
            }
        }
        let summary = String(
            format: "padding: %.1f%% of %ld tokens in %ld blocks", 100 * Double(padding) / Double(max(total, 1)),
            total, count)
        if json { FileHandle.standardError.write(Data((summary + "\n").utf8)) } else { print(summary) }
    }
}

/// One block of `inspect-data --json`: its tokens and loss weights, its padding, and for each
/// example in it the query document (index in the dataset and in its shard) and the
/// documents retrieved for it, with their relevance to the full query and the modality
/// that found them.
struct InspectedBlock: Encodable {
    struct Piece: Encodable {
        let query: Int
        /// The fine-tuning task that templated the document, if any.
        let task: String?
        let source: String
        let sourceIndex: Int
        let retrieved: [RetrievedDocument]
        let spans: Int
        let start: Int, end: Int
        let startsExample: Bool, endsExample: Bool
    }
    let epoch: Int, block: Int
    let tokens: [Int32]
    let weights: [Float]
    let padding: Int
    let examples: [Piece]

    init(_ block: TrainingBlock, dataset: Dataset) {
        epoch = block.epoch
        self.block = block.index
        tokens = block.tokens
        weights = block.weights
        padding = block.padding
        examples = block.pieces.map { piece in
            let source = dataset.source(of: piece.query)
            return Piece(
                query: piece.query, task: piece.task, source: source.name, sourceIndex: source.index,
                retrieved: piece.retrieved,
                spans: piece.spanCount, start: piece.range.lowerBound, end: piece.range.upperBound,
                startsExample: piece.startsExample, endsExample: piece.endsExample)
        }
    }

    func jsonLine() throws -> String { try JSONLine.encode(self) }
}
