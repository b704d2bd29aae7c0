import Foundation

/// Naive Double-precision implementations of each op: the ground truth that the Float ops
/// and their finite-difference gradients are checked against.
public enum Reference {
    /// `x [rows, inFeatures] · wᵀ`, `w [out, inFeatures]`.
    public static func linear(_ x: [Double], _ w: [Double], inFeatures: Int) -> [Double] {
        let rows = x.count / inFeatures, out = w.count / inFeatures
        var y = [Double](repeating: 0, count: rows * out)
        for r in 0..<rows {
            for o in 0..<out {
                var sum = 0.0
                for i in 0..<inFeatures { sum += x[r * inFeatures + i] * w[o * inFeatures + i] }
                y[r * out + o] = sum
            }
        }
        return y
    }

    public static func gelu(_ x: [Double]) -> [Double] {
        x.map { 0.5 * $0 * (1 + tanh((2 / Double.pi).squareRoot() * ($0 + 0.044715 * $0 * $0 * $0))) }
    }

    public static func relu(_ x: [Double]) -> [Double] {
        x.map { max($0, 0) }
    }

    public static func layerNorm(_ x: [Double], d: Int, eps: Double = 1e-5) -> [Double] {
        var y = x
        for r in 0..<(x.count / d) {
            let row = x[(r * d)..<((r + 1) * d)]
            let mean = row.reduce(0, +) / Double(d)
            let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(d)
            for j in 0..<d { y[r * d + j] = (x[r * d + j] - mean) / (variance + eps).squareRoot() }
        }
        return y
    }

    public static func embedding(_ table: [Double], d: Int, ids: [Int32], offset: Int) -> [Double] {
        let vocab = table.count / d
        var y = [Double](repeating: 0, count: ids.count * d)
        for (i, id) in ids.enumerated() {
            let row = Int(id) - offset
            guard row >= 0 && row < vocab else { continue }
            for j in 0..<d { y[i * d + j] = table[row * d + j] }
        }
        return y
    }

    /// Causal attention with the full softmax per query row.
    public static func attention(q: [Double], k: [Double], v: [Double], batch: Int, heads: Int, width: Int) -> [Double]
    {
        let seq = q.count / width / batch, headDim = width / heads
        var out = [Double](repeating: 0, count: q.count)
        for b in 0..<batch {
            for h in 0..<heads {
                func at(_ t: Int, _ j: Int) -> Int { (b * seq + t) * width + h * headDim + j }
                for i in 0..<seq {
                    var scores = [Double](repeating: 0, count: i + 1)
                    for key in 0...i {
                        var dot = 0.0
                        for j in 0..<headDim { dot += q[at(i, j)] * k[at(key, j)] }
                        scores[key] = dot / Double(headDim).squareRoot()
                    }
                    let maximum = scores.max()!
                    let exps = scores.map { exp($0 - maximum) }
                    let sum = exps.reduce(0, +)
                    for key in 0...i {
                        for j in 0..<headDim { out[at(i, j)] += exps[key] / sum * v[at(key, j)] }
                    }
                }
            }
        }
        return out
    }

    /// Σ wᵢ·(−log softmax(logitsᵢ)[tᵢ]) / normalizer; out-of-range targets count nothing.
    public static func crossEntropy(
        _ logits: [Double], vocab: Int, targets: [Int32], weights: [Double],
        normalizer: Double? = nil
    ) -> Double {
        let total = weights.reduce(0, +)
        let norm = normalizer ?? (total > 0 ? total : 1)
        var loss = 0.0
        for (r, target) in targets.enumerated() where target >= 0 && Int(target) < vocab && weights[r] != 0 {
            let row = logits[(r * vocab)..<((r + 1) * vocab)]
            let maximum = row.max()!
            let logSum = maximum + log(row.map { exp($0 - maximum) }.reduce(0, +))
            loss += weights[r] * (logSum - logits[r * vocab + Int(target)])
        }
        return loss / norm
    }
}
