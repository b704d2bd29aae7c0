import Foundation

/// Token-weighted cross-entropy, plain and fused with the tied LM head, optionally with the
/// vocabulary split over a group of ranks (Megatron's vocab-parallel cross-entropy).
///
/// Loss = Σᵢ wᵢ · (−log softmax(logitsᵢ)[targetᵢ]) / normalizer. The normalizer defaults to
/// Σ wᵢ; distributed callers pass the global weight sum so every layout averages the same
/// way. Targets outside the vocabulary (or weight 0) contribute nothing.
///
/// With a vocabulary group, each rank holds the logits of ids `vocabOffset ..< vocabOffset +
/// shard` and three all-reduces of one float per row (max, sum of exponentials, target
/// logit) give every rank the full softmax normaliser: no rank ever holds a whole row.
extension Tape {
    /// `logits [rows, vocab]`, one target and weight per row → scalar loss `[1]`.
    public func crossEntropy(
        _ logits: Tensor, targets: [Int32], weights: [Float],
        normalizer: Float? = nil
    ) -> Tensor {
        let vocab = logits.lastDimension, rows = logits.rows
        precondition(
            targets.count == rows && weights.count == rows,
            "crossEntropy: \(rows) rows, \(targets.count) targets, \(weights.count) weights")
        let scale = 1 / (normalizer ?? weightSum(weights))
        let loss = Tensor(shape: [1], requiresGrad: tracks(logits))
        // Gradient rows are computed with the loss and kept until backward scales them.
        let gradient = BufferPool.shared.allocate(max(logits.count, 1))
        _ = gradient.update(from: logits.data)  // copies all of logits: gradient holds at least as many
        loss.scalar = Float(
            softmaxCrossEntropyRows(
                gradient.pointer, rows: rows, firstRow: 0, shard: VocabularyShard(size: vocab),
                targets: targets, weights: weights, scale: scale))
        guard loss.requiresGrad else { BufferPool.shared.release(gradient); return loss }
        record {
            defer { BufferPool.shared.release(gradient) }
            logits.gradientDestination().put(gradient.pointer, scaledBy: loss.grad[0], count: logits.count)
        }
        return loss
    }

    /// Logits held at once by the fused LM head: 2²⁶ floats (256 MiB), a quarter of the 1 GiB
    /// of a whole 4096-token sequence at vocabulary 64512. At 2²⁴ (260 rows) the three
    /// head products ran at 235–278 GFLOP/s on the `small` benchmark; at 1040 rows, 288–299.
    public static let lmHeadLogitsPerChunk = 1 << 26

    /// Token rows per LM-head chunk for a vocabulary (shard) of `vocabulary` ids.
    /// Chunks are made equal (4096 tokens in 4 chunks of 1024, not 3 of 1040 and one of 976)
    /// because sgemm runs a short last chunk at a lower rate.
    public static func lmHeadChunkRows(tokens: Int, vocabulary: Int) -> Int {
        let most = max(1, min(tokens, lmHeadLogitsPerChunk / vocabulary))
        let chunks = (tokens + most - 1) / most
        return max(1, (tokens + chunks - 1) / chunks)
    }

    /// Tied LM head fused with the cross-entropy: `logits = hidden · tableᵀ`, computed
    /// `chunkRows` tokens at a time so the `[tokens, vocab]` matrix never exists whole.
    /// The gradients are formed chunk by chunk in the forward pass (saving the recompute).
    /// `hidden`'s is kept and scaled by the upstream gradient in backward. `table`'s goes
    /// straight into `table.grad`, as it is for an upstream gradient of 1 (a loss that
    /// backward starts from). A `[vocab, d]` buffer for it would be 0.25 GiB at 350m. Any other
    /// upstream value makes backward recompute the chunks to correct it.
    /// `hidden [rows, d]`, `table [shard, d]` (ids `vocabOffset ..< vocabOffset + shard` of a
    /// vocabulary split evenly over `vocabGroup`) → scalar loss `[1]`, the same on every rank.
    /// With a group, `hidden`'s gradient is this shard's part: sum it over the group
    /// (Megatron's f before the head does).
    public func lmHeadCrossEntropy(
        _ hidden: Tensor, table: Tensor, targets: [Int32], weights: [Float],
        normalizer: Float? = nil, chunkRows: Int? = nil,
        vocabGroup: ReductionGroup = LocalGroup.shared, vocabOffset: Int = 0
    ) -> Tensor {
        let d = hidden.lastDimension, rows = hidden.rows, vocab = table.shape[0]
        precondition(table.shape == [vocab, d], "lmHead: table \(table.shape) does not match hidden \(hidden.shape)")
        precondition(
            targets.count == rows && weights.count == rows,
            "lmHead: \(rows) rows, \(targets.count) targets, \(weights.count) weights")
        let scale = 1 / (normalizer ?? weightSum(weights))
        let chunkRows =
            chunkRows.map { max(1, min(rows, $0)) } ?? Tape.lmHeadChunkRows(tokens: rows, vocabulary: vocab)
        let shard = VocabularyShard(size: vocab, offset: vocabOffset, group: vocabGroup)
        let loss = Tensor(shape: [1], requiresGrad: tracks(hidden, table))
        // [rows, d]
        let gradHidden = loss.requiresGrad && hidden.requiresGrad ? Tensor(uninitializedShape: hidden.shape) : nil
        let tableGradient = loss.requiresGrad && table.requiresGrad
        /// Runs `body(start, chunk, dlogits [chunk, vocab])` for each chunk of rows, the
        /// logits replaced by their loss gradient; returns the summed loss.
        func forEachChunk(_ body: (_ start: Int, _ chunk: Int, _ gradLogits: UnsafeMutablePointer<Float>) -> Void)
            -> Double
        {
            let logits = BufferPool.shared.allocate(chunkRows * vocab)  // [chunk, vocab]
            defer { BufferPool.shared.release(logits) }
            var total: Double = 0
            var start = 0
            while start < rows {
                let chunk = min(chunkRows, rows - start)
                sgemm(
                    transposeB: true, m: chunk, n: vocab, k: d, a: hidden.pointer + start * d, lda: d,
                    b: table.pointer, ldb: d, c: logits.pointer, ldc: vocab)
                total += softmaxCrossEntropyRows(
                    logits.pointer, rows: chunk, firstRow: start, shard: shard,
                    targets: targets, weights: weights, scale: scale)
                body(start, chunk, logits.pointer)
                start += chunk
            }
            return total
        }
        /// dtable [vocab, d] += alpha · dlogitsᵀ [vocab, chunk] · h_chunk [chunk, d]
        func addTableGradient(_ start: Int, _ chunk: Int, _ gradLogits: UnsafeMutablePointer<Float>, alpha: Float) {
            sgemm(
                transposeA: true, m: vocab, n: d, k: chunk, alpha: alpha, a: gradLogits, lda: vocab,
                b: hidden.pointer + start * d, ldb: d, beta: 1, c: table.gradPointer, ldc: d)
        }
        loss.scalar = Float(
            forEachChunk { start, chunk, gradLogits in
                if let gradHidden {
                    // dh_chunk [chunk, d] = dlogits [chunk, vocab] · table [vocab, d]
                    sgemm(
                        m: chunk, n: d, k: vocab, a: gradLogits, lda: vocab, b: table.pointer, ldb: d,
                        c: gradHidden.pointer + start * d, ldc: d)
                }
                if tableGradient { addTableGradient(start, chunk, gradLogits, alpha: 1) }
            })
        guard loss.requiresGrad else { return loss }
        record {
            let upstream = loss.grad[0]
            if let gradHidden {
                hidden.gradientDestination().put(gradHidden.pointer, scaledBy: upstream, count: gradHidden.count)
            }
            if tableGradient && upstream != 1 {
                _ = forEachChunk { start, chunk, gradLogits in
                    addTableGradient(start, chunk, gradLogits, alpha: upstream - 1)
                }
            }
        }
        return loss
    }
}

/// Σ weights, or 1 when that is zero (an all-padding batch has loss 0, not NaN).
func weightSum(_ weights: [Float]) -> Float {
    let sum = weights.reduce(0, +)
    return sum > 0 ? sum : 1
}

/// The part of the vocabulary whose logits this rank holds: ids `offset ..< offset + size`
/// of `size · group.size`.
struct VocabularyShard {
    var size: Int
    var offset = 0
    var group: ReductionGroup = LocalGroup.shared

    var fullVocabulary: Int { size * group.size }

    /// The local column of `target`, or nil if another rank holds it.
    func column(_ target: Int32) -> Int? {
        let column = Int(target) - offset
        return column >= 0 && column < size ? column : nil
    }
}

/// Replaces each row of `logits [rows, shard.size]` by its loss gradient and returns the
/// summed loss (the same on every rank of the shard's group); row r takes
/// `targets[firstRow + r]` and `weights[firstRow + r] · scale`. Rows split over threads;
/// sums are added in a fixed order, so the result does not depend on timing.
///
/// Each row is taken through max, exponentials and (without a group) the final scaling
/// while it sits in cache: one trip through memory for a `[1024, 64512]` chunk instead of
/// three. With a group, each rank exponentiates against its own shard's maximum and the
/// sums are rescaled to the row's maximum after it is all-reduced, so the only second trip
/// is the scaling.
func softmaxCrossEntropyRows(
    _ logits: UnsafeMutablePointer<Float>, rows: Int, firstRow: Int, shard: VocabularyShard,
    targets: [Int32], weights: [Float], scale: Float
) -> Double {
    let vocab = shard.size, grouped = shard.group.size > 1
    // Per row: max, Σ exp(x − max), target logit; with a group, made the row's by all-reduces.
    let maximum = BufferPool.shared.allocate(max(rows, 1)), sums = BufferPool.shared.allocate(max(rows, 1))
    let targetLogits = BufferPool.shared.allocate(max(rows, 1))
    defer { [maximum, sums, targetLogits].forEach(BufferPool.shared.release) }
    /// Gradient: weight · (softmax − onehot(target)); returns the row's loss, weight · (log Σ − target).
    func finish(_ r: Int, correction: Float) -> Double {
        let row = logits + r * vocab, target = targets[firstRow + r]
        guard weights[firstRow + r] != 0 && target >= 0 && Int(target) < shard.fullVocabulary else {
            row.update(repeating: 0, count: vocab)
            return 0
        }
        let weight = weights[firstRow + r] * scale
        scaleRow(row, vocab, by: weight * correction / sums[r])  // weight · 1 is weight: tp 1 is unchanged
        if let column = shard.column(target) { row[column] -= weight }
        return Double(weight) * Double(maximum[r] + logf(sums[r]) - targetLogits[r])
    }
    var partials = [Double](repeating: 0, count: ParallelLoops.workers)
    partials.withUnsafeMutableBufferPointer { partial in
        ParallelLoops.forEachRange(rows, grain: 1) { part, range in
            var total: Double = 0
            for r in range {
                let row = logits + r * vocab
                maximum[r] = rowMaximum(row, vocab)
                targetLogits[r] = shard.column(targets[firstRow + r]).map { row[$0] } ?? 0
                sums[r] = exponentiateRow(row, vocab, shift: maximum[r])
                if !grouped { total += finish(r, correction: 1) }
            }
            partial[part] = total
        }
    }
    guard grouped else { return partials.reduce(0, +) }
    // e^(shard max − row max), which turns this shard's sum into the row's terms.
    let corrections = BufferPool.shared.allocate(rows)
    defer { BufferPool.shared.release(corrections) }
    corrections.pointer.update(from: maximum.pointer, count: rows)
    shard.group.allReduce(UnsafeMutableBufferPointer(rebasing: maximum[0..<rows]), .max)
    shard.group.allReduce(UnsafeMutableBufferPointer(rebasing: targetLogits[0..<rows]), .sum)
    for r in 0..<rows {
        corrections[r] = expf(corrections[r] - maximum[r])
        sums[r] *= corrections[r]
    }
    shard.group.allReduce(UnsafeMutableBufferPointer(rebasing: sums[0..<rows]), .sum)
    partials.withUnsafeMutableBufferPointer { partial in
        ParallelLoops.forEachRange(rows, grain: 1) { part, range in
            var total: Double = 0
            for r in range { total += finish(r, correction: corrections[r]) }
            partial[part] = total
        }
    }
    return partials.reduce(0, +)
}
