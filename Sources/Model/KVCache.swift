import Autograd

/// The keys and values every layer has computed for a batch of sequences being decoded, so
/// that each new token costs one step through the cache instead of a forward pass over its
/// whole prefix. Each rank holds its own heads: `d_model / tp` columns per layer.
///
/// Sequences have lengths of their own (a guided stream's prompt differs in length from
/// the conditional one), so each attends over its own cached prefix.
public final class KVCache {
    public let sequences: Int
    /// Positions each sequence can hold (at most the model's seq_len).
    public let capacity: Int
    /// Columns per layer on this rank: `d_model / tp`.
    public let width: Int
    public let layers: Int
    /// Tokens each sequence holds.
    public private(set) var lengths: [Int]
    /// Per layer `[sequences, capacity, width]`.
    private let keys: [UnsafeMutableBufferPointer<Float>]
    private let values: [UnsafeMutableBufferPointer<Float>]

    public init(sequences: Int, capacity: Int, width: Int, layers: Int) {
        precondition(sequences > 0 && capacity > 0 && width > 0 && layers > 0)
        self.sequences = sequences
        self.capacity = capacity
        self.width = width
        self.layers = layers
        lengths = [Int](repeating: 0, count: sequences)
        func storage() -> UnsafeMutableBufferPointer<Float> {
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: sequences * capacity * width)
            buffer.initialize(repeating: 0)
            return buffer
        }
        keys = (0..<layers).map { _ in storage() }
        values = (0..<layers).map { _ in storage() }
    }

    deinit {
        for buffer in keys + values { buffer.deallocate() }
    }

    /// Bytes the cache holds on this rank.
    public var bytes: Int { 2 * layers * sequences * capacity * width * MemoryLayout<Float>.size }

    /// Bytes of a full cache per sequence of `positions` tokens, over all tensor-parallel
    /// ranks: keys and values of every layer, fp32.
    public static func bytesPerSequence(_ model: ModelConfig, positions: Int) -> Int {
        2 * model.layers * positions * model.dModel * MemoryLayout<Float>.size
    }

    /// Stores one layer's keys and values `[new tokens, width]` of `counts[s]` new tokens for
    /// each sequence s (rows in sequence order), then attends with the matching queries:
    /// returns `[new tokens, width]`. The lengths move on in `advance` once every layer ran.
    func attend(layer: Int, q: Tensor, k: Tensor, v: Tensor, counts: [Int], heads: Int) -> Tensor {
        precondition(counts.count == sequences && q.rows == counts.reduce(0, +) && q.lastDimension == width)
        let output = Tensor(shape: q.shape)
        var row = 0
        for sequence in 0..<sequences where counts[sequence] > 0 {
            let start = lengths[sequence], count = counts[sequence]
            precondition(
                start + count <= capacity,
                "sequence \(sequence) would hold \(start + count) tokens, the cache \(capacity)")
            let base = sequence * capacity * width
            (keys[layer].baseAddress! + base + start * width).update(
                from: k.pointer + row * width, count: count * width)
            (values[layer].baseAddress! + base + start * width).update(
                from: v.pointer + row * width, count: count * width)
            cachedCausalAttention(
                q: q.pointer + row * width, keys: keys[layer].baseAddress! + base,
                values: values[layer].baseAddress! + base, out: output.pointer + row * width,
                rows: count, start: start, width: width, heads: heads)
            row += count
        }
        return output
    }

    /// Records that every layer has cached `counts[s]` more tokens of sequence s.
    func advance(_ counts: [Int]) {
        for sequence in 0..<sequences { lengths[sequence] += counts[sequence] }
    }

    /// Forgets sequence s's tokens past `length` (to decode again from a shorter prefix).
    public func truncate(_ sequence: Int, to length: Int) {
        precondition(length <= lengths[sequence])
        lengths[sequence] = length
    }
}
