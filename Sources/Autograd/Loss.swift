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
    public func crossEntropy(_ logits: Tensor, targets: [Int32], weights: [Float],
                             normalizer: Float? = nil) -> Tensor {
        let vocab = logits.lastDimension, rows = logits.rows
        precondition(targets.count == rows && weights.count == rows,
                     "crossEntropy: \(rows) rows, \(targets.count) targets, \(weights.count) weights")
        let scale = 1 / (normalizer ?? weightSum(weights))
        let loss = Tensor(shape: [1], requiresGrad: tracks(logits))
        // Gradient rows are computed with the loss and kept until backward scales them.
        let gradient = BufferPool.shared.allocate(max(logits.count, 1))
        _ = gradient.update(from: logits.data)  // copies all of logits: gradient holds at least as many
        loss.scalar = Float(softmaxCrossEntropyRows(gradient.pointer, rows: rows, firstRow: 0, shard: VocabularyShard(size: vocab),
                                                     targets: targets, weights: weights, scale: scale))
        guard loss.requiresGrad else { BufferPool.shared.release(gradient); return loss }
        record {
            defer { BufferPool.shared.release(gradient) }
            saxpy(count: logits.count, alpha: loss.grad[0], x: gradient.pointer, y: logits.gradPointer)
        }
        return loss
    }

    /// Logits held at once by the fused LM head: 2²⁴ floats (64 MiB), large enough that the
    /// dtable update (which streams all of dtable once per chunk) is amortised, small next
    /// to the 1 GiB of a whole 4096-token sequence at vocabulary 64512.
    public static let lmHeadLogitsPerChunk = 1 << 24

    /// Token rows per LM-head chunk for a vocabulary (shard) of `vocabulary` ids.
    public static func lmHeadChunkRows(tokens: Int, vocabulary: Int) -> Int {
        max(1, min(tokens, lmHeadLogitsPerChunk / vocabulary))
    }

    /// Tied LM head fused with the cross-entropy: `logits = hidden · tableᵀ`, computed
    /// `chunkRows` tokens at a time so the `[tokens, vocab]` matrix never exists whole.
    /// The gradients are formed chunk by chunk in the forward pass (saving the recompute)
    /// and scaled by the upstream gradient in backward.
    /// `hidden [rows, d]`, `table [shard, d]` (ids `vocabOffset ..< vocabOffset + shard` of a
    /// vocabulary split evenly over `vocabGroup`) → scalar loss `[1]`, the same on every rank.
    /// With a group, `hidden`'s gradient is this shard's part: sum it over the group
    /// (Megatron's f before the head does).
    public func lmHeadCrossEntropy(_ hidden: Tensor, table: Tensor, targets: [Int32], weights: [Float],
                                   normalizer: Float? = nil, chunkRows: Int? = nil,
                                   vocabGroup: ReductionGroup = LocalGroup.shared, vocabOffset: Int = 0) -> Tensor {
        let d = hidden.lastDimension, rows = hidden.rows, vocab = table.shape[0]
        precondition(table.shape == [vocab, d], "lmHead: table \(table.shape) does not match hidden \(hidden.shape)")
        precondition(targets.count == rows && weights.count == rows,
                     "lmHead: \(rows) rows, \(targets.count) targets, \(weights.count) weights")
        let scale = 1 / (normalizer ?? weightSum(weights))
        let chunkRows = chunkRows.map { max(1, min(rows, $0)) } ?? Tape.lmHeadChunkRows(tokens: rows, vocabulary: vocab)
        let loss = Tensor(shape: [1], requiresGrad: tracks(hidden, table))
        let logits = BufferPool.shared.allocate(chunkRows * vocab)  // [chunk, vocab]
        defer { BufferPool.shared.release(logits) }
        let gradHidden = loss.requiresGrad && hidden.requiresGrad ? Tensor(shape: hidden.shape) : nil  // [rows, d]
        let gradTable = loss.requiresGrad && table.requiresGrad ? Tensor(shape: table.shape) : nil     // [vocab, d]
        var total: Double = 0
        var start = 0
        while start < rows {
            let chunk = min(chunkRows, rows - start)
            let h = hidden.pointer + start * d
            sgemm(transposeB: true, m: chunk, n: vocab, k: d, a: h, lda: d, b: table.pointer, ldb: d,
                  c: logits.pointer, ldc: vocab)
            total += softmaxCrossEntropyRows(logits.pointer, rows: chunk, firstRow: start,
                                             shard: VocabularyShard(size: vocab, offset: vocabOffset, group: vocabGroup),
                                             targets: targets, weights: weights, scale: scale)
            if let gradHidden {
                // dh_chunk [chunk, d] = dlogits [chunk, vocab] · table [vocab, d]
                sgemm(m: chunk, n: d, k: vocab, a: logits.pointer, lda: vocab, b: table.pointer, ldb: d,
                      c: gradHidden.pointer + start * d, ldc: d)
            }
            if let gradTable {
                // dtable [vocab, d] += dlogitsᵀ [vocab, chunk] · h_chunk [chunk, d]
                sgemm(transposeA: true, m: vocab, n: d, k: chunk, a: logits.pointer, lda: vocab,
                      b: h, ldb: d, beta: 1, c: gradTable.pointer, ldc: d)
            }
            start += chunk
        }
        loss.scalar = Float(total)
        guard loss.requiresGrad else { return loss }
        record {
            let upstream = loss.grad[0]
            if let gradHidden { saxpy(count: gradHidden.count, alpha: upstream, x: gradHidden.pointer, y: hidden.gradPointer) }
            if let gradTable { saxpy(count: gradTable.count, alpha: upstream, x: gradTable.pointer, y: table.gradPointer) }
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
func softmaxCrossEntropyRows(_ logits: UnsafeMutablePointer<Float>, rows: Int, firstRow: Int, shard: VocabularyShard,
                             targets: [Int32], weights: [Float], scale: Float) -> Double {
    let vocab = shard.size
    // Per row: [max, Σ exp, target logit], reduced across the group between the passes.
    let maximum = BufferPool.shared.allocate(max(rows, 1)), sums = BufferPool.shared.allocate(max(rows, 1))
    let targetLogits = BufferPool.shared.allocate(max(rows, 1))
    defer { [maximum, sums, targetLogits].forEach(BufferPool.shared.release) }
    func counted(_ r: Int) -> Bool {
        let target = Int(targets[firstRow + r])
        return weights[firstRow + r] != 0 && target >= 0 && target < shard.fullVocabulary
    }
    ParallelLoops.forEachRange(rows, grain: 1) { _, range in
        for r in range {
            maximum[r] = rowMaximum(logits + r * vocab, vocab)
            targetLogits[r] = shard.column(targets[firstRow + r]).map { logits[r * vocab + $0] } ?? 0
        }
    }
    shard.group.allReduce(UnsafeMutableBufferPointer(rebasing: maximum[0..<rows]), .max)
    shard.group.allReduce(UnsafeMutableBufferPointer(rebasing: targetLogits[0..<rows]), .sum)
    ParallelLoops.forEachRange(rows, grain: 1) { _, range in
        for r in range { sums[r] = exponentiateRow(logits + r * vocab, vocab, shift: maximum[r]) }
    }
    shard.group.allReduce(UnsafeMutableBufferPointer(rebasing: sums[0..<rows]), .sum)
    var partials = [Double](repeating: 0, count: ParallelLoops.workers)
    partials.withUnsafeMutableBufferPointer { partial in
        ParallelLoops.forEachRange(rows, grain: 1) { part, range in
            var total: Double = 0
            for r in range {
                let row = logits + r * vocab
                guard counted(r) else { row.update(repeating: 0, count: vocab); continue }
                // Gradient: weight · (softmax − onehot(target)); loss: weight · (log Σ − target).
                let weight = weights[firstRow + r] * scale
                scaleRow(row, vocab, by: weight / sums[r])
                if let column = shard.column(targets[firstRow + r]) { row[column] -= weight }
                total += Double(weight) * Double(maximum[r] + logf(sums[r]) - targetLogits[r])
            }
            partial[part] = total
        }
    }
    return partials.reduce(0, +)
}
