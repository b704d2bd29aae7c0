import Parallel

/// What a tensor is in the decoder, independent of its checkpoint spelling.
public enum ParameterRole: Hashable, Sendable {
    case tokenEmbedding
    case positionEmbedding
    case queryProjection(layer: Int)
    case keyProjection(layer: Int)
    case valueProjection(layer: Int)
    case attentionOutput(layer: Int)
    case fc1(layer: Int)
    case fc2(layer: Int)
}

/// How a full tensor is divided over the tensor-parallel group (Megatron's layout).
public enum TensorParallelSplit: Sendable {
    /// Every rank holds all of it.
    case replicated
    /// Each rank holds 1/tp of the rows: column-parallel weights (whole heads, a slice of
    /// the MLP) and the vocabulary shard of the embedding.
    case rows
    /// Each rank holds 1/tp of the columns: row-parallel weights, whose products are summed.
    case columns

    /// This rank's part.
    public func sharding(tp: Int, rank: Int) -> Sharding {
        switch self {
        case .replicated: .replicated
        case .rows: .rows(parts: tp, index: rank)
        case .columns: .columns(parts: tp, index: rank)
        }
    }
}

/// One tensor of the model: everything about it that is not its values.
public struct ParameterSpec: Sendable {
    public let role: ParameterRole
    /// The checkpoint name (metaseq/PyTorch's), e.g. `decoder.layers.0.fc1.weight`.
    public let name: String
    /// The full, unsharded shape.
    public let shape: [Int]
    public let initializer: ParameterInit
    public let split: TensorParallelSplit
    /// Whether AdamW's decoupled weight decay applies (metaseq decays every CM3Leon weight:
    /// there are no biases or norm gains).
    public let weightDecay: Bool

    /// Elements of the full tensor.
    public var count: Int { shape.reduce(1, *) }
}

/// Every tensor of a CM3Leon decoder of one shape, in checkpoint order (embeddings, then
/// blocks). The one place names, shapes, initialisers and splits are written: the decoder,
/// checkpoints, AdamW's state, parameter counts and `launch plan` all read it.
public struct ParameterTable: Sendable {
    public let model: ModelConfig
    public let specs: [ParameterSpec]

    public init(_ model: ModelConfig) {
        self.model = model
        let d = model.dModel
        func spec(
            _ role: ParameterRole, _ name: String, _ shape: [Int], _ initializer: ParameterInit,
            _ split: TensorParallelSplit
        ) -> ParameterSpec {
            ParameterSpec(
                role: role, name: name, shape: shape, initializer: initializer, split: split, weightDecay: true)
        }
        var specs = [
            spec(.tokenEmbedding, "decoder.embed_tokens.weight", [model.vocabSize, d], .matrix, .rows),
            spec(.positionEmbedding, "decoder.embed_positions.weight", [model.seqLen, d], .positions, .replicated)
        ]
        for layer in 0..<model.layers {
            let prefix = "decoder.layers.\(layer)."
            specs += [
                spec(.queryProjection(layer: layer), prefix + "self_attn.q_proj.weight", [d, d], .matrix, .rows),
                spec(.keyProjection(layer: layer), prefix + "self_attn.k_proj.weight", [d, d], .matrix, .rows),
                spec(.valueProjection(layer: layer), prefix + "self_attn.v_proj.weight", [d, d], .matrix, .rows),
                // Output layers start at zero, so every block starts as the identity.
                spec(.attentionOutput(layer: layer), prefix + "self_attn.out_proj.weight", [d, d], .zero, .columns),
                spec(.fc1(layer: layer), prefix + "fc1.weight", [model.ffn, d], .matrix, .rows),
                spec(.fc2(layer: layer), prefix + "fc2.weight", [d, model.ffn], .zero, .columns)
            ]
        }
        self.specs = specs
    }

    /// All parameters (the LM head is tied to the token embedding; nothing has a bias).
    public var parameterCount: Int { specs.reduce(0) { $0 + $1.count } }

    /// Elements each tensor-parallel rank holds.
    public func parametersPerRank(tp: Int) -> Int {
        specs.reduce(0) { $0 + ($1.split == .replicated ? $1.count : $1.count / tp) }
    }

    /// Training FLOPs per token: 6 per weight that multiplies an activation (every tensor
    /// but the position table, whose lookup is free; the token table multiplies as the LM
    /// head) plus 12·L·d·seq for attention scores and values (forward 4·d·seq, backward
    /// twice that, counted without causal savings, as PaLM's appendix B does).
    public var trainingFlopsPerToken: Double {
        let multiplying = specs.filter { $0.role != .positionEmbedding }.reduce(0) { $0 + $1.count }
        return 6 * Double(multiplying) + 12 * Double(model.layers * model.dModel * model.seqLen)
    }
}

extension ModelConfig {
    /// Every tensor of a decoder of this shape.
    public var parameterTable: ParameterTable { ParameterTable(self) }
}
