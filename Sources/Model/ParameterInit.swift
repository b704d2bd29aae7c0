import Autograd
import Parallel
import Randomness

/// How a parameter starts (metaseq's CM3Leon init).
public enum ParameterInit: Sendable {
    /// Truncated normal, std 0.006, cut at ±3σ: every matrix and the token embedding.
    case matrix
    /// Normal, std 0.0002: the learned positions.
    case positions
    /// Zero: the output layers of each block (`out_proj`, `fc2`).
    case zero

    /// The std of every matrix and the token embedding (what an export states as `init_std`).
    public static let matrixStd = 0.006
    static let positionStd = 0.0002

    /// Fills this rank's shard of a `fullShape` tensor: row R of the full tensor comes from
    /// the stream (seed, "name/R"), whichever rank draws it.
    func fill(_ tensor: Tensor, fullShape: [Int], sharding: Sharding, seed: UInt64, name: String) {
        if case .zero = self { tensor.data.update(repeating: 0); return }
        let fullColumns = fullShape[1], columns = sharding.columnRange(fullShape)
        let row = UnsafeMutableBufferPointer<Float>.allocate(capacity: fullColumns)
        defer { row.deallocate() }
        for (localRow, fullRow) in sharding.rowRange(fullShape).enumerated() {
            var generator = SplitMix64(seed: seed, name: "\(name)/\(fullRow)")
            switch self {
            case .matrix: Initializer.truncatedNormal(row, std: Self.matrixStd, generator: &generator)
            case .positions: Initializer.normal(row, std: Self.positionStd, generator: &generator)
            case .zero: break
            }
            (tensor.pointer + localRow * columns.count).update(
                from: row.baseAddress! + columns.lowerBound, count: columns.count)
        }
    }
}
