import Foundation

extension TesseraConfig {
    /// The resolved config (file values, defaults and `--set` overrides) as YAML that
    /// `TesseraConfig.parse` reads back to the same config: saved in run directories and
    /// checkpoints.
    public var yaml: String {
        func list(_ paths: [String]) -> String { "[" + paths.map { "\"\($0)\"" }.joined(separator: ", ") + "]" }
        var lines = [
            "model:",
            "  vocab_size: \(model.vocabSize)", "  d_model: \(model.dModel)", "  layers: \(model.layers)",
            "  heads: \(model.heads)", "  ffn: \(model.ffn)", "  seq_len: \(model.seqLen)",
            "train:",
            "  micro_batch: \(train.microBatch)",
        ]
        if let accumulation = train.accumulation { lines.append("  accumulation: \(accumulation)") }
        if let batchTokens = train.batchTokens { lines.append("  batch_tokens: \(batchTokens)") }
        if let steps = train.steps { lines.append("  steps: \(steps)") }
        if let totalTokens = train.totalTokens { lines.append("  total_tokens: \(totalTokens)") }
        lines += [
            "  seed: \(train.seed)", "  fixed_batch: \(train.fixedBatch)", "  log_interval: \(train.logInterval)",
            "  eval_interval: \(train.evalInterval)", "  eval_batches: \(train.evalBatches)",
            "  save_interval: \(train.saveInterval)", "  keep_checkpoints: \(train.keepCheckpoints)",
            "  activation_checkpointing: \(train.activationCheckpointing)",
            "optim:",
            "  peak_lr: \(optim.peakLr)", "  warmup: \(optim.warmup)", "  decay: \(optim.decay.rawValue)",
            "  final_lr_fraction: \(optim.finalLrFraction)", "  clip_norm: \(optim.clipNorm)",
            "  beta1: \(optim.adamW.beta1)", "  beta2: \(optim.adamW.beta2)", "  eps: \(optim.adamW.eps)",
            "  weight_decay: \(optim.adamW.weightDecay)",
            "parallel:",
            "  tp: \(parallel.tp)",
            "data:",
            "  train: \(list(data.train))", "  validation: \(list(data.validation))",
        ]
        if let textVocab = data.textVocab { lines.append("  text_vocab: \(textVocab)") }
        lines += [
            "  special_tokens: {pad: \(data.pad), eos: \(data.eos), break: \(data.breakToken), mask: \(data.mask), infill: \(data.infill)}",
            "  retrieval: \(data.retrieval)", "  synthetic: \(data.synthetic)",
            "  documents: \(data.documents)", "  validation_documents: \(data.validationDocuments)",
            "  cm3: {lambda: \(data.cm3.lambda), min_spans: \(data.cm3.minSpans), max_spans: \(data.cm3.maxSpans), mask_weight: \(data.cm3.maskWeight)}",
        ]
        return lines.joined(separator: "\n") + "\n"
    }
}
