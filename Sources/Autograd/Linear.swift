/// Linear layer without bias, PyTorch convention: `y = x Wᵀ` with `W [out, in]`.
extension Tape {
    /// `x [rows, in]`, `weight [out, in]` → `[rows, out]`. Any leading shape of `x` is kept.
    public func linear(_ x: Tensor, _ weight: Tensor) -> Tensor {
        precondition(weight.shape.count == 2, "linear weight must be [out, in], got \(weight.shape)")
        let outFeatures = weight.shape[0], inFeatures = weight.shape[1]
        precondition(x.lastDimension == inFeatures, "linear: x \(x.shape) does not match weight \(weight.shape)")
        let rows = x.rows
        let y = Tensor(
            uninitializedShape: Array(x.shape.dropLast()) + [outFeatures],  // sgemm with beta 0 writes all
            requiresGrad: tracks(x, weight))
        // y [rows, out] = x [rows, in] · Wᵀ [in, out]
        sgemm(
            transposeB: true, m: rows, n: outFeatures, k: inFeatures,
            a: x.pointer, lda: inFeatures, b: weight.pointer, ldb: inFeatures,
            c: y.pointer, ldc: outFeatures)
        guard y.requiresGrad else { return y }
        record {
            if x.requiresGrad {
                // dx [rows, in] (+)= dy [rows, out] · W [out, in]
                let dx = x.gradientDestination()
                sgemm(
                    m: rows, n: inFeatures, k: outFeatures,
                    a: y.gradPointer, lda: outFeatures, b: weight.pointer, ldb: inFeatures,
                    beta: dx.beta, c: dx.pointer, ldc: inFeatures)
            }
            if weight.requiresGrad {
                // dW [out, in] += dyᵀ [out, rows] · x [rows, in]
                sgemm(
                    transposeA: true, m: outFeatures, n: inFeatures, k: rows,
                    a: y.gradPointer, lda: outFeatures, b: x.pointer, ldb: inFeatures,
                    beta: 1, c: weight.gradPointer, ldc: inFeatures)
            }
        }
        return y
    }
}
