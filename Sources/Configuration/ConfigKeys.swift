import CM3Objective
import Diagnostics
import Model
import Optim
import Parallel
import TrainingData

/// Every config key, declared once. The reader, the YAML writer, `--set` validation and
/// docs/configuration.md all come from this table, so a key added here is readable,
/// written to run directories, settable and documented with nothing else to edit.
/// Order matters: it is the order keys are read (so the first error found), written and
/// documented.
///
/// Sizes have upper bounds far beyond any real run (a 32768-wide, 1024-layer model), chosen
/// so that the products the trainer forms from them (parameters, activation bytes, tokens
/// per step) cannot overflow `Int`: an absurd value is refused here, by name.
public enum ConfigKeys {
    public static let all: [ConfigKey] = [
        .integer(
            "model.vocab_size", \.model.vocabSize, maximum: 1 << 24, required: true,
            "Token ids the model embeds: text ids, then image codes."),
        .integer("model.d_model", \.model.dModel, maximum: 1 << 15, required: true, "Width of the residual stream."),
        .integer("model.layers", \.model.layers, maximum: 1 << 10, required: true, "Decoder blocks."),
        .integer(
            "model.heads", \.model.heads, maximum: 1 << 15, required: true, "Attention heads; must divide `d_model`."),
        .integer("model.ffn", \.model.ffn, maximum: 1 << 17, required: true, "Hidden width of each block's MLP."),
        .choice(
            "model.activation", \.model.activation, [ModelConfig.Activation.gelu, .relu],
            """
            Nonlinearity of each block's MLP. The CM3Leon paper does not name one; OPT, whose metaseq recipe CM3Leon \
            follows, uses `relu`; `gelu` (tanh approximation) is Tessera's default.
            """
        ),
        .integer(
            "model.seq_len", \.model.seqLen, maximum: 1 << 17, required: true,
            "Tokens per sequence (learned positions)."),

        .integer(
            "train.micro_batch", \.train.microBatch, maximum: 1 << 10,
            "Sequences per forward/backward pass on each rank."),
        .integer(
            "train.accumulation", \.train.accumulation, maximum: 1 << 20,
            "Micro-batches per optimizer step; derived from `batch_tokens` when unset (give one, not both)."),
        .integer(
            "train.batch_tokens", \.train.batchTokens, maximum: 1 << 40,
            "The global batch in tokens; must split evenly over micro-batches and ranks."),
        .integer(
            "train.steps", \.train.steps, maximum: 1 << 40,
            "Optimizer steps; derived from `total_tokens` when unset (else 100)."),
        .number(
            "train.total_tokens", \.train.totalTokens, in: 1...1e16, "Tokens over the whole run, for the step count."),
        .integer("train.seed", \.train.seed, minimum: 0, "Seeds initialisation and data order."),
        .boolean(
            "train.fixed_batch", \.train.fixedBatch,
            "Train on the first batch over and over (to check the model can fit it)."),
        .integer("train.log_interval", \.train.logInterval, "Print a progress line every this many steps."),
        .integer(
            "train.eval_interval", \.train.evalInterval, minimum: 0, "Validation every this many steps (0: never)."),
        .boolean(
            "train.validate_at_start", \.train.validateAtStart,
            """
            Validate before the first step of a fresh run, the curve's zero point (with eval_interval > 0). At 760m \
            on 8 ranks on 2 cores it took 167–197 s; false starts training at once.
            """
        ),
        .integer(
            "train.eval_batches", \.train.evalBatches, maximum: 1 << 20, "Micro-batches per rank in each validation."),
        .integer(
            "train.save_interval", \.train.saveInterval, minimum: 0,
            "A checkpoint every this many steps (0: only at the end and on \(StopSignals.phrase))."),
        .integer("train.keep_checkpoints", \.train.keepCheckpoints, "Checkpoints kept; older ones are deleted."),
        .integer(
            "train.watchdog_seconds", \.train.watchdogSeconds, minimum: 0,
            """
            End the job when a rank makes no progress (micro-batch, validation batch, checkpoint tensor) for this \
            long (0: never).
            """
        ),
        .boolean(
            "train.activation_checkpointing", \.train.activationCheckpointing,
            "Recompute each block's activations during backward instead of keeping them."),
        .path(
            "train.init_from", \.train.initFrom, dataPath: false,
            """
            A checkpoint whose weights a fresh run starts from (fine-tuning; `--init-from` sets it): any tp × dp \
            layout, the optimizer, schedule and data starting fresh. A run with checkpoints of its own resumes from \
            them instead.
            """
        ),

        .number("optim.peak_lr", \.optim.peakLr, in: 0...1, "Learning rate at the end of warmup."),
        .integer("optim.warmup", \.optim.warmup, minimum: 0, "Steps of linear warmup from 0."),
        .choice(
            "optim.decay", \.optim.decay, [LearningRateSchedule.Decay.linear, .cosine],
            "Shape of the decay after warmup."),
        .number(
            "optim.final_lr_fraction", \.optim.finalLrFraction, in: 0...1,
            "Learning rate at the last step, as a fraction of the peak."),
        .number(
            "optim.clip_norm", \.optim.clipNorm, in: 0...1e6,
            "Global L2 norm the gradients are clipped to (0: no clipping)."),
        .number("optim.beta1", \.optim.adamW.beta1, in: 0...0.999999, "AdamW first-moment decay."),
        .number("optim.beta2", \.optim.adamW.beta2, in: 0...0.999999, "AdamW second-moment decay."),
        .number("optim.eps", \.optim.adamW.eps, in: 0...1, "AdamW denominator epsilon."),
        .number("optim.weight_decay", \.optim.adamW.weightDecay, in: 0...1, "AdamW decoupled weight decay."),

        .integer(
            "parallel.tp", \.parallel.tp, maximum: 1 << 16,
            "Tensor-parallel size (`--tp` overrides it); dp = ranks / tp."),
        .boolean(
            "parallel.distributed_optimizer", \.parallel.distributedOptimizer,
            """
            ZeRO-1 when dp > 1: each data-parallel rank keeps AdamW's moments of, and updates, only its 1/dp of \
            every tensor's rows (gradients reduce-scattered, parameters all-gathered); checkpoints hold the full \
            moments either way.
            """
        ),

        .paths("data.train", \.data.train, "Training shards; empty: the built-in default corpus."),
        .paths(
            "data.validation", \.data.validation, "Held-out shards; empty: the default corpus's held-out documents."),
        .integer(
            "data.text_vocab", \.data.textVocab, maximum: 1 << 24,
            """
            Text ids (special tokens among them), the rest being image codes; unset: CM3Leon's split at its \
            vocabulary size, else half.
            """
        ),
        .path(
            "data.tokenizer", \.data.tokenizer,
            """
            A Hugging Face tokenizer.json (byte-level BPE): encodes JSONL text segments and prints generated text; \
            unset: token ids only.
            """
        ),
        .integer(
            "data.image_tokens", \.data.imageTokens, maximum: 1 << 20,
            """
            Codes per image: JSONL image segments must have this many, and generation draws this many (CM3Leon: \
            1024; the built-in corpus: 36).
            """
        ),
        .token("data.special_tokens.pad", \.data.pad, "Id of `<pad>`."),
        .token("data.special_tokens.eos", \.data.eos, "Id of `<eos>`, ending each document."),
        .token("data.special_tokens.break", \.data.breakToken, "Id of `<break>`, between modalities."),
        .token("data.special_tokens.mask", \.data.mask, "Id of `<mask>`, standing in for a masked span."),
        .token("data.special_tokens.infill", \.data.infill, "Id of `<infill>`, opening each span at the end."),
        .boolean("data.retrieval", \.data.retrieval, "Prepend retrieved documents (CM3Leon §2.1)."),
        .path(
            "data.neighbours", \.data.neighbours,
            """
            Stored retrieval candidates of the training shards (`launch retrieve`): retrieval ranks and selects \
            among them instead of searching a bank held in memory; unset: search online.
            """
        ),
        .boolean(
            "data.block_per_example", \.data.blockPerExample,
            """
            Start every example in a block of its own, padded (fairseq's `break_mode: eos`), instead of running \
            examples on across blocks.
            """
        ),
        .boolean(
            "data.synthetic", \.data.synthetic,
            "Train on synthetic sequences (a random motif repeated) instead of a corpus, for smoke tests."),
        .integer("data.documents", \.data.documents, maximum: 1 << 24, "Default corpus: training documents."),
        .integer(
            "data.validation_documents", \.data.validationDocuments, maximum: 1 << 24,
            "Default corpus: held-out documents."),
        .number(
            "data.cm3.lambda", \.data.cm3.lambda, in: 0...64, "Span count n ~ clamp(Poisson(λ), min_spans, max_spans)."
        ),
        .integer(
            "data.cm3.min_spans", \.data.cm3.minSpans, minimum: 0, maximum: 1 << 16, "Fewest masked spans per block."),
        .integer(
            "data.cm3.max_spans", \.data.cm3.maxSpans, minimum: 0, maximum: 1 << 16,
            "Most masked spans per block; at least `min_spans`, and 2·max_spans + 1 must fit in `seq_len`."),
        .number(
            "data.cm3.mask_weight", \.data.cm3.maskWeight, in: 0...1,
            "Loss weight of targets that are `<mask>` in the source."),
        .path(
            "data.tasks", \.data.tasks,
            """
            Fine-tuning task file (docs/fine-tuning.md): each example fills in a task's template with a document; \
            unset: documents as they are.
            """
        ),
        .number(
            "data.task_sampling.upsample_limit", \.data.taskSampling.upsampleLimit, in: 1...1e6,
            "A task is sampled at most this many times its natural share (CM3Leon E.1: 3)."),
        .number(
            "data.task_sampling.downsample_limit", \.data.taskSampling.downsampleLimit, in: 0...1,
            "A task is sampled at least this many times its natural share (CM3Leon E.1: 0.3).")
    ]

    /// The keys by name.
    public static let named: [String: ConfigKey] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The names directly under the section `path` ("" for the top level), in table order:
    /// keys and subsections alike, as a file may spell them there.
    static func children(of path: String) -> [String] {
        let depth = path.isEmpty ? 0 : path.split(separator: ".").count
        var names: [String] = []
        for key in all where key.parts.count > depth && key.parts.prefix(depth).joined(separator: ".") == path {
            if !names.contains(key.parts[depth]) { names.append(key.parts[depth]) }
        }
        return names
    }

    /// `--set` validation: every overridden key must be in the table.
    public static func checkOverrides(_ overrides: [String: String]) throws {
        if let unknown = overrides.keys.sorted().first(where: { named[$0] == nil }) {
            throw ConfigError(file: "--set", key: unknown, message: "unknown key")
        }
    }
}
