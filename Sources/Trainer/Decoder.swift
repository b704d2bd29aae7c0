import Autograd
import Parallel

/// A trainable tensor with its checkpoint name (PyTorch/metaseq names, docs/architecture.md),
/// the full shape, and which part of the full tensor this rank holds.
public struct NamedParameter {
    public let name: String
    public let tensor: Tensor
    public let fullShape: [Int]
    public let sharding: Sharding
}

/// One pre-LN block, split over the tensor-parallel group: q, k, v and fc1 by output rows
/// (whole heads per rank), out_proj and fc2 by input columns.
struct DecoderLayer {
    let qkv: ColumnParallelLinear      // 3 × [d/tp, d]
    let outProj: RowParallelLinear     // [d, d/tp]
    let fc1: ColumnParallelLinear      // [ffn/tp, d]
    let fc2: RowParallelLinear         // [d, ffn/tp]
    let parameters: [Tensor]
}

/// The CM3Leon decoder (paper §2.3): token + learned position embeddings, pre-LN blocks
/// with parameter-free LayerNorm, no bias, no dropout, a final LayerNorm, and the LM head
/// tied to the token embedding. With a tensor-parallel group of p ranks, each holds 1/p of
/// the heads, of the MLP and of the vocabulary (Megatron's layout, DESIGN §5).
public final class CM3LeonDecoder {
    public let config: ModelConfig
    /// Every trainable tensor (this rank's shard), in a fixed order: embeddings, then blocks.
    public let parameters: [NamedParameter]
    let embedTokens: VocabParallelEmbedding  // [V/tp, d], also the LM head
    let embedPositions: Tensor               // [S, d], replicated
    let layers: [DecoderLayer]
    let localHeads: Int

    /// Builds this rank's shards with CM3Leon's init (DESIGN §2). Every row of every full
    /// tensor is drawn from a stream keyed by (seed, name, row), so a rank draws only the
    /// rows it holds and every layout starts from the same full weights.
    /// `tensorParallel` must have a size dividing heads, ffn and the vocabulary.
    public init(config: ModelConfig, seed: UInt64, tensorParallel group: ReductionGroup = LocalGroup.shared) {
        precondition(config.heads % group.size == 0 && config.ffn % group.size == 0 && config.vocabSize % group.size == 0,
                     "tensor-parallel size must divide heads, ffn and vocabulary (checked by TensorParallelLayout)")
        self.config = config
        let d = config.dModel, tp = group.size, rank = group.rank
        localHeads = config.heads / tp
        var parameters: [NamedParameter] = []
        func make(_ name: String, _ fullShape: [Int], _ initialize: ParameterInit, _ sharding: Sharding) -> Tensor {
            let tensor = Tensor(shape: sharding.localShape(fullShape), requiresGrad: true)
            initialize.fill(tensor, fullShape: fullShape, sharding: sharding, seed: seed, name: name)
            parameters.append(NamedParameter(name: name, tensor: tensor, fullShape: fullShape, sharding: sharding))
            return tensor
        }
        let byRows = Sharding.rows(parts: tp, index: rank), byColumns = Sharding.columns(parts: tp, index: rank)
        let tokenTable = make("decoder.embed_tokens.weight", [config.vocabSize, d], .matrix, byRows)
        embedTokens = VocabParallelEmbedding(table: tokenTable, offset: rank * config.vocabSize / tp, group: group)
        embedPositions = make("decoder.embed_positions.weight", [config.seqLen, d], .positions, .replicated)
        layers = (0..<config.layers).map { i in
            let prefix = "decoder.layers.\(i)."
            let q = make(prefix + "self_attn.q_proj.weight", [d, d], .matrix, byRows)
            let k = make(prefix + "self_attn.k_proj.weight", [d, d], .matrix, byRows)
            let v = make(prefix + "self_attn.v_proj.weight", [d, d], .matrix, byRows)
            let out = make(prefix + "self_attn.out_proj.weight", [d, d], .zero, byColumns)
            let fc1 = make(prefix + "fc1.weight", [config.ffn, d], .matrix, byRows)
            let fc2 = make(prefix + "fc2.weight", [d, config.ffn], .zero, byColumns)
            return DecoderLayer(qkv: ColumnParallelLinear(weights: [q, k, v], group: group),
                                outProj: RowParallelLinear(weight: out, group: group),
                                fc1: ColumnParallelLinear(weights: [fc1], group: group),
                                fc2: RowParallelLinear(weight: fc2, group: group),
                                parameters: [q, k, v, out, fc1, fc2])
        }
        self.parameters = parameters
    }

    /// Weighted next-token loss of `batch` (scalar `[1]`, the same on every tensor-parallel
    /// rank), recorded on `tape`. `normalizer` defaults to the batch's weight sum.
    /// `gradientsReady` is called during backward with each group of parameters as soon as
    /// their gradients are final (last block first, embeddings last), for data-parallel
    /// reduction to overlap backward.
    /// With `checkpointBlocks`, each block keeps only its output and recomputes the rest
    /// during backward (activation memory of one block instead of all of them).
    /// `stash` (with checkpointing) decides how each block's input is kept until backward.
    public func loss(_ batch: TokenBatch, tape: Tape, normalizer: Float? = nil, checkpointBlocks: Bool = false,
                     stash: ActivationStash? = nil, gradientsReady: (([Tensor]) -> Void)? = nil) -> Tensor {
        precondition(batch.seqLen <= config.seqLen, "sequence \(batch.seqLen) longer than seq_len \(config.seqLen)")
        // Backward runs the tape in reverse: a step recorded before a group's ops runs after
        // all of their backward steps, when the group's gradients are final.
        func markWhenFinal(_ tensors: [Tensor]) {
            if let gradientsReady { tape.record { gradientsReady(tensors) } }
        }
        markWhenFinal([embedTokens.table, embedPositions])
        let positions = (0..<batch.count).map { Int32($0 % batch.seqLen) }
        var x = tape.add(embedTokens(batch.inputs, tape: tape),
                         tape.embedding(embedPositions, ids: positions))  // [tokens, d]
        for layer in layers {
            markWhenFinal(layer.parameters)
            if checkpointBlocks {
                x = tape.checkpoint(x, stash: stash) { inner, input in self.block(input, layer, batch: batch.microBatch, tape: inner) }
            } else {
                x = block(x, layer, batch: batch.microBatch, tape: tape)
            }
        }
        let hidden = tape.layerNorm(x)                                   // [tokens, d]
        return embedTokens.lmHeadLoss(hidden, targets: batch.targets, weights: batch.weights,
                                      normalizer: normalizer, tape: tape)
    }

    /// `x += out_proj(attn(LN(x)))`, then `x += fc2(gelu(fc1(LN(x))))`. x: [tokens, d].
    func block(_ x: Tensor, _ layer: DecoderLayer, batch: Int, tape: Tape) -> Tensor {
        let qkv = layer.qkv(tape.layerNorm(x), tape: tape)              // 3 × [tokens, d/tp]
        let attention = tape.causalSelfAttention(qkv[0], qkv[1], qkv[2], batch: batch, heads: localHeads)
        let afterAttention = tape.add(x, layer.outProj(attention, tape: tape))
        let inner = tape.gelu(layer.fc1(tape.layerNorm(afterAttention), tape: tape)[0])  // [tokens, ffn/tp]
        return tape.add(afterAttention, layer.fc2(inner, tape: tape))
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

    /// Fills this rank's shard of a `fullShape` tensor: row R of the full tensor comes from
    /// the stream (seed, "name/R"), whichever rank draws it.
    func fill(_ tensor: Tensor, fullShape: [Int], sharding: Sharding, seed: UInt64, name: String) {
        if case .zero = self { tensor.data.update(repeating: 0); return }
        let fullColumns = fullShape[1], columns = sharding.columnRange(fullShape)
        let row = UnsafeMutableBufferPointer<Float>.allocate(capacity: fullColumns)
        defer { row.deallocate() }
        for (localRow, fullRow) in sharding.rowRange(fullShape).enumerated() {
            var generator = SplitMix64(seed: seed, name: "\(name)/\(fullRow)")
            switch self {
            case .matrix: Initializer.truncatedNormal(row, std: Self.matrixStd, generator: &generator)
            case .positions: Initializer.normal(row, std: Self.positionStd, generator: &generator)
            case .zero: break
            }
            (tensor.pointer + localRow * columns.count).update(from: row.baseAddress! + columns.lowerBound, count: columns.count)
        }
    }
}
