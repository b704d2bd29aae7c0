import COpenBLAS

/// Row-major `C = alpha · op(A) · op(B) + beta · C` through `cblas_sgemm`, on raw pointers
/// so callers can pass sub-matrices (a head's columns, a block of rows) without copying.
///
/// - Parameters: `m`, `n`, `k` are the sizes of op(A) `[m, k]`, op(B) `[k, n]`, C `[m, n]`;
///   `lda`, `ldb`, `ldc` are the row strides of A, B, C as stored.
@inline(__always)
public func sgemm(
    transposeA: Bool = false, transposeB: Bool = false,
    m: Int, n: Int, k: Int,
    alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
) {
    if m == 0 || n == 0 { return }
    StepProfile.measure(.matrixProducts) {
        if m == 1 && !transposeA {
            // One row (a decoding step): sgemm would pack all of B for a single product, which
            // for an LM head is a copy of the whole vocabulary table; sgemv streams it once.
            // c [n] = alpha · op(B) a + beta · c, with B [n, k] when transposed, else [k, n].
            cblas_sgemv(
                CblasRowMajor, transposeB ? CblasNoTrans : CblasTrans, Int32(transposeB ? n : k),
                Int32(transposeB ? k : n),
                alpha, b, Int32(ldb), a, 1, beta, c, 1)
            return
        }
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k),
            alpha, a, Int32(lda), b, Int32(ldb),
            beta, c, Int32(ldc))
    }
}

/// Facts about the BLAS library this process loaded.
public enum BLASRuntime {
    /// The kernel family OpenBLAS chose (e.g. "SkylakeX"; "Prescott" means the slow fallback).
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    /// Threads OpenBLAS uses per call.
    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// Sets the threads OpenBLAS uses per call.
    public static func setThreads(_ count: Int) { openblas_set_num_threads(Int32(count)) }
}

extension UnsafeMutableBufferPointer where Element == Float {
    /// The base address of a buffer that is never empty in practice; empty buffers get a
    /// dangling-but-unused pointer so BLAS calls with a zero dimension stay valid.
    @inline(__always) var pointer: UnsafeMutablePointer<Float> {
        baseAddress ?? UnsafeMutablePointer(bitPattern: MemoryLayout<Float>.alignment)!
    }
}

extension Tensor {
    /// Base address of `data`.
    @inline(__always) public var pointer: UnsafeMutablePointer<Float> { data.pointer }
    /// Base address of `grad` (allocating it).
    @inline(__always) public var gradPointer: UnsafeMutablePointer<Float> { grad.pointer }
}

/// `y += alpha · x` over `count` floats (`cblas_saxpy`).
@inline(__always)
public func saxpy(count: Int, alpha: Float, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>) {
    if count == 0 { return }
    cblas_saxpy(Int32(count), alpha, x, 1, y, 1)
}
