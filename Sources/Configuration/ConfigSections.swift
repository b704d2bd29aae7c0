import CM3Objective
import Foundation
import Optim
import Parallel

/// Shape of the CM3Leon decoder (paper Table 3). Its tensors are listed by the Model
/// module's `ParameterTable`, which also counts them.
public struct ModelConfig: Equatable, Sendable {
    /// The nonlinearity between each block's fc1 and fc2. The CM3Leon paper does not name
    /// one; OPT, whose recipe (metaseq) CM3Leon follows, uses ReLU. Tessera's default is
    /// GELU in its tanh form.
    public enum Activation: String, Equatable, Sendable {
        /// `0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³)))`: the default.
        case gelu
        /// `max(x, 0)`: OPT's (metaseq's) choice.
        case relu
    }

    public var vocabSize: Int
    public var dModel: Int
    public var layers: Int
    public var heads: Int
    public var ffn: Int
    public var seqLen: Int
    public var activation: Activation

    public init(vocabSize: Int, dModel: Int, layers: Int, heads: Int, ffn: Int, seqLen: Int, activation: Activation = .gelu) {
        self.vocabSize = vocabSize; self.dModel = dModel; self.layers = layers
        self.heads = heads; self.ffn = ffn; self.seqLen = seqLen; self.activation = activation
    }
}

/// How a run trains: batch, length, intervals (Table 3 sizes live in configs/*.yaml).
public struct TrainConfig: Equatable, Sendable {
    /// Sequences per forward/backward pass on each rank.
    public var microBatch: Int = 4
    /// Micro-batches per optimizer step; derived from `batchTokens` when nil.
    public var accumulation: Int? = nil
    /// The global batch in tokens (Table 3: 8M = 2048 sequences of 4096).
    public var batchTokens: Int? = nil
    /// Optimizer steps; derived from `totalTokens / batchTokens` when nil.
    public var steps: Int? = nil
    /// Tokens over the whole run (Table 3: 1.4T, 1.9T, 2.4T).
    public var totalTokens: Double? = nil
    public var seed: Int = 0
    /// Train on the first batch over and over (to check the model can fit it).
    public var fixedBatch: Bool = false
    public var logInterval: Int = 1
    /// Validation every this many steps (0: never).
    public var evalInterval: Int = 0
    /// Validate once before the first step of a fresh run (the zero point of the curve).
    public var validateAtStart = true
    /// Micro-batches per rank in each validation.
    public var evalBatches: Int = 4
    /// A checkpoint every this many steps (0: only at the end and on SIGTERM/SIGINT).
    public var saveInterval: Int = 0
    /// Checkpoints kept; older ones are deleted.
    public var keepCheckpoints: Int = 3
    /// Recompute each block's activations during backward instead of keeping them.
    public var activationCheckpointing = false
    /// A rank that makes no progress (no micro-batch, validation batch or checkpoint tensor
    /// done) for this long ends the job (0: never). 30 minutes is several times the
    /// longest such unit measured at 760m on 8 ranks of this machine (a 242 s micro-batch).
    public var watchdogSeconds: Int = 1800
    /// A checkpoint whose weights a fresh run starts from (fine-tuning); nil: random
    /// initialisation.
    public var initFrom: String? = nil

    public init() {}

    /// Micro-batches per step for `dp` ranks: explicit, or `batchTokens / (micro_batch ·
    /// seq_len · dp)`, which must divide evenly.
    public func accumulation(seqLen: Int, dp: Int) throws -> Int {
        if let accumulation { return accumulation }
        guard let batchTokens else { return 1 }
        let perPass = try tokens(microBatch, seqLen, dp)
        guard batchTokens % perPass == 0 else {
            throw LayoutError(description: "train.batch_tokens \(batchTokens) is not a multiple of micro_batch \(microBatch) × seq_len \(seqLen) × dp \(dp) = \(perPass)")
        }
        return batchTokens / perPass
    }

    /// Optimizer steps in the run: explicit, or total tokens over the global batch (rounded up).
    public func totalSteps(seqLen: Int, dp: Int) throws -> Int {
        if let steps { return steps }
        guard let totalTokens else { return 100 }
        let batch = Double(try tokens(microBatch, seqLen, dp, try accumulation(seqLen: seqLen, dp: dp)))
        return Int((totalTokens / batch).rounded(.up))
    }

    /// The tokens of a pass or a step, the product of `factors`: each key is bounded, but
    /// dp comes from the layout (`launch plan --world` can name any), so the product is
    /// checked instead of trapping on overflow.
    private func tokens(_ factors: Int...) throws -> Int {
        try factors.reduce(1) { product, factor in
            let (result, overflow) = product.multipliedReportingOverflow(by: factor)
            guard !overflow else {
                let names = "micro_batch × seq_len × dp" + (factors.count > 3 ? " × accumulation" : "")
                throw LayoutError(description: "\(names) = \(factors.map(String.init).joined(separator: " × ")) tokens, too many to count")
            }
            return result
        }
    }
}

/// The optimiser recipe (metaseq's OPT launcher, which trained CM3Leon).
public struct OptimConfig: Equatable, Sendable {
    public var peakLr: Double = 1e-3
    public var warmup: Int = 0
    public var decay: LearningRateSchedule.Decay = .linear
    /// The learning rate at the last step, as a fraction of the peak.
    public var finalLrFraction: Double = 0.1
    /// Global L2 norm the gradients are clipped to (0: no clipping).
    public var clipNorm: Double = 1.0
    public var adamW = AdamWSettings()

    public init() {}

    public func schedule(totalSteps: Int) -> LearningRateSchedule {
        LearningRateSchedule(peak: peakLr, warmup: warmup, totalSteps: totalSteps, finalFraction: finalLrFraction, decay: decay)
    }
}

/// Where the training blocks come from (docs/data-format.md).
public struct DataConfig: Equatable, Sendable {
    /// Training shards; empty means the built-in default corpus.
    public var train: [String] = []
    /// Held-out shards; empty means the default corpus's own held-out documents.
    public var validation: [String] = []
    /// Text ids (special tokens among them); the rest of the model's vocabulary is image codes.
    /// Defaults to CM3Leon's split at its vocabulary size, half the vocabulary otherwise.
    public var textVocab: Int? = nil
    public var pad: Int32 = 0, eos: Int32 = 1, breakToken: Int32 = 2, mask: Int32 = 3, infill: Int32 = 4
    /// Prepend retrieved documents (CM3Leon §2.1).
    public var retrieval = false
    /// A Hugging Face tokenizer.json (byte-level BPE) for text: JSONL text segments are
    /// encoded with it, and generated text is printed through it. nil: token ids only.
    public var tokenizer: String? = nil
    /// Codes per image (CM3Leon: 1024, a 32 × 32 grid); JSONL images must have this many.
    public var imageTokens = 1024
    /// Start every example in a block of its own, padded (fairseq's `break_mode: eos`),
    /// instead of running examples on across blocks: positions then count from the
    /// example's start. Retrieval examples always start a block.
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

    /// The vocabulary for a model of `vocabSize` ids.
    public func vocabulary(vocabSize: Int) -> Vocabulary {
        let cm3leon = Vocabulary.cm3leon
        let text = textVocab ?? (vocabSize == cm3leon.size ? cm3leon.textVocabulary : vocabSize / 2)
        return Vocabulary(textVocabulary: text, imageCodes: vocabSize - text, pad: pad, eos: eos,
                          breakToken: breakToken, mask: mask, infill: infill)
    }
}

/// How the run is split over ranks.
public struct ParallelConfig: Equatable, Sendable {
    /// Tensor-parallel size; data-parallel size is world / tp.
    public var tp: Int = 1
    /// Shard AdamW's moments and update over dp (ZeRO-1); nothing changes at dp 1.
    public var distributedOptimizer = true

    public init() {}
}

