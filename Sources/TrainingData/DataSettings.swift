import CM3Objective

/// Where the training blocks come from (docs/data-format.md).
public struct DataSettings: Equatable, Sendable {
    /// Training shards; empty means the built-in default corpus.
    public var train: [String] = []
    /// Held-out shards; empty means the default corpus's own held-out documents.
    public var validation: [String] = []
    /// Text ids (special tokens among them); the rest of the model's vocabulary is image codes.
    /// Defaults to CM3Leon's split at its vocabulary size, half the vocabulary otherwise.
    public var textVocab: Int? = nil
    public var pad: Int32 = 0, eos: Int32 = 1, breakToken: Int32 = 2, mask: Int32 = 3, infill: Int32 = 4
    /// `data.retrieval` (its doc is in `ConfigKeys`).
    public var retrieval = false
    /// `data.neighbours` (its doc is in `ConfigKeys`).
    public var neighbours: String? = nil
    /// A Hugging Face tokenizer.json (byte-level BPE) for text: JSONL text segments are
    /// encoded with it, and generated text is printed through it. nil: token ids only.
    public var tokenizer: String? = nil
    /// Codes per image (CM3Leon: 1024, a 32 × 32 grid); JSONL images must have this many.
    public var imageTokens = 1024
    /// `data.block_per_example` (its doc is in `ConfigKeys`).
    public var blockPerExample = false
    /// Train on synthetic sequences (a random motif repeated, every weight 1) instead of a
    /// corpus: for smoke tests and checks that need tokens that rarely repeat.
    public var synthetic = false
    /// Size of the default corpus: training and held-out documents.
    public var documents = 20_000
    public var validationDocuments = 1_000
    public var cm3 = CM3Settings()
    /// A task file (docs/fine-tuning.md): training examples are its templates filled in
    /// with documents, for supervised fine-tuning; nil: the documents as they are.
    public var tasks: String? = nil
    public var taskSampling = TaskSampling()

    public init() {}

    /// Whether the documents are the built-in shapes corpus: no `data.train` shards named.
    public var usesBuiltInCorpus: Bool { train.isEmpty }

    /// The vocabulary for a model of `vocabSize` ids.
    public func vocabulary(vocabSize: Int) -> Vocabulary {
        let cm3leon = Vocabulary.cm3leon
        let text = textVocab ?? (vocabSize == cm3leon.size ? cm3leon.textVocabulary : vocabSize / 2)
        return Vocabulary(
            textVocabulary: text, imageCodes: vocabSize - text, pad: pad, eos: eos,
            breakToken: breakToken, mask: mask, infill: infill)
    }
}

/// What the data side reads of a run: the `data` section and the facts the configuration
/// derives for it once (vocabulary, sequence length, seed). `source` names the config in
/// errors.
public struct DataPlan: Sendable {
    public var settings: DataSettings
    public var vocabulary: Vocabulary
    public var seqLen: Int
    public var seed: UInt64
    public var source: String

    public init(settings: DataSettings, vocabulary: Vocabulary, seqLen: Int, seed: UInt64, source: String) {
        self.settings = settings; self.vocabulary = vocabulary; self.seqLen = seqLen; self.seed = seed;
        self.source = source
    }
}
