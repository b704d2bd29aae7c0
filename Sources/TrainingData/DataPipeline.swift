import Autograd
import CM3Objective
import Diagnostics
import Foundation
import Model
import ShapesCorpus

/// From the config to `[micro_batch, seq]` batches: the corpus (shards or the default
/// corpus), retrieval augmentation if asked, CM3 masking and packing, sharded by dp rank.
public final class DataPipeline {
    public let vocabulary: Vocabulary
    public let settings: DataSettings
    public let seqLen: Int
    public let seed: UInt64
    public let training: Dataset
    public let validation: Dataset
    /// This rank's stream of training blocks (its cursor is what checkpoints save).
    public let stream: BlockStream
    /// Whether the documents come from the built-in default corpus.
    public let isDefaultCorpus: Bool
    /// The fine-tuning tasks of `data.tasks`, if any.
    public let tasks: [FineTuningTask]?
    /// Held-out examples, each starting a block of its own: documents, or with tasks the
    /// held-out documents templated.
    let validationExamples: ExampleBuilder
    let dpRank: Int, dp: Int

    /// The pipeline of `plan` for data-parallel rank `dpRank` of `dp`, with the fine-tuning
    /// `tasks` of `data.tasks` (nil: the documents as they are).
    public init(plan: DataPlan, tasks: [FineTuningTask]?, dpRank: Int = 0, dp: Int = 1) throws {
        let data = plan.settings
        vocabulary = plan.vocabulary
        settings = data
        seqLen = plan.seqLen
        seed = plan.seed
        self.dpRank = dpRank
        self.dp = dp
        isDefaultCorpus = data.usesBuiltInCorpus
        training = try DataPipeline.trainingDataset(plan)
        validation = try DataPipeline.validationDataset(plan)
        self.tasks = tasks
        // Fine-tuning: templated examples; with retrieval, `r1 r2 r3 query`; otherwise lone documents.
        let examples: ExampleBuilder
        if let tasks {
            examples = try DataPipeline.templatedExamples(
                tasks, training, plan: plan, oneExamplePerBlock: data.blockPerExample)
        } else if data.retrieval {
            examples = try DataPipeline.retrievalExamples(
                training, settings: RetrievalSettings(), vocabulary: vocabulary, seed: seed, plan: plan)
        } else {
            examples = PlainExamples(documents: training.documents, oneDocumentPerBlock: data.blockPerExample)
        }
        if let tasks, validation.documents.count > 0 {
            validationExamples = try DataPipeline.templatedExamples(
                tasks, validation, plan: plan, oneExamplePerBlock: true)
        } else {
            validationExamples = PlainExamples(documents: validation.documents, oneDocumentPerBlock: true)
        }
        stream = DataPipeline.blockStream(
            training, examples: examples, data: data, vocabulary: vocabulary, seqLen: seqLen,
            seed: seed, dpRank: dpRank, dp: dp)
    }

    /// The run's training documents: its shards, or the built-in default corpus.
    public static func trainingDataset(_ plan: DataPlan) throws -> Dataset {
        let data = plan.settings, vocabulary = try checkedVocabulary(plan)
        guard data.usesBuiltInCorpus else {
            let training = try Dataset.load(paths: data.train, vocabulary: vocabulary)
            // Packing needs a document to cycle over; say so here rather than trap there.
            guard training.documents.count > 0 else {
                throw ConfigError(file: plan.source, key: "data.train", message: "the shards hold no documents")
            }
            return training
        }
        let corpus = DefaultCorpus(vocabulary: vocabulary, seed: plan.seed)
        return Dataset(documents: FlatDocuments(documents: corpus.documents(data.documents)))
    }

    /// The run's held-out documents: its validation shards, the default corpus's held-out
    /// documents, or none.
    public static func validationDataset(_ plan: DataPlan) throws -> Dataset {
        let data = plan.settings, vocabulary = try checkedVocabulary(plan)
        if !data.validation.isEmpty { return try Dataset.load(paths: data.validation, vocabulary: vocabulary) }
        guard data.usesBuiltInCorpus else { return Dataset(documents: FlatDocuments(documents: []), sources: []) }
        let corpus = DefaultCorpus(vocabulary: vocabulary, seed: plan.seed)
        let heldOut = data.documents..<(data.documents + data.validationDocuments)
        return Dataset(documents: FlatDocuments(documents: heldOut.map(corpus.document)))
    }

    /// Examples that fill in `tasks`' templates with `dataset`'s documents.
    public static func templatedExamples(
        _ tasks: [FineTuningTask], _ dataset: Dataset, plan: DataPlan,
        oneExamplePerBlock: Bool
    ) throws -> TemplatedExamples {
        do {
            return try TemplatedExamples(
                tasks: tasks, sampling: plan.settings.taskSampling, documents: dataset.documents,
                corpus: DefaultCorpus(vocabulary: try checkedVocabulary(plan)),
                readsPictures: plan.settings.usesBuiltInCorpus, seed: plan.seed,
                oneExamplePerBlock: oneExamplePerBlock)
        } catch let empty as TemplatedExamples.EmptyTask {
            throw ConfigError(file: plan.settings.tasks ?? plan.source, key: "", message: empty.description)
        }
    }

    /// The run's vocabulary, checked, and checked against the default corpus if it is used.
    public static func checkedVocabulary(_ plan: DataPlan) throws -> Vocabulary {
        let vocabulary = plan.vocabulary
        if let problem = vocabulary.problem {
            throw ConfigError(file: plan.source, key: "data.special_tokens", message: problem)
        }
        if plan.settings.usesBuiltInCorpus { try checkDefaultCorpusFits(vocabulary, source: plan.source) }
        return vocabulary
    }

    /// The default corpus needs its words in the text range and its codes in the image range.
    static func checkDefaultCorpusFits(_ vocabulary: Vocabulary, source: String) throws {
        let needed = DefaultCorpus.requiredTextVocabulary(vocabulary)
        if vocabulary.textVocabulary < needed {
            throw ConfigError(
                file: source, key: "data.text_vocab",
                message: "the default corpus needs at least \(needed) text ids, got \(vocabulary.textVocabulary)")
        }
        if vocabulary.imageCodes < DefaultCorpus.imageCodesUsed {
            throw ConfigError(
                file: source, key: "data.text_vocab",
                message:
                    """
                    the default corpus needs \(DefaultCorpus.imageCodesUsed) image codes, only \
                    \(vocabulary.imageCodes) remain
                    """
            )
        }
    }

    static func blockStream(
        _ dataset: Dataset, examples: ExampleBuilder, data: DataSettings, vocabulary: Vocabulary, seqLen: Int,
        seed: UInt64, dpRank: Int, dp: Int
    ) -> BlockStream {
        BlockStream(
            documentCount: dataset.documents.count, examples: examples, vocabulary: vocabulary,
            settings: data.cm3, seqLen: seqLen, seed: seed, dpRank: dpRank, dp: dp)
    }

    /// Retrieval over the dataset's stored embeddings, or over the built-in embedding of
    /// every document when it stores none; with `data.neighbours`, over each document's
    /// stored candidates instead, with no bank in memory.
    static func retrievalExamples(
        _ dataset: Dataset, settings: RetrievalSettings, vocabulary: Vocabulary, seed: UInt64, plan: DataPlan
    ) throws -> RetrievalExamples {
        let documents = dataset.documents
        let bank: RetrievalBank
        if let path = plan.settings.neighbours {
            let neighbours = try NeighbourFile.read(
                path,
                corpus: NeighbourFile.corpus(of: dataset, shards: plan.settings.train, seed: seed, settings: settings),
                documents: documents.count)
            bank = NeighbourBank(
                vectors: PartVectors(documents: documents, vocabulary: vocabulary, stored: dataset.embeddings),
                queryDropout: settings.queryDropout, neighbours: neighbours)
        } else {
            bank =
                dataset.embeddings.map {
                    EmbeddingBank(
                        text: $0.text, image: $0.image, dimensions: $0.dimensions, queryDropout: settings.queryDropout)
                } ?? EmbeddingBank(builtinFor: documents, vocabulary: vocabulary, embedding: BuiltinEmbedding())
        }
        return RetrievalExamples(
            documents: documents, vocabulary: vocabulary, settings: settings, seed: seed, bank: bank)
    }

    /// Stops a run of `blocks` training blocks that would reach an epoch its stored
    /// neighbours do not cover.
    public func checkNeighbours(cover blocks: Int) throws {
        guard let path = settings.neighbours, settings.retrieval, tasks == nil,
            let bank = (stream.examples as? RetrievalExamples)?.bank as? NeighbourBank, let file = bank.neighbours
        else { return }
        let needed = NeighbourFile.epochs(reachedBy: blocks, documents: training.documents.count)
        if needed > file.epochs {
            throw DataError(
                path: path,
                message:
                    """
                    covers \(file.epochs) epochs, this run's \(blocks) blocks need \(needed): run launch retrieve \
                    --epochs \(needed)
                    """
            )
        }
    }

    /// This rank's next `microBatch` blocks (or synthetic sequences, dealt round-robin to
    /// dp ranks like blocks).
    public func nextBatch(microBatch: Int) -> TokenBatch {
        guard settings.synthetic else { return TokenBatch(blocks: (0..<microBatch).map { _ in stream.next() }) }
        let synthetic = SyntheticTokens(vocabSize: vocabulary.size, seqLen: seqLen, seed: seed)
        defer { syntheticCount += microBatch }
        return TokenBatch(
            blocks: (syntheticCount..<(syntheticCount + microBatch)).map { synthetic.sequence($0 * dp + dpRank) })
    }
    private var syntheticCount = 0

    /// The first `count` validation batches of this rank (a fresh, deterministic stream over
    /// the held-out documents: every evaluation sees the same blocks). Each held-out
    /// document (templated, when fine-tuning) starts a block of its own, without retrieval:
    /// the zero-shot setting, scored alike whether training used retrieval or not, and with
    /// no unrelated document before it that a model trained on `r1 r2 r3 query` would take
    /// for retrieved context.
    public func validationBatches(microBatch: Int, count: Int) -> [TokenBatch] {
        guard validation.documents.count > 0 else { return [] }
        let stream = DataPipeline.blockStream(
            validation, examples: validationExamples, data: settings, vocabulary: vocabulary, seqLen: seqLen,
            seed: seed &+ 1, dpRank: dpRank, dp: dp)
        return (0..<count).map { _ in TokenBatch(blocks: (0..<microBatch).map { _ in stream.next() }) }
    }

    /// This rank's share of every held-out block, each exactly once: the first epoch of the
    /// same held-out stream, whose blocks are dealt to dp ranks by their index in it, so the
    /// blocks of all ranks together are the same whatever the layout (`launch eval`).
    public func heldOutBlocks() -> [TrainingBlock] {
        guard validation.documents.count > 0 else { return [] }
        let stream = DataPipeline.blockStream(
            validation, examples: validationExamples, data: settings, vocabulary: vocabulary, seqLen: seqLen,
            seed: seed &+ 1, dpRank: dpRank, dp: dp)
        var blocks: [TrainingBlock] = []
        while true {
            let block = stream.next()
            guard block.epoch == 0 else { return blocks }
            blocks.append(block)
        }
    }
}

extension TokenBatch {
    /// A batch of masked blocks: inputs, next-token targets and their CM3 loss weights.
    public init(blocks: [TrainingBlock]) {
        let seqLen = blocks[0].tokens.count - 1
        self.init(
            microBatch: blocks.count, seqLen: seqLen,
            inputs: blocks.flatMap(\.inputs), targets: blocks.flatMap(\.targets), weights: blocks.flatMap(\.weights))
    }
}
