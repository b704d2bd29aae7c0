import ArgumentParser
import CM3Objective
import Configuration
import Foundation
import Parallel
import TrainingData

struct Retrieve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Find every training document's retrieval candidates offline, for data.neighbours.",
        discussion: """
            For every epoch, every document of data.train and each of its parts, the query training would draw \
            (that epoch's query dropout) is ranked against every document vector by exact search (cblas_sgemm), \
            and the best --candidates that training could take are stored with their positions, as HDF5 \
            (default: data.neighbours, else neighbours.h5 beside the first shard). Training with data.neighbours \
            then retrieves exactly what online search would, with no bank in memory. Under mpirun the chunks of \
            queries are dealt to the ranks, each rank visiting the bank --block-documents at a time. Finished \
            chunks are kept in FILE.parts/, so a killed run resumes where it stopped, under any number of ranks.
            """)

    @OptionGroup var options: RunOptions

    @Option(name: .long, help: "Output file (default: data.neighbours, else neighbours.h5 beside the first shard).")
    var out: String?

    @Option(name: .long, help: "Epochs to cover (default: what train.steps needs at dp 1).")
    var epochs: Int?

    @Option(name: .long, help: "Candidates kept per query.")
    var candidates: Int = 32

    @Option(name: .long, help: "Positions of each query's ranking looked at (online search's window is 48, then 192).")
    var depth: Int = 192

    @Option(name: .customLong("chunk-documents"), help: "Query documents per chunk (the unit of resuming).")
    var chunkDocuments: Int = 1024

    @Option(name: .customLong("block-documents"), help: "Bank documents scored per matrix product.")
    var blockDocuments: Int = 8192

    @Option(name: .customLong("stop-after-chunks"), help: "Stop after this many new chunks per rank (resume later).")
    var stopAfterChunks: Int?

    func validate() throws {
        guard candidates > 0, depth > 0, chunkDocuments > 0, blockDocuments > 0, (epochs ?? 1) > 0 else {
            throw ValidationError(
                "--epochs, --candidates, --depth, --chunk-documents and --block-documents must be positive")
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
                let documents = dataset.documents.count, settings = RetrievalSettings()
                let epochs = try self.epochs ?? neededEpochs(resolved, documents: documents)
                let corpus = NeighbourFile.corpus(
                    of: dataset, shards: resolved.data.train, seed: resolved.seed, settings: settings)
                let vectors = PartVectors(
                    documents: dataset.documents, vocabulary: resolved.vocabulary, stored: dataset.embeddings)
                let examples = RetrievalExamples(
                    documents: dataset.documents, vocabulary: resolved.vocabulary, settings: settings,
                    seed: resolved.seed, bank: NeighbourBank(vectors: vectors, queryDropout: settings.queryDropout))
                let search = NeighbourSearch(
                    examples: examples, vectors: vectors, candidates: candidates, depth: depth,
                    blockDocuments: blockDocuments)
                let parts = output + ".parts"
                try context.agreeing {
                    if context.isLeader {
                        try FileManager.default.createDirectory(atPath: parts, withIntermediateDirectories: true)
                    }
                }
                let chunksPerEpoch = (documents + chunkDocuments - 1) / chunkDocuments,
                    chunks = epochs * chunksPerEpoch
                func path(_ chunk: Int) -> String {
                    (parts as NSString).appendingPathComponent(
                        String(format: "epoch-%03ld-chunk-%06ld.h5", chunk / chunksPerEpoch, chunk % chunksPerEpoch))
                }
                func range(_ chunk: Int) -> Range<Int> {
                    let first = chunk % chunksPerEpoch * chunkDocuments
                    return first..<min(documents, first + chunkDocuments)
                }
                if context.isLeader {
                    print(
                        "\(documents) documents × \(epochs) epochs in \(chunks) chunks over \(context.worldSize) ranks"
                    )
                }
                var computed = 0, reused = 0
                try context.agreeing {
                    for chunk in stride(from: context.worldRank, to: chunks, by: context.worldSize) {
                        if (try? NeighbourFile.read(path(chunk), corpus: corpus, documents: range(chunk).count)) != nil
                        {
                            reused += 1
                            continue
                        }
                        if let stopAfterChunks, computed == stopAfterChunks { break }
                        let found = search.search(range(chunk), epoch: chunk / chunksPerEpoch)
                        try NeighbourFile(
                            epochs: 1, documents: range(chunk).count, candidates: candidates, found: found.found,
                            positions: found.positions, corpus: corpus
                        ).write(to: path(chunk))
                        computed += 1
                        if context.isLeader {
                            let seconds = Date().timeIntervalSince(started), rate = Double(computed) / seconds
                            let left = Double((chunks - chunk - 1) / context.worldSize) / max(rate, 1e-9)
                            print(
                                String(
                                    format: "chunk %ld/%ld (epoch %ld) | %.0f queries/s on rank 0 | ETA %.0f s",
                                    chunk + 1, chunks, chunk / chunksPerEpoch, rate * Double(chunkDocuments), left))
                        }
                    }
                }
                let done = Int(try context.sumOverWorld(Double(computed + reused)))
                let memory = try context.allGather(String(format: "%.2f", peakMemoryGiB()))
                guard done == chunks else {
                    if context.isLeader {
                        let seconds = String(format: "%.1f", Date().timeIntervalSince(started))
                        print(
                            """
                            stopped with \(chunks - done) of \(chunks) chunks to go after \(seconds) s \
                            (peak memory per rank \(memory.joined(separator: ", ")) GiB); run again to resume
                            """)
                    }
                    return
                }
                try context.agreeing {
                    if context.isLeader {
                        try join((0..<chunks).map(path), epochs: epochs, documents: documents, into: output, corpus)
                    }
                }
                if context.isLeader {
                    let seconds = Date().timeIntervalSince(started)
                    print(
                        String(
                            format: """
                                wrote %@: %ld documents × %ld epochs × %ld candidates per part in %.1f s \
                                (%.0f queries/s on %ld ranks; peak memory per rank %@ GiB)
                                """, output, documents, epochs, candidates, seconds,
                            Double(documents * epochs) / seconds, context.worldSize, memory.joined(separator: ", ")))
                }
            }
        }
    }

    /// Epochs of examples `config`'s steps can reach at dp 1.
    func neededEpochs(_ config: TesseraConfig, documents: Int) throws -> Int {
        let seqLen = config.model.seqLen
        let blocks =
            try config.train.totalSteps(seqLen: seqLen, dp: 1) * config.train.microBatch
            * config.train.accumulation(seqLen: seqLen, dp: 1)
        return NeighbourFile.epochs(reachedBy: blocks, documents: documents)
    }

    /// Rank 0 joins the chunks, in order, into `output` and removes them.
    func join(_ paths: [String], epochs: Int, documents: Int, into output: String, _ corpus: String) throws {
        var found: [Int32] = [], positions: [Int32] = []
        for path in paths {
            let part = try NeighbourFile.read(path, corpus: corpus)
            found += part.found
            positions += part.positions
        }
        try NeighbourFile(
            epochs: epochs, documents: documents, candidates: candidates, found: found, positions: positions,
            corpus: corpus
        ).write(to: output)
        try? FileManager.default.removeItem(atPath: (paths.first! as NSString).deletingLastPathComponent)
    }
}

/// This process's peak resident memory so far.
func peakMemoryGiB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1_048_576  // ru_maxrss is in KiB
}
