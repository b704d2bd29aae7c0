import Foundation

/// The CM3Leon decoder in Double, built from the reference ops: the ground truth for the
/// whole-model gradient check. Parameters come in the decoder's own order (token
/// embedding, positions, then per block q, k, v, out, fc1, fc2).
public struct ReferenceDecoder {
    public let d: Int, heads: Int, layers: Int
    public let batch: Int, seq: Int
    /// The MLP's nonlinearity: `Reference.gelu` or `Reference.relu`.
    public let activation: ([Double]) -> [Double]

    public init(
        d: Int, heads: Int, layers: Int, batch: Int, seq: Int,
        activation: @escaping ([Double]) -> [Double] = Reference.gelu
    ) {
        self.d = d; self.heads = heads; self.layers = layers; self.batch = batch; self.seq = seq;
        self.activation = activation
    }

    public func loss(_ parameters: [[Double]], inputs: [Int32], targets: [Int32], weights: [Double]) -> Double {
        let positions = (0..<inputs.count).map { Int32($0 % seq) }
        var x = zip(
            Reference.embedding(parameters[0], d: d, ids: inputs, offset: 0),
            Reference.embedding(parameters[1], d: d, ids: positions, offset: 0)
        ).map(+)
        for layer in 0..<layers {
            let w = Array(parameters[(2 + 6 * layer)..<(8 + 6 * layer)])
            let h = Reference.layerNorm(x, d: d)
            let attention = Reference.attention(
                q: Reference.linear(h, w[0], inFeatures: d),
                k: Reference.linear(h, w[1], inFeatures: d),
                v: Reference.linear(h, w[2], inFeatures: d),
                batch: batch, heads: heads, width: d)
            x = zip(x, Reference.linear(attention, w[3], inFeatures: d)).map(+)
            let inner = activation(Reference.linear(Reference.layerNorm(x, d: d), w[4], inFeatures: d))
            x = zip(x, Reference.linear(inner, w[5], inFeatures: w[4].count / d)).map(+)
        }
        let logits = Reference.linear(Reference.layerNorm(x, d: d), parameters[0], inFeatures: d)
        return Reference.crossEntropy(logits, vocab: parameters[0].count / d, targets: targets, weights: weights)
    }
}
