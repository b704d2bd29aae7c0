import Randomness

/// Which part of a caption-image document a vector describes, and which part of the query
/// found a retrieved document.
public enum Modality: String, Codable, Sendable, CaseIterable {
    case text, image
}

/// A document's two embeddings (CM3Leon §2.1, CLIP ViT-B/32 in the paper): one for its
/// text and one for its image, each L2-normalised, or all zeros when the document has no
/// such part. The document vector the bank is searched by is their normalised average.
public struct DocumentEmbedding: Equatable, Sendable {
    public var text: [Float]
    public var image: [Float]

    public init(text: [Float], image: [Float]) {
        precondition(text.count == image.count, "text and image embeddings differ in dimension")
        self.text = text
        self.image = image
    }

    public subscript(modality: Modality) -> [Float] { modality == .text ? text : image }

    /// The normalised average of the text and image vectors.
    public var document: [Float] { normalized(zip(text, image).map { ($0 + $1) / 2 }) }
}

/// Tessera's stand-in for CLIP when a dataset stores no embeddings: feature hashing of a
/// document's tokens. Each token adds ±1 to one of `dimensions` coordinates (both chosen
/// by a hash of the id) and the result is normalised, separately for the text part and the
/// image part. Documents sharing words or image codes score high.
public struct BuiltinEmbedding: Sendable {
    public let dimensions: Int

    public init(dimensions: Int = 64) { self.dimensions = dimensions }

    /// Normalised hashed bag of `tokens` (all zeros when empty).
    public func embed(_ tokens: some Sequence<Int32>) -> [Float] {
        var vector = [Float](repeating: 0, count: dimensions)
        for token in tokens {
            var hash = UInt64(bitPattern: Int64(token)) &* 0x9e37_79b9_7f4a_7c15
            hash ^= hash >> 29
            vector[Int(hash % UInt64(dimensions))] += (hash >> 40) & 1 == 0 ? 1 : -1
        }
        return normalized(vector)
    }

    /// The text and image embeddings of a document.
    public func embed(document: some Collection<Int32>, vocabulary: Vocabulary) -> DocumentEmbedding {
        let parts = modalities(of: document, vocabulary: vocabulary)
        return DocumentEmbedding(text: embed(parts.text), image: embed(parts.image))
    }
}

/// `v / ‖v‖`, or `v` unchanged when it is zero.
public func normalized(_ vector: [Float]) -> [Float] {
    let norm = vector.reduce(0) { $0 + $1 * $1 }.squareRoot()
    return norm > 0 ? vector.map { $0 / norm } : vector
}

/// Inner product of two vectors of equal length.
/// The inner product of `count` floats in one fixed order (eight running lanes, their sum,
/// then the tail), so a pair of vectors scores the same wherever it is computed: against a
/// whole bank online, or against a document's stored candidates. BLAS's order depends on
/// its kernel and on the other rows of the call, which could reorder near-ties.
public func innerProduct(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var lanes = SIMD8<Float>()
    var index = 0
    while index + 8 <= count {
        let left = UnsafeRawPointer(a + index).loadUnaligned(as: SIMD8<Float>.self)
        let right = UnsafeRawPointer(b + index).loadUnaligned(as: SIMD8<Float>.self)
        lanes += left * right
        index += 8
    }
    var sum = lanes.sum()
    while index < count {
        sum += a[index] * b[index]
        index += 1
    }
    return sum
}

public func dot(_ a: [Float], _ b: [Float]) -> Float {
    precondition(a.count == b.count, "vectors of \(a.count) and \(b.count) dimensions")
    guard !a.isEmpty else { return 0 }
    return a.withUnsafeBufferPointer { a in
        b.withUnsafeBufferPointer { dot(a.baseAddress!, $0.baseAddress!, count: a.count) }
    }
}

/// `dot` of `count` floats at two addresses, summed in order (what relevance is measured
/// with, online and offline alike).
public func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var sum: Float = 0
    for i in 0..<count { sum += a[i] * b[i] }
    return sum
}

/// Query dropout: removes `round(rate · count)` of `tokens`, chosen uniformly, keeping the
/// order of the rest.
public func dropTokens(_ tokens: [Int32], rate: Double, generator: inout SplitMix64) -> [Int32] {
    let dropCount = Int((rate * Double(tokens.count)).rounded())
    guard dropCount > 0 else { return tokens }
    var indices = Array(tokens.indices)
    for i in 0..<dropCount { indices.swapAt(i, i + generator.nextInt(below: indices.count - i)) }
    let dropped = Set(indices[0..<dropCount])
    return tokens.indices.filter { !dropped.contains($0) }.map { tokens[$0] }
}
