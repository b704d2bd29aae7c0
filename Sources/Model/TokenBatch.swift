import Autograd
import Randomness

/// One micro-batch as the model consumes it: `[microBatch, seqLen]` flattened row-major.
public struct TokenBatch: Equatable, Sendable {
    public var microBatch: Int
    public var seqLen: Int
    /// Input ids.
    public var inputs: [Int32]
    /// Next-token targets (the inputs shifted by one).
    public var targets: [Int32]
    /// Loss weight of each target (0 for padding and `<mask>` placeholders).
    public var weights: [Float]

    public init(microBatch: Int, seqLen: Int, inputs: [Int32], targets: [Int32], weights: [Float]) {
        precondition(
            inputs.count == microBatch * seqLen && targets.count == inputs.count && weights.count == inputs.count,
            "batch arrays must hold microBatch·seqLen entries")
        self.microBatch = microBatch; self.seqLen = seqLen
        self.inputs = inputs; self.targets = targets; self.weights = weights
    }

    /// Tokens in the batch.
    public var count: Int { microBatch * seqLen }

    /// Builds inputs and targets from blocks of `seqLen + 1` tokens, all weights 1.
    public init(blocks: [[Int32]]) {
        let seqLen = blocks[0].count - 1
        self.init(
            microBatch: blocks.count, seqLen: seqLen,
            inputs: blocks.flatMap { $0.dropLast() }, targets: blocks.flatMap { $0.dropFirst() },
            weights: [Float](repeating: 1, count: blocks.count * seqLen))
    }
}

/// Synthetic sequences with something to learn: each is a random motif of 4–16 tokens
/// repeated to the end, so after the first repetition every next token is predictable by
/// copying (an induction head). Sequence i depends only on (seed, i), so data-parallel
/// ranks can each build their part of a global batch.
public struct SyntheticTokens: Sendable {
    public let vocabSize: Int
    public let seqLen: Int
    public let seed: UInt64

    public init(vocabSize: Int, seqLen: Int, seed: UInt64) {
        self.vocabSize = vocabSize; self.seqLen = seqLen; self.seed = seed
    }

    /// Sequence `index` as `seqLen + 1` tokens.
    public func sequence(_ index: Int) -> [Int32] {
        var generator = SplitMix64(seed: seed, name: "synthetic/\(index)")
        let motifLength = 4 + Int(generator.next() % 13)
        let motif = (0..<motifLength).map { _ in Int32(generator.next() % UInt64(vocabSize)) }
        return (0...seqLen).map { motif[$0 % motifLength] }
    }

    /// The batch of sequences `range`.
    public func batch(_ range: Range<Int>) -> TokenBatch {
        TokenBatch(blocks: range.map(sequence))
    }

    /// The `index`-th batch of `microBatch` consecutive sequences.
    public func batch(_ index: Int, microBatch: Int) -> TokenBatch {
        batch(index * microBatch..<(index + 1) * microBatch)
    }
}
