/// Causal attention of new query rows over cached keys and values, for decoding (no
/// gradient). With the cache holding a sequence's first `start + rows` keys and values (the
/// new ones included), the new queries at positions `start ..< start + rows` see keys
/// `0 ... position`, exactly the rows causal self-attention would let them see.
///
/// - `q [rows, heads·headDim]`, `keys`/`values [start + rows, heads·headDim]`, `out [rows,
///   heads·headDim]`: head `h` in columns `h·headDim ..< (h+1)·headDim`, rows `width` apart,
///   so heads are strided views and nothing is copied.
public func cachedCausalAttention(
    q: UnsafePointer<Float>, keys: UnsafePointer<Float>, values: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>, rows: Int, start: Int, width: Int, heads: Int
) {
    precondition(width % heads == 0, "attention: width \(width) not divisible by \(heads) heads")
    let headDim = width / heads, visibleKeys = start + rows
    let scale = 1 / Float(headDim).squareRoot()
    let scores = BufferPool.shared.allocate(rows * visibleKeys)  // [rows, keys]
    defer { BufferPool.shared.release(scores) }
    for head in 0..<heads {
        let column = head * headDim
        // S [rows, keys] = scale · Q_h [rows, headDim] · K_hᵀ [headDim, keys]
        sgemm(
            transposeB: true, m: rows, n: visibleKeys, k: headDim, alpha: scale,
            a: q + column, lda: width, b: keys + column, ldb: width, c: scores.pointer, ldc: visibleKeys)
        for r in 0..<rows {
            let row = scores.pointer + r * visibleKeys, visible = start + r + 1
            let sum = exponentiateRow(row, visible, shift: rowMaximum(row, visible))
            scaleRow(row, visible, by: 1 / sum)
            for j in visible..<visibleKeys { row[j] = 0 }
        }
        // O_h [rows, headDim] = P [rows, keys] · V_h [keys, headDim]
        sgemm(
            m: rows, n: headDim, k: visibleKeys, a: scores.pointer, lda: visibleKeys,
            b: values + column, ldb: width, c: out + column, ldc: width)
    }
}
