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
        StepProfile.measure(.attention) { ParallelLoops.forEachWorker { worker, workers in
            let scores = BufferPool.shared.allocate(blockSize * seq)  // [block, keys]
            defer { BufferPool.shared.release(scores) }
            for pair in stride(from: worker, to: batch * heads, by: workers) {
                let offset = (pair / heads) * seq * width + (pair % heads) * headDim
                geometry.forward(q: q.pointer + offset, k: k.pointer + offset, v: v.pointer + offset,
                                 out: output.pointer + offset, logSumExp: logSumExp.pointer + pair * seq,
                                 scores: scores.pointer)
            }
        } }
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
            StepProfile.measure(.attention) { ParallelLoops.forEachWorker { worker, workers in
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
            } }
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

    /// `P [rows, keys] = softmax(scale · Q_block Kᵀ)` with the causal mask, into `p`.
    /// When `logSumExp` rows are known (backward) they are used; otherwise they are stored.
    func probabilities(q: UnsafePointer<Float>, k: UnsafePointer<Float>, start: Int, rows: Int,
                       logSumExp: UnsafeMutablePointer<Float>, known: Bool, p: UnsafeMutablePointer<Float>) {
        let keys = start + rows
        sgemm(transposeB: true, m: rows, n: keys, k: headDim, alpha: scale,
              a: q + start * width, lda: width, b: k, ldb: width, c: p, ldc: keys)
        for r in 0..<rows {
            let row = p + r * keys, visible = start + r + 1
            if known {
                _ = exponentiateRow(row, visible, shift: logSumExp[start + r])
            } else {
                let maximum = rowMaximum(row, visible)
                let sum = exponentiateRow(row, visible, shift: maximum)
                scaleRow(row, visible, by: 1 / sum)
                logSumExp[start + r] = maximum + logf(sum)
            }
            for j in visible..<keys { row[j] = 0 }
        }
    }

    func forward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                 out: UnsafeMutablePointer<Float>, logSumExp: UnsafeMutablePointer<Float>,
                 scores: UnsafeMutablePointer<Float>) {
        forEachBlock { start, rows in
            let keys = start + rows
            probabilities(q: q, k: k, start: start, rows: rows, logSumExp: logSumExp, known: false, p: scores)
            // O_block [rows, headDim] = P [rows, keys] · V [keys, headDim]
            sgemm(m: rows, n: headDim, k: keys, a: scores, lda: keys, b: v, ldb: width,
                  c: out + start * width, ldc: width)
        }
    }

    func backward(q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                  out: UnsafePointer<Float>, gradOut: UnsafePointer<Float>,
                  gradQ: UnsafeMutablePointer<Float>?, gradK: UnsafeMutablePointer<Float>?,
                  gradV: UnsafeMutablePointer<Float>?, betaQ: Float, logSumExp: UnsafeMutablePointer<Float>,
                  probabilities p: UnsafeMutablePointer<Float>, gradScores ds: UnsafeMutablePointer<Float>) {
        forEachBlock { start, rows in
            let keys = start + rows
            probabilities(q: q, k: k, start: start, rows: rows, logSumExp: logSumExp, known: true, p: p)
            let dOut = gradOut + start * width
            if let gradV {
                // dV [keys, headDim] += Pᵀ [keys, rows] · dO_block [rows, headDim]
                sgemm(transposeA: true, m: keys, n: headDim, k: rows, a: p, lda: keys,
                      b: dOut, ldb: width, beta: 1, c: gradV, ldc: width)
            }
            guard gradQ != nil || gradK != nil else { return }
            // dP [rows, keys] = dO_block · Vᵀ
            sgemm(transposeB: true, m: rows, n: keys, k: headDim, a: dOut, lda: width,
                  b: v, ldb: width, c: ds, ldc: keys)
            for r in 0..<rows {
                // dS = P ⊙ (dP − rowsum(dO ⊙ O)); masked entries have P = 0.
                let o = out + (start + r) * width, g = dOut + r * width
                var delta: Float = 0
                for j in 0..<headDim { delta += o[j] * g[j] }
                let pRow = p + r * keys, dsRow = ds + r * keys
                for j in 0..<keys { dsRow[j] = pRow[j] * (dsRow[j] - delta) }
            }
            if let gradQ {
                // dQ_block [rows, headDim] (+)= scale · dS [rows, keys] · K [keys, headDim]
                sgemm(m: rows, n: headDim, k: keys, alpha: scale, a: ds, lda: keys,
                      b: k, ldb: width, beta: betaQ, c: gradQ + start * width, ldc: width)
            }
            if let gradK {
                // dK [keys, headDim] += scale · dSᵀ [keys, rows] · Q_block [rows, headDim]
                sgemm(transposeA: true, m: keys, n: headDim, k: rows, alpha: scale, a: ds, lda: keys,
                      b: q + start * width, ldb: width, beta: 1, c: gradK, ldc: width)
            }
        }
    }
}
