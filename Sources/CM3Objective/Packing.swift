import Randomness

/// Where a block stream stands: enough to reproduce every later block exactly (saved in
/// checkpoints). Documents are visited in a permutation fixed by (seed, epoch).
public struct BlockCursor: Equatable, Codable, Sendable {
    public var epoch: Int = 0
    /// Index into the epoch's document order of the next example to pack.
    public var position: Int = 0
    /// Tokens of that (masked) example already packed into earlier blocks.
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
    /// The examples, or parts of examples, the block holds, in order; padding follows.
    public var pieces: [BlockPiece]
    /// The epoch, and the block's index in the whole run.
    public var epoch: Int
    public var index: Int

    public var inputs: ArraySlice<Int32> { tokens.dropLast() }
    public var targets: ArraySlice<Int32> { tokens.dropFirst() }
    /// Trailing `<pad>` tokens.
    public var padding: Int { tokens.count - (pieces.last?.range.upperBound ?? 0) }
}

/// Masks examples with CM3 and packs them into blocks (docs/data-format.md).
///
/// Masking is per example, as CM3 masks per document: the span count is drawn for each
/// example (a lone document, or `r1 r2 r3 query`) from a stream keyed by (seed, epoch,
/// document). Lone documents run on across block boundaries, so every corpus token lands
/// in exactly one block per epoch. A retrieval example starts a block of its own; when it
/// does not fit, retrieved documents are dropped until it does, and a query longer than a
/// block continues across blocks like a lone document. The rest of a block is `<pad>`.
/// Blocks are dealt round-robin to data-parallel ranks by their index in the run: rank r
/// gets blocks r, r + dp, ….
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
    private var current: (epoch: Int, position: Int, example: MaskedExample)?

    public init(
        documentCount: Int, examples: ExampleBuilder, vocabulary: Vocabulary, settings: CM3Settings,
        seqLen: Int, seed: UInt64, dpRank: Int = 0, dp: Int = 1
    ) {
        precondition(
            seqLen + 1 > settings.reserve,
            "seq_len \(seqLen) leaves no room after the masking reserve \(settings.reserve)")
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

    /// Tokens per block: inputs and the one target past them.
    public var blockSize: Int { seqLen + 1 }

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
        var generator = SplitMix64(seed: seed, name: "order/\(epoch)")
        return generator.permutation(of: count)
    }

    /// This rank's next block.
    public func next() -> TrainingBlock {
        let block = packBlock()
        skipToOwnBlock()
        return block
    }

    /// The example for `document` in `epoch`, fitted to a block if it must start one, and
    /// masked.
    public func maskedExample(for document: Int, epoch: Int) -> MaskedExample {
        var example = examples.example(for: document, epoch: epoch)
        var generator = SplitMix64(seed: seed, name: "cm3/\(epoch)/\(document)")
        let spanCount = cm3SpanCount(settings, generator: &generator)
        if examples.startsAtBlockBoundary { example.fit(blockSize - (2 * spanCount + 1)) }
        let masked = cm3Transform(example.tokens, spanCount: spanCount, vocabulary: vocabulary, generator: &generator)
        return MaskedExample(example: example, tokens: masked.tokens, spans: masked.spans)
    }

    /// Packs the block at the cursor and advances past it.
    private func packBlock() -> TrainingBlock {
        let epoch = cursor.epoch, index = cursor.block
        var tokens: [Int32] = [], pieces: [BlockPiece] = []
        tokens.reserveCapacity(blockSize)
        while tokens.count < blockSize && cursor.position < documentCount {
            if examples.startsAtBlockBoundary && cursor.offset == 0 && !tokens.isEmpty { break }
            let masked = exampleAtCursor()
            let take = min(blockSize - tokens.count, masked.tokens.count - cursor.offset)
            pieces.append(
                BlockPiece(
                    query: masked.example.query, retrieved: masked.example.retrieved, task: masked.example.task,
                    spanCount: masked.spans.count,
                    range: tokens.count..<(tokens.count + take), offset: cursor.offset, length: masked.tokens.count))
            tokens += masked.tokens[cursor.offset..<(cursor.offset + take)]
            cursor.offset += take
            if cursor.offset == masked.tokens.count {
                cursor.position += 1
                cursor.offset = 0
            }
        }
        cursor.block += 1
        if cursor.position == documentCount {  // epoch done: the next block starts a new one
            cursor = BlockCursor(epoch: epoch + 1, block: cursor.block)
            order = BlockStream.documentOrder(count: documentCount, seed: seed, epoch: epoch + 1)
        }
        tokens += [Int32](repeating: vocabulary.pad, count: blockSize - tokens.count)
        let weights = cm3LossWeights(targets: tokens.dropFirst(), vocabulary: vocabulary, settings: settings)
        return TrainingBlock(tokens: tokens, weights: weights, pieces: pieces, epoch: epoch, index: index)
    }

    /// Skips the blocks that belong to other data-parallel ranks.
    private func skipToOwnBlock() {
        while cursor.block % dp != dpRank { _ = packBlock() }
    }

    private func exampleAtCursor() -> MaskedExample {
        if let current, current.epoch == cursor.epoch, current.position == cursor.position { return current.example }
        let masked = maskedExample(for: order[cursor.position], epoch: cursor.epoch)
        current = (cursor.epoch, cursor.position, masked)
        return masked
    }
}
