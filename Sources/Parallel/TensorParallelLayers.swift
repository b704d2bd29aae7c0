import Autograd

/// Column-parallel projections that share one input (Megatron's `ColumnParallelLinear`;
/// q, k, v share one, fc1 has its own). Each weight is this rank's rows `[out/tp, in]` of
/// the full `[out, in]`, so each output is this rank's columns `[tokens, out/tp]`: whole
/// attention heads, or a slice of the MLP. f runs once on the shared input, so backward
/// makes one all-reduce however many projections there are.
public struct ColumnParallelLinear {
    public let weights: [Tensor]
    public let group: ReductionGroup

    public init(weights: [Tensor], group: ReductionGroup) {
        self.weights = weights
        self.group = group
    }

    /// `x [tokens, in]` (the same on every rank) → one `[tokens, out/tp]` per weight.
    public func callAsFunction(_ x: Tensor, tape: Tape) -> [Tensor] {
        let input = tape.copyToTensorParallel(x, group: group)
        return weights.map { tape.linear(input, $0) }
    }
}

/// Row-parallel projection (Megatron's `RowParallelLinear` with `input_is_parallel`): the
/// weight is this rank's columns `[out, in/tp]`, the input this rank's `[tokens, in/tp]`
/// from a column-parallel layer; the partial products are summed by g.
public struct RowParallelLinear {
    public let weight: Tensor
    public let group: ReductionGroup

    public init(weight: Tensor, group: ReductionGroup) {
        self.weight = weight
        self.group = group
    }

    /// `x [tokens, in/tp]` → `[tokens, out]`, the same on every rank.
    public func callAsFunction(_ x: Tensor, tape: Tape) -> Tensor {
        tape.reduceFromTensorParallel(tape.linear(x, weight), group: group)
    }
}

/// Vocab-parallel token embedding (Megatron's `VocabParallelEmbedding`): the table is this
/// rank's rows `[V/tp, d]`, ids `offset ..< offset + V/tp`; ids another rank owns give zero
/// rows, and g sums the shards' rows into the full embedding on every rank. The same shard
/// is the tied LM head (`lmHeadLoss`).
public struct VocabParallelEmbedding {
    public let table: Tensor
    public let offset: Int
    public let group: ReductionGroup

    public init(table: Tensor, offset: Int, group: ReductionGroup) {
        self.table = table
        self.offset = offset
        self.group = group
    }

    /// `ids [tokens]` → `[tokens, d]`, the same on every rank.
    public func callAsFunction(_ ids: [Int32], tape: Tape) -> Tensor {
        tape.reduceFromTensorParallel(tape.embedding(table, ids: ids, idOffset: offset), group: group)
    }

    /// The tied LM head fused with the vocab-parallel cross-entropy: f on `hidden`, then
    /// this shard's logits; the max, target-logit and sum-exp all-reduces give every rank
    /// the loss without any rank holding a full vocabulary row.
    public func lmHeadLoss(_ hidden: Tensor, targets: [Int32], weights: [Float], normalizer: Float?, tape: Tape)
        -> Tensor
    {
        tape.lmHeadCrossEntropy(
            tape.copyToTensorParallel(hidden, group: group), table: table,
            targets: targets, weights: weights, normalizer: normalizer,
            vocabGroup: group, vocabOffset: offset)
    }
}
