import ArgumentParser
import Configuration
import Foundation
import Parallel
import TrainingData

struct Retrieve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Compute every training document's retrieval candidates offline, for data.neighbours.",
        discussion: """
            For the text part and the image part of every document of data.train, the --candidates documents \
            with the largest inner product of their document vectors with the part's vector (exact search, \
            cblas_sgemm), stored as HDF5 (default: data.neighbours, else neighbours.h5 beside the first shard). \
            Under mpirun the queries are split into chunks dealt to the ranks; each rank visits the bank \
            --block-documents at a time. Each finished chunk is kept in FILE.parts/, so a killed run resumes \
            where it stopped, under any number of ranks; rank 0 joins the chunks at the end. Training with \
            data.neighbours applies retrieval's rules (query dropout, the 0.9 relevance limit, no copies, two \
            by text and two by image, three kept) to the candidates.
            """)

    @OptionGroup var options: RunOptions

    @Option(name: .long, help: "Output file (default: data.neighbours, else neighbours.h5 beside the first shard).")
    var out: String?

    @Option(name: .long, help: "Candidates kept per document and part.")
    var candidates: Int = 64

    @Option(name: .customLong("chunk-documents"), help: "Query documents per chunk (the unit of resuming).")
    var chunkDocuments: Int = 2048

    @Option(name: .customLong("block-documents"), help: "Bank documents scored per matrix product.")
    var blockDocuments: Int = 8192

    @Option(name: .customLong("stop-after-chunks"), help: "Stop after this many chunks per rank (resume later).")
    var stopAfterChunks: Int?

    func validate() throws {
        guard candidates > 0, chunkDocuments > 0, blockDocuments > 0 else {
            throw ValidationError("--candidates, --chunk-documents and --block-documents must be positive")
        }
    }

    func run() throws {
        let resolved = try options.load()
        guard let firstShard = resolved.data.train.first else {
            report("\(options.config): data.train: launch retrieve needs training shards (launch prepare writes them)")
            throw ExitCode(2)
        }
        let output =
            out ?? resolved.data.neighbours
            ?? ((firstShard as NSString).deletingLastPathComponent as NSString).appendingPathComponent("neighbours.h5")
        try withParallelContext(tp: 1, model: resolved.model) { context in
            try withReportedErrors(context: context) {
                let started = Date()
                let dataset = try context.agreeing { try DataPipeline.trainingDataset(resolved) }
                let corpus = NeighbourFile.corpus(of: dataset, shards: resolved.data.train)
                let search = NeighbourSearch(
                    vectors: PartVectors(
                        documents: dataset.documents, vocabulary: resolved.vocabulary, stored: dataset.embeddings),
                    candidates: candidates, blockDocuments: blockDocuments)
                let parts = output + ".parts"
                try context.agreeing {
                    if context.isLeader { try FileManager.default.createDirectory(atPath: parts, withIntermediateDirectories: true) }
                }
                let documents = dataset.documents.count
                let chunks = (documents + chunkDocuments - 1) / chunkDocuments
                let mine = stride(from: context.worldRank, to: chunks, by: context.worldSize)
                var computed = 0, reused = 0
                try context.agreeing {
                    for chunk in mine {
                        let range = (chunk * chunkDocuments)..<min(documents, (chunk + 1) * chunkDocuments)
                        let path = (parts as NSString).appendingPathComponent(String(format: "chunk-%06ld.h5", chunk))
                        if (try? NeighbourFile.read(path, corpus: corpus, documents: range.count)) != nil {
                            reused += 1
                            continue
                        }
                        if let stopAfterChunks, computed == stopAfterChunks { break }
                        let found = search.search(range)
                        try NeighbourFile(
                            documents: range.count, candidates: candidates, text: found.text, image: found.image,
                            corpus: corpus
                        ).write(to: path)
                        computed += 1
                        if context.isLeader { progress(chunk: chunk, of: chunks, done: computed + reused, started) }
                    }
                }
                let done = Int(try context.sumOverWorld(Double(computed + reused)))
                let memory = try context.allGather(String(format: "%.2f", peakMemoryGiB()))
                guard done == chunks else {
                    if context.isLeader { print("stopped with \(chunks - done) of \(chunks) chunks to go; run again to resume") }
                    return
                }
                try context.agreeing { if context.isLeader { try join(chunks: chunks, parts: parts, into: output, corpus) } }
                if context.isLeader {
                    let seconds = Date().timeIntervalSince(started)
                    print(
                        String(
                            format:
                                "wrote %@: %ld documents × %ld candidates by text and by image in %.1f s (%.0f documents/s on %ld ranks; peak memory per rank %@ GiB)",
                            output, documents, candidates, seconds, Double(documents) / seconds, context.worldSize,
                            memory.joined(separator: ", ")))
                }
            }
        }
    }

    func progress(chunk: Int, of chunks: Int, done: Int, _ started: Date) {
        let seconds = Date().timeIntervalSince(started)
        print(String(format: "chunk %ld/%ld done on rank 0 (%.1f s so far)", done, chunks, seconds))
    }

    /// Rank 0 joins the chunks in order into `output` and removes them.
    func join(chunks: Int, parts: String, into output: String, _ corpus: String) throws {
        var text: [Int32] = [], image: [Int32] = []
        for chunk in 0..<chunks {
            let part = try NeighbourFile.read(
                (parts as NSString).appendingPathComponent(String(format: "chunk-%06ld.h5", chunk)), corpus: corpus)
            text += part.text
            image += part.image
        }
        try NeighbourFile(
            documents: text.count / candidates, candidates: candidates, text: text, image: image, corpus: corpus
        ).write(to: output)
        try? FileManager.default.removeItem(atPath: parts)
    }
}

/// This process's peak resident memory so far.
func peakMemoryGiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1_048_576  // KiB
}
