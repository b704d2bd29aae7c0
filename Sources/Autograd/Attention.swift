import Foundation

/// Fused causal multi-head self-attention with memory linear in sequence length.
///
/// Forward keeps only the output and one log-sum-exp per query row; backward recomputes the
/// scores one block of query rows at a time (as flash attention does), so no `[seq, seq]`
/// matrix per head ever outlives a block. Every product goes to `cblas_sgemm` on views of
/// the `[tokens, heads·headDim]` projections: a head is a column slice with row stride
/// `width`, so nothing is transposed or copied.
extension Tape {
    /// `q, k, v [batch·seq, heads·headDim]` → `[batch·seq, heads·headDim]`, head `h` in
    /// columns `h·headDim ..< (h+1)·headDim`. `blockSize` query rows are scored at once.
    public func causalSelfAttention(
        _ q: Tensor, _ k: Tensor, _ v: Tensor, batch: Int, heads: Int, blockSize: Int = 128
    ) -> Tensor {
        precondition(q.shape == k.shape && k.shape == v.shape, "attention: q, k, v shapes differ")
        let width = q.lastDimension
        precondition(width % heads == 0, "attention: width \(width) not divisible by \(heads) heads")
        precondition(q.rows % batch == 0, "attention: \(q.rows) rows not divisible by batch \(batch)")
        let seq = q.rows / batch, headDim = width / heads
        let geometry = AttentionGeometry(seq: seq, width: width, headDim: headDim, blockSize: blockSize)
        let output = Tensor(uninitializedShape: q.shape, requiresGrad: tracks(q, k, v))  // every block writes its rows
        // [batch, heads, seq]: log Σ exp(scores) of each query row, all backward needs.
        let logSumExp = BufferPool.shared.allocate(max(batch * heads * seq, 1))
        // Heads run in parallel, one BLAS thread each; every worker has its own scratch.
        StepProfile.measure(.attention) {
            ParallelLoops.forEachWorker { worker, workers in
                let scores = BufferPool.shared.allocate(blockSize * seq)  // [block, keys]
                defer { BufferPool.shared.release(scores) }
                for pair in stride(from: worker, to: batch * heads, by: workers) {
                    let offset = (pair / heads) * seq * width + (pair % heads) * headDim
                    geometry.forward(
                        q: q.pointer + offset, k: k.pointer + offset, v: v.pointer + offset,
                        out: output.pointer + offset, logSumExp: logSumExp.pointer + pair * seq,
                        probabilities: scores.pointer)
                }
            }
        }
        guard output.requiresGrad else { BufferPool.shared.release(logSumExp); return output }
        record {
            defer { BufferPool.shared.release(logSumExp) }
            // Every query row of every head gets exactly one dQ product, so a fresh dQ buffer
            // is written (beta 0) rather than zero-filled; dK and dV add up over blocks.
            let destinationQ = q.requiresGrad ? q.gradientDestination() : nil
            let gradQ = destinationQ?.pointer, betaQ = destinationQ?.beta ?? 1
            let gradK = k.requiresGrad ? k.gradPointer : nil
            let gradV = v.requiresGrad ? v.gradPointer : nil
            let gradOut = output.gradPointer
            StepProfile.measure(.attention) {
                ParallelLoops.forEachWorker { worker, workers in
                    let probabilities = BufferPool.shared.allocate(blockSize * seq)
                    let gradScores = BufferPool.shared.allocate(blockSize * seq)
                    defer { BufferPool.shared.release(probabilities); BufferPool.shared.release(gradScores) }
                    for pair in stride(from: worker, to: batch * heads, by: workers) {
                        let offset = (pair / heads) * seq * width + (pair % heads) * headDim
                        geometry.backward(
                            q: q.pointer + offset, k: k.pointer + offset, v: v.pointer + offset,
                            out: output.pointer + offset, gradOut: gradOut + offset,
                            gradQ: gradQ.map { $0 + offset }, gradK: gradK.map { $0 + offset },
                            gradV: gradV.map { $0 + offset }, betaQ: betaQ, logSumExp: logSumExp.pointer + pair * seq,
                            probabilities: probabilities.pointer, gradScores: gradScores.pointer)
                    }
                }
            }
        }
        return output
    }
}

/// One head of one sequence: pointers are to the head's first column, rows `width` apart.
private struct AttentionGeometry {
    let seq: Int, width: Int, headDim: Int, blockSize: Int
    var scale: Float { 1 / Float(headDim).squareRoot() }

    /// Query rows `start ..< start + rows` see keys `0 ..< start + rows` (causal); blocks walk
    /// the sequence so the last one may be short.
    func forEachBlock(_ body: (_ start: Int, _ rows: Int) -> Void) {
        var start = 0
        while start < seq {
            let rows = min(blockSize, seq - start)
            body(start, rows)
            start += rows
        }
    }

    /// `S [rows, keys] = scale · Q_block Kᵀ` into `p`: the block's scores, before the softmax.
    func scores(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, start: Int, rows: Int,
        into p: UnsafeMutablePointer<Float>
    ) {
        sgemm(
            transposeB: true, m: rows, n: start + rows, k: headDim, alpha: scale,
            a: q + start * width, lda: width, b: k, ldb: width, c: p, ldc: start + rows)
    }

    func forward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafeMutablePointer<Float>, logSumExp: UnsafeMutablePointer<Float>,
        probabilities p: UnsafeMutablePointer<Float>
    ) {
        forEachBlock { start, rows in
            let keys = start + rows
            scores(q: q, k: k, start: start, rows: rows, into: p)
            for r in 0..<rows {
                // P = softmax(S) with the causal mask; row r sees keys 0 ... start + r.
                let row = p + r * keys, visible = start + r + 1
                let maximum = rowMaximum(row, visible)
                let sum = exponentiateRow(row, visible, shift: maximum)
                scaleRow(row, visible, by: 1 / sum)
                logSumExp[start + r] = maximum + logf(sum)
                for j in visible..<keys { row[j] = 0 }
            }
            // O_block [rows, headDim] = P [rows, keys] · V [keys, headDim]
            sgemm(
                m: rows, n: headDim, k: keys, a: p, lda: keys, b: v, ldb: width,
                c: out + start * width, ldc: width)
        }
    }

    func backward(
        q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
        out: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
        gradQ: UnsafeMutablePointer<Float>?, gradK: UnsafeMutablePointer<Float>?,
        gradV: UnsafeMutablePointer<Float>?, betaQ: Float, logSumExp: UnsafeMutablePointer<Float>,
        probabilities p: UnsafeMutablePointer<Float>, gradScores ds: UnsafeMutablePointer<Float>
    ) {
        let needScores = gradQ != nil || gradK != nil
        forEachBlock { start, rows in
            let keys = start + rows
            let dOut = gradOut + start * width
            scores(q: q, k: k, start: start, rows: rows, into: p)
            if needScores {
                // dP [rows, keys] = dO_block · Vᵀ
                sgemm(
                    transposeB: true, m: rows, n: keys, k: headDim, a: dOut, lda: width,
                    b: v, ldb: width, c: ds, ldc: keys)
            }
            for r in 0..<rows {
                // P = e^(S − logSumExp) from the forward's row statistics; with dP at hand the
                // same pass also forms dS = P ⊙ (dP − rowsum(dO ⊙ O)). Masked entries are 0.
                let pRow = p + r * keys, visible = start + r + 1, shift = logSumExp[start + r]
                if needScores {
                    let o = out + (start + r) * width, g = dOut + r * width
                    var delta: Float = 0
                    for j in 0..<headDim { delta += o[j] * g[j] }
                    let dsRow = ds + r * keys
                    softmaxGradientRow(pRow, dsRow, visible, shift: shift, delta: delta)
                    for j in visible..<keys { dsRow[j] = 0 }
                } else {
                    _ = exponentiateRow(pRow, visible, shift: shift)
                }
                for j in visible..<keys { pRow[j] = 0 }
            }
            if let gradV {
                // dV [keys, headDim] += Pᵀ [keys, rows] · dO_block [rows, headDim]
                sgemm(
                    transposeA: true, m: keys, n: headDim, k: rows, a: p, lda: keys,
                    b: dOut, ldb: width, beta: 1, c: gradV, ldc: width)
            }
            if let gradQ {
                // dQ_block [rows, headDim] (+)= scale · dS [rows, keys] · K [keys, headDim]
                sgemm(
                    m: rows, n: headDim, k: keys, alpha: scale, a: ds, lda: keys,
                    b: k, ldb: width, beta: betaQ, c: gradQ + start * width, ldc: width)
            }
            if let gradK {
                // dK [keys, headDim] += scale · dSᵀ [keys, rows] · Q_block [rows, headDim]
                sgemm(
                    transposeA: true, m: keys, n: headDim, k: rows, alpha: scale, a: ds, lda: keys,
                    b: q + start * width, ldb: width, beta: 1, c: gradK, ldc: width)
            }
        }
    }
}
