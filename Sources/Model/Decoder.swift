import Autograd
import Parallel

/// A trainable tensor: its entry in the `ParameterTable`, and this rank's part of it.
public struct NamedParameter {
    public let spec: ParameterSpec
    public let tensor: Tensor
    public let sharding: Sharding
    /// The checkpoint name.
    public var name: String { spec.name }
    /// The full, unsharded shape.
    public var fullShape: [Int] { spec.shape }

    public init(spec: ParameterSpec, tensor: Tensor, sharding: Sharding) {
        self.spec = spec; self.tensor = tensor; self.sharding = sharding
    }
}

/// One pre-LN block, split over the tensor-parallel group: q, k, v and fc1 by output rows
/// (whole heads per rank), out_proj and fc2 by input columns.
struct DecoderLayer {
    let qkv: ColumnParallelLinear  // 3 × [d/tp, d]
    let outProj: RowParallelLinear  // [d, d/tp]
    let fc1: ColumnParallelLinear  // [ffn/tp, d]
    let fc2: RowParallelLinear  // [d, ffn/tp]
    let parameters: [Tensor]
}

/// The CM3Leon decoder (paper §2.3): token + learned position embeddings, pre-LN blocks
/// with parameter-free LayerNorm, no bias, no dropout, a final LayerNorm, and the LM head
/// tied to the token embedding. With a tensor-parallel group of p ranks, each holds 1/p of
/// the heads, of the MLP and of the vocabulary (Megatron's layout).
public final class CM3LeonDecoder {
    public let config: ModelConfig
    /// Every trainable tensor (this rank's shard), in a fixed order: embeddings, then blocks.
    public let parameters: [NamedParameter]
    let embedTokens: VocabParallelEmbedding  // [V/tp, d], also the LM head
    let embedPositions: Tensor  // [S, d], replicated
    let layers: [DecoderLayer]
    let localHeads: Int
    /// The tensor-parallel group the tensors are split over.
    public let group: ReductionGroup

    /// Builds this rank's shards of every tensor in the `ParameterTable`, with CM3Leon's
    /// init (metaseq's). Every row of every full
    /// tensor is drawn from a stream keyed by (seed, name, row), so a rank draws only the
    /// rows it holds and every layout starts from the same full weights.
    /// `tensorParallel` must have a size dividing heads, ffn and the vocabulary.
    public init(config: ModelConfig, seed: UInt64, tensorParallel group: ReductionGroup = LocalGroup.shared) {
        precondition(
            config.heads % group.size == 0 && config.ffn % group.size == 0 && config.vocabSize % group.size == 0,
            "tensor-parallel size must divide heads, ffn and vocabulary (checked by TensorParallelLayout)")
        self.config = config
        self.group = group
        let tp = group.size, rank = group.rank
        localHeads = config.heads / tp
        parameters = ParameterTable(config).specs.map { spec in
            let sharding = spec.split.sharding(tp: tp, rank: rank)
            let tensor = Tensor(shape: sharding.localShape(spec.shape), requiresGrad: true)
            spec.initializer.fill(tensor, fullShape: spec.shape, sharding: sharding, seed: seed, name: spec.name)
            return NamedParameter(spec: spec, tensor: tensor, sharding: sharding)
        }
        let byRole = Dictionary(uniqueKeysWithValues: parameters.map { ($0.spec.role, $0.tensor) })
        func tensor(_ role: ParameterRole) -> Tensor { byRole[role]! }
        embedTokens = VocabParallelEmbedding(
            table: tensor(.tokenEmbedding), offset: rank * config.vocabSize / tp, group: group)
        embedPositions = tensor(.positionEmbedding)
        layers = (0..<config.layers).map { layer in
            let q = tensor(.queryProjection(layer: layer)), k = tensor(.keyProjection(layer: layer))
            let v = tensor(.valueProjection(layer: layer)), out = tensor(.attentionOutput(layer: layer))
            let fc1 = tensor(.fc1(layer: layer)), fc2 = tensor(.fc2(layer: layer))
            return DecoderLayer(
                qkv: ColumnParallelLinear(weights: [q, k, v], group: group),
                outProj: RowParallelLinear(weight: out, group: group),
                fc1: ColumnParallelLinear(weights: [fc1], group: group),
                fc2: RowParallelLinear(weight: fc2, group: group),
                parameters: [q, k, v, out, fc1, fc2])
        }
    }

    /// Weighted next-token loss of `batch` (scalar `[1]`, the same on every tensor-parallel
    /// rank), recorded on `tape`. `normalizer` defaults to the batch's weight sum.
    /// `gradientsReady` is called during backward with each group of parameters as soon as
    /// their gradients are final (last block first, embeddings last), for data-parallel
    /// reduction to overlap backward.
    /// With `checkpointBlocks`, each block keeps only its output and recomputes the rest
    /// during backward (activation memory of one block instead of all of them).
    /// `stash` (with checkpointing) decides how each block's input is kept until backward.
    public func loss(
        _ batch: TokenBatch, tape: Tape, normalizer: Float? = nil, checkpointBlocks: Bool = false,
        stash: ActivationStash? = nil, gradientsReady: (([Tensor]) -> Void)? = nil
    ) -> Tensor {
        precondition(batch.seqLen <= config.seqLen, "sequence \(batch.seqLen) longer than seq_len \(config.seqLen)")
        let positions = (0..<batch.count).map { Int32($0 % batch.seqLen) }
        let hidden = hiddenStates(
            batch.inputs, positions: positions, attention: .causal(sequences: batch.microBatch),
            tape: tape, checkpointBlocks: checkpointBlocks, stash: stash,
            gradientsReady: gradientsReady)  // [tokens, d]
        return embedTokens.lmHeadLoss(
            hidden, targets: batch.targets, weights: batch.weights,
            normalizer: normalizer, tape: tape)
    }

    /// How each block's attention runs.
    enum AttentionPath {
        /// Causal self-attention within each of `sequences` equal-length sequences of the
        /// input: training, evaluation, and decoding without a cache.
        case causal(sequences: Int)
        /// Attention over a `KVCache` after what it holds, `counts[s]` new tokens for
        /// sequence s: cached decoding.
        case cached(KVCache, counts: [Int])
    }

    /// The decoder's forward pass up to the final LayerNorm, the one path that training,
    /// evaluation and decoding share: token and position embeddings of `ids`, every block,
    /// then LN. Only attention differs between them (`path`). [tokens, d]
    /// `gradientsReady` is recorded before each group's ops, so backward (which runs the
    /// tape in reverse) calls it once the group's gradients are final.
    func hiddenStates(
        _ ids: [Int32], positions: [Int32], attention path: AttentionPath, tape: Tape,
        checkpointBlocks: Bool = false, stash: ActivationStash? = nil,
        gradientsReady: (([Tensor]) -> Void)? = nil
    ) -> Tensor {
        func markWhenFinal(_ tensors: [Tensor]) {
            if let gradientsReady { tape.record { gradientsReady(tensors) } }
        }
        markWhenFinal([embedTokens.table, embedPositions])
        var x = tape.add(embedTokens(ids, tape: tape), tape.embedding(embedPositions, ids: positions))  // [tokens, d]
        for (index, layer) in layers.enumerated() {
            markWhenFinal(layer.parameters)
            if checkpointBlocks {
                x = tape.checkpoint(x, stash: stash) { inner, input in
                    self.block(input, layer, tape: inner) { q, k, v in
                        self.attend(path, layer: index, q, k, v, tape: inner)
                    }
                }
            } else {
                x = block(x, layer, tape: tape) { q, k, v in self.attend(path, layer: index, q, k, v, tape: tape) }
            }
        }
        return tape.layerNorm(x)
    }

    /// One block's attention along `path`: q, k, v `[tokens, d/tp]` to `[tokens, d/tp]`.
    private func attend(_ path: AttentionPath, layer: Int, _ q: Tensor, _ k: Tensor, _ v: Tensor, tape: Tape) -> Tensor
    {
        switch path {
        case .causal(let sequences): tape.causalSelfAttention(q, k, v, batch: sequences, heads: localHeads)
        case .cached(let cache, let counts):
            cache.attend(layer: layer, q: q, k: k, v: v, counts: counts, heads: localHeads)
        }
    }

    /// `x += out_proj(attn(LN(x)))`, then `x += fc2(act(fc1(LN(x))))`, act being
    /// `model.activation` (GELU unless set). x: [tokens, d].
    /// `attention` maps this rank's q, k, v `[tokens, d/tp]` to `[tokens, d/tp]`: causal
    /// self-attention in training, attention over a `KVCache` in decoding.
    func block(_ x: Tensor, _ layer: DecoderLayer, tape: Tape, attention: (Tensor, Tensor, Tensor) -> Tensor) -> Tensor
    {
        let qkv = layer.qkv(tape.layerNorm(x), tape: tape)  // 3 × [tokens, d/tp]
        let attention = attention(qkv[0], qkv[1], qkv[2])  // [tokens, d/tp]
        let afterAttention = tape.add(x, layer.outProj(attention, tape: tape))
        let fc1 = layer.fc1(tape.layerNorm(afterAttention), tape: tape)[0]  // [tokens, ffn/tp]
        let inner = tape.activation(config.activation, fc1)
        return tape.add(afterAttention, layer.fc2(inner, tape: tape))
    }

    /// Clears every parameter's gradient.
    public func zeroGrad() {
        for parameter in parameters { parameter.tensor.zeroGrad() }
    }
}

extension Tape {
    /// The MLP nonlinearity `kind` applied to x.
    func activation(_ kind: ModelConfig.Activation, _ x: Tensor) -> Tensor {
        switch kind {
        case .gelu: gelu(x)
        case .relu: relu(x)
        }
    }
}
