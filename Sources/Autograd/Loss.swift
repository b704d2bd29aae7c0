import Foundation

/// Token-weighted cross-entropy, plain and fused with the tied LM head.
///
/// Loss = Σᵢ wᵢ · (−log softmax(logitsᵢ)[targetᵢ]) / normalizer. The normalizer defaults to
/// Σ wᵢ; distributed callers pass the global weight sum so every layout averages the same
/// way. Targets outside the vocabulary (or weight 0) contribute nothing.
extension Tape {
    /// `logits [rows, vocab]`, one target and weight per row → scalar loss `[1]`.
    public func crossEntropy(_ logits: Tensor, targets: [Int32], weights: [Float],
                             normalizer: Float? = nil) -> Tensor {
        let vocab = logits.lastDimension, rows = logits.rows
        precondition(targets.count == rows && weights.count == rows,
                     "crossEntropy: \(rows) rows, \(targets.count) targets, \(weights.count) weights")
        let scale = 1 / (normalizer ?? weightSum(weights))
        let loss = Tensor(shape: [1], requiresGrad: logits.requiresGrad)
        // Gradient rows are computed with the loss and kept until backward scales them.
        let gradient = BufferPool.shared.allocate(max(logits.count, 1))
        gradient.update(from: logits.data)
        loss.data[0] = Float(softmaxCrossEntropyRows(gradient.pointer, rows: rows, firstRow: 0, vocab: vocab,
                                                     targets: targets, weights: weights, scale: scale))
        guard loss.requiresGrad else { BufferPool.shared.release(gradient); return loss }
        record {
            defer { BufferPool.shared.release(gradient) }
            saxpy(count: logits.count, alpha: loss.grad[0], x: gradient.pointer, y: logits.gradPointer)
        }
        return loss
    }

    /// Tied LM head fused with the cross-entropy: `logits = hidden · tableᵀ`, computed
    /// `chunkRows` tokens at a time so the `[tokens, vocab]` matrix never exists whole.
    /// The gradients are formed chunk by chunk in the forward pass (saving the recompute)
    /// and scaled by the upstream gradient in backward.
    /// `hidden [rows, d]`, `table [vocab, d]` → scalar loss `[1]`.
    public func lmHeadCrossEntropy(_ hidden: Tensor, table: Tensor, targets: [Int32], weights: [Float],
                                   normalizer: Float? = nil, chunkRows: Int? = nil) -> Tensor {
        let d = hidden.lastDimension, rows = hidden.rows, vocab = table.shape[0]
        precondition(table.shape == [vocab, d], "lmHead: table \(table.shape) does not match hidden \(hidden.shape)")
        precondition(targets.count == rows && weights.count == rows,
                     "lmHead: \(rows) rows, \(targets.count) targets, \(weights.count) weights")
        let scale = 1 / (normalizer ?? weightSum(weights))
        // ~128 MiB of logits per chunk: large enough that the dtable update (which streams
        // all of dtable once per chunk) is amortised, small next to the 1 GiB of a whole
        // 4096-token sequence at vocabulary 64512.
        let chunkRows = max(1, min(rows, chunkRows ?? (1 << 25) / vocab))
        let loss = Tensor(shape: [1], requiresGrad: hidden.requiresGrad || table.requiresGrad)
        let logits = BufferPool.shared.allocate(chunkRows * vocab)  // [chunk, vocab]
        defer { BufferPool.shared.release(logits) }
        let gradHidden = hidden.requiresGrad ? Tensor(shape: hidden.shape) : nil  // [rows, d]
        let gradTable = table.requiresGrad ? Tensor(shape: table.shape) : nil     // [vocab, d]
        var total: Double = 0
        var start = 0
        while start < rows {
            let chunk = min(chunkRows, rows - start)
            let h = hidden.pointer + start * d
            sgemm(transposeB: true, m: chunk, n: vocab, k: d, a: h, lda: d, b: table.pointer, ldb: d,
                  c: logits.pointer, ldc: vocab)
            total += softmaxCrossEntropyRows(logits.pointer, rows: chunk, firstRow: start, vocab: vocab,
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
        loss.data[0] = Float(total)
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

/// Replaces each row of `logits [rows, vocab]` by its loss gradient and returns the summed
/// loss; row r takes `targets[firstRow + r]` and `weights[firstRow + r]`. Rows split over
/// threads; partial sums are added in a fixed order, so the result does not depend on timing.
func softmaxCrossEntropyRows(_ logits: UnsafeMutablePointer<Float>, rows: Int, firstRow: Int, vocab: Int,
                             targets: [Int32], weights: [Float], scale: Float) -> Double {
    var partials = [Double](repeating: 0, count: ParallelLoops.workers)
    partials.withUnsafeMutableBufferPointer { partial in
        ParallelLoops.forEachRange(rows, grain: 1) { part, range in
            var sum: Double = 0
            for r in range {
                sum += softmaxCrossEntropyRow(logits + r * vocab, vocab: vocab, target: targets[firstRow + r],
                                              weight: weights[firstRow + r] * scale)
            }
            partial[part] = sum
        }
    }
    return partials.reduce(0, +)
}

/// Replaces `row [vocab]` of logits by `weight · (softmax − onehot(target))` and returns
/// `weight · −log softmax[target]`. A target outside the vocabulary or a zero weight gives a
/// zero row and zero loss.
@inline(__always)
func softmaxCrossEntropyRow(_ row: UnsafeMutablePointer<Float>, vocab: Int, target: Int32, weight: Float) -> Double {
    let t = Int(target)
    guard weight != 0, t >= 0, t < vocab else {
        row.update(repeating: 0, count: vocab)
        return 0
    }
    let maximum = rowMaximum(row, vocab)
    let targetLogit = row[t]
    let sum = exponentiateRow(row, vocab, shift: maximum)
    scaleRow(row, vocab, by: weight / sum)
    row[t] -= weight
    return Double(weight) * Double(maximum + logf(sum) - targetLogit)
}
