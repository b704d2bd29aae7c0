import Autograd
import TestSupport
import XCTest

/// `sgemm` with one row goes to sgemv: the same products, for B transposed or not, with
/// alpha, beta and row strides.
final class SingleRowProductTests: XCTestCase {
    func testSingleRowProductsEqualPlainSums() {
        let k = 7, n = 5, ldb = 9
        let a = randomValues(k, seed: "a"), c0 = randomValues(n, seed: "c")
        for transposeB in [false, true] {
            // B is [n, k] (transposed) or [k, n], rows ldb apart.
            let b = randomValues((transposeB ? n : k) * ldb, seed: "b\(transposeB)")
            var c = c0
            a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        sgemm(
                            transposeB: transposeB, m: 1, n: n, k: k, alpha: 0.5, a: a.baseAddress!, lda: k,
                            b: b.baseAddress!, ldb: ldb, beta: 2, c: c.baseAddress!, ldc: n)
                    }
                }
            }
            for j in 0..<n {
                var sum: Float = 0
                for i in 0..<k { sum += a[i] * (transposeB ? b[j * ldb + i] : b[i * ldb + j]) }
                XCTAssertEqual(c[j], 0.5 * sum + 2 * c0[j], accuracy: 1e-5, "transposeB \(transposeB), column \(j)")
            }
        }
    }
}
