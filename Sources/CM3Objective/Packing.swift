import Randomness

/// Where a block stream stands: enough to reproduce every later block exactly (saved in
/// checkpoints). Documents are visited in a permutation fixed by (seed, epoch).
public struct BlockCursor: Equatable, Codable, Sendable {
    public var epoch: Int = 0
    /// Index into the epoch's document order of the next example to pack.
    public var position: Int = 0
    /// Tokens of that example already packed into earlier blocks.
    public var offset: Int = 0
    /// Blocks produced so far in the whole run, across all data-parallel ranks and epochs.
    /// Ranks are dealt blocks by this counter, so a step's blocks are the same consecutive
    /// run of the stream whatever the dp size.
    public var block: Int = 0

    public init(epoch: Int = 0, position: Int = 0, offset: Int = 0, block: Int = 0) {
        self.epoch = epoch; self.position = position; self.offset = offset; self.block = block
    }
}

/// One training block: `seqLen + 1` tokens after masking and padding, as inputs, targets
/// and loss weights of `seqLen` each.
public struct TrainingBlock: Equatable, Sendable {
    public var tokens: [Int32]
    public var weights: [Float]
    /// The corpus tokens the block was made from, before masking.
    public var raw: [Int32]
    /// Masked spans (ranges of `raw`).
    public var spans: [Range<Int>]
    /// The epoch, and the block's index in the whole run.
    public var epoch: Int
    public var index: Int

    public var inputs: ArraySlice<Int32> { tokens.dropLast() }
    public var targets: ArraySlice<Int32> { tokens.dropFirst() }
}

/// Builds the example for one query document: the document alone, or retrieved documents
/// prepended (`r1 r2 r3 query`, paper fig. 9). Deterministic in (epoch, document).
public protocol ExampleBuilder {
    func example(for document: Int, epoch: Int) -> [Int32]
}

/// Examples without retrieval: each document as it is.
public struct PlainExamples: ExampleBuilder {
    public let documents: DocumentSource
    public init(documents: DocumentSource) { self.documents = documents }
    public func example(for document: Int, epoch: Int) -> [Int32] { Array(documents.document(document)) }
}

/// Streams examples into blocks and masks each block with CM3 (docs/data-format.md).
///
/// Each block takes `seqLen + 1 − reserve` corpus tokens, where `reserve = 2·maxSpans + 1`
/// is what masking can add, so masking never forces a cut; examples run on across block
/// boundaries, so every corpus token lands in exactly one block per epoch (the last block
/// of an epoch is padded). Blocks are dealt round-robin to data-parallel ranks by their
/// index in the run: rank r gets blocks r, r + dp, …. Masking draws from a stream keyed by
/// (seed, block), so any block can be rebuilt from the cursor alone.
public final class BlockStream {
    public let documentCount: Int
    public let examples: ExampleBuilder
    public let vocabulary: Vocabulary
    public let settings: CM3Settings
    public let seqLen: Int
    public let seed: UInt64
    public let dpRank: Int
    public let dp: Int
    /// Where this rank's next block starts.
    public private(set) var cursor = BlockCursor()
    private var order: [Int] = []
    private var current: (position: Int, tokens: [Int32])?

    public init(documentCount: Int, examples: ExampleBuilder, vocabulary: Vocabulary, settings: CM3Settings,
                seqLen: Int, seed: UInt64, dpRank: Int = 0, dp: Int = 1) {
        precondition(seqLen + 1 > settings.reserve, "seq_len \(seqLen) leaves no room after the masking reserve \(settings.reserve)")
        precondition(documentCount > 0, "an empty corpus has no blocks")
        self.documentCount = documentCount
        self.examples = examples
        self.vocabulary = vocabulary
        self.settings = settings
        self.seqLen = seqLen
        self.seed = seed
        self.dpRank = dpRank
        self.dp = dp
        restore(BlockCursor())
    }

    /// Corpus tokens per block before masking.
    public var capacity: Int { seqLen + 1 - settings.reserve }

    /// Continues from a saved cursor (which must come from a stream with the same settings
    /// and the same dp rank).
    public func restore(_ saved: BlockCursor) {
        cursor = saved
        order = BlockStream.documentOrder(count: documentCount, seed: seed, epoch: saved.epoch)
        current = nil
        skipToOwnBlock()
    }

    /// The permutation of documents for `epoch` (Fisher–Yates keyed by seed and epoch).
    public static func documentOrder(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var order = Array(0..<count)
        var generator = SplitMix64(seed: seed, name: "order/\(epoch)")
        for i in stride(from: count - 1, to: 0, by: -1) { order.swapAt(i, generator.nextInt(below: i + 1)) }
        return order
    }

    /// This rank's next block.
    public func next() -> TrainingBlock {
        let (raw, epoch, index) = packBlock()
        skipToOwnBlock()
        var generator = SplitMix64(seed: seed, name: "cm3/\(index)")
        let example = cm3Transform(raw, vocabulary: vocabulary, settings: settings, generator: &generator)
        var tokens = example.tokens
        tokens += [Int32](repeating: vocabulary.pad, count: seqLen + 1 - tokens.count)
        let weights = cm3LossWeights(targets: tokens.dropFirst(), vocabulary: vocabulary, settings: settings)
        return TrainingBlock(tokens: tokens, weights: weights, raw: raw, spans: example.spans, epoch: epoch, index: index)
    }

    /// Packs the block at the cursor and advances past it.
    private func packBlock() -> (raw: [Int32], epoch: Int, index: Int) {
        let epoch = cursor.epoch, index = cursor.block
        var raw: [Int32] = []
        raw.reserveCapacity(capacity)
        while raw.count < capacity && cursor.position < documentCount {
            let tokens = exampleAtCursor()
            let take = min(capacity - raw.count, tokens.count - cursor.offset)
            raw += tokens[cursor.offset..<(cursor.offset + take)]
            cursor.offset += take
            if cursor.offset == tokens.count {
                cursor.position += 1
                cursor.offset = 0
            }
        }
        cursor.block += 1
        if cursor.position == documentCount {  // epoch done: the next block starts a new one
            cursor = BlockCursor(epoch: epoch + 1, block: cursor.block)
            order = BlockStream.documentOrder(count: documentCount, seed: seed, epoch: epoch + 1)
        }
        return (raw, epoch, index)
    }

    /// Skips the blocks that belong to other data-parallel ranks.
    private func skipToOwnBlock() {
        while cursor.block % dp != dpRank { _ = packBlock() }
    }

    private func exampleAtCursor() -> [Int32] {
        if let current, current.position == cursor.position { return current.tokens }
        let tokens = examples.example(for: order[cursor.position], epoch: cursor.epoch)
        current = (cursor.position, tokens)
        return tokens
    }
}
