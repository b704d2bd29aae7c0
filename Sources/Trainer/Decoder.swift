import Autograd

/// A named trainable tensor; names are the checkpoint names of docs/checkpoint-format.md.
public struct NamedParameter {
    public let name: String
    public let tensor: Tensor
}

/// Weights of one pre-LN block. Shapes follow PyTorch (`[out, in]`).
struct DecoderLayer {
    let qProj, kProj, vProj, outProj: Tensor  // [d, d]
    let fc1: Tensor                            // [ffn, d]
    let fc2: Tensor                            // [d, ffn]
}

/// The CM3Leon decoder (paper §2.3): token + learned position embeddings, pre-LN blocks
/// with parameter-free LayerNorm, no bias, no dropout, a final LayerNorm, and the LM head
/// tied to the token embedding.
public final class CM3LeonDecoder {
    public let config: ModelConfig
    /// Every trainable tensor, in a fixed order (embeddings, then blocks in order).
    public let parameters: [NamedParameter]
    let embedTokens: Tensor     // [V, d]
    let embedPositions: Tensor  // [S, d]
    let layers: [DecoderLayer]

    /// Builds the model with CM3Leon's init (DESIGN §2). Each tensor is drawn from a stream
    /// keyed by (seed, name), so the weights do not depend on how the model is laid out.
    public init(config: ModelConfig, seed: UInt64) {
        self.config = config
        let d = config.dModel
        var parameters: [NamedParameter] = []
        func make(_ name: String, _ shape: [Int], _ initialize: ParameterInit) -> Tensor {
            let tensor = Tensor(shape: shape, requiresGrad: true)
            initialize.fill(tensor, seed: seed, name: name)
            parameters.append(NamedParameter(name: name, tensor: tensor))
            return tensor
        }
        embedTokens = make("decoder.embed_tokens.weight", [config.vocabSize, d], .matrix)
        embedPositions = make("decoder.embed_positions.weight", [config.seqLen, d], .positions)
        layers = (0..<config.layers).map { i in
            let prefix = "decoder.layers.\(i)."
            return DecoderLayer(
                qProj: make(prefix + "self_attn.q_proj.weight", [d, d], .matrix),
                kProj: make(prefix + "self_attn.k_proj.weight", [d, d], .matrix),
                vProj: make(prefix + "self_attn.v_proj.weight", [d, d], .matrix),
                outProj: make(prefix + "self_attn.out_proj.weight", [d, d], .zero),
                fc1: make(prefix + "fc1.weight", [config.ffn, d], .matrix),
                fc2: make(prefix + "fc2.weight", [d, config.ffn], .zero))
        }
        self.parameters = parameters
    }

    /// Mean weighted next-token loss of `batch` (scalar `[1]`), recorded on `tape`.
    public func loss(_ batch: TokenBatch, tape: Tape, normalizer: Float? = nil) -> Tensor {
        precondition(batch.seqLen <= config.seqLen, "sequence \(batch.seqLen) longer than seq_len \(config.seqLen)")
        let positions = (0..<batch.count).map { Int32($0 % batch.seqLen) }
        var x = tape.add(tape.embedding(embedTokens, ids: batch.inputs),
                         tape.embedding(embedPositions, ids: positions))  // [tokens, d]
        for layer in layers {
            x = block(x, layer, batch: batch.microBatch, tape: tape)
        }
        let hidden = tape.layerNorm(x)                                   // [tokens, d]
        return tape.lmHeadCrossEntropy(hidden, table: embedTokens, targets: batch.targets,
                                       weights: batch.weights, normalizer: normalizer)
    }

    /// `x += out_proj(attn(LN(x)))`, then `x += fc2(gelu(fc1(LN(x))))`. x: [tokens, d].
    func block(_ x: Tensor, _ layer: DecoderLayer, batch: Int, tape: Tape) -> Tensor {
        let h = tape.layerNorm(x)
        let attention = tape.causalSelfAttention(
            tape.linear(h, layer.qProj), tape.linear(h, layer.kProj), tape.linear(h, layer.vProj),
            batch: batch, heads: config.heads)                           // [tokens, d]
        let afterAttention = tape.add(x, tape.linear(attention, layer.outProj))
        let inner = tape.gelu(tape.linear(tape.layerNorm(afterAttention), layer.fc1))  // [tokens, ffn]
        return tape.add(afterAttention, tape.linear(inner, layer.fc2))
    }

    /// Clears every parameter's gradient.
    public func zeroGrad() {
        for parameter in parameters { parameter.tensor.zeroGrad() }
    }
}

/// How a parameter starts (DESIGN §2: metaseq's CM3Leon init).
enum ParameterInit {
    /// Truncated normal, std 0.006, cut at ±3σ: every matrix and the token embedding.
    case matrix
    /// Normal, std 0.0002: the learned positions.
    case positions
    /// Zero: the output layers of each block (`out_proj`, `fc2`).
    case zero

    static let matrixStd = 0.006
    static let positionStd = 0.0002

    func fill(_ tensor: Tensor, seed: UInt64, name: String) {
        var generator = SplitMix64(seed: seed, name: name)
        switch self {
        case .matrix: Initializer.truncatedNormal(tensor.data, std: Self.matrixStd, generator: &generator)
        case .positions: Initializer.normal(tensor.data, std: Self.positionStd, generator: &generator)
        case .zero: tensor.data.update(repeating: 0)
        }
    }
}
