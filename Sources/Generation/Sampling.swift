import CM3Objective
import Foundation
import Randomness

/// How a token is drawn from (possibly guided) logits.
public struct SamplingSettings: Equatable, Sendable {
    /// 0: greedy (the most likely token, the lowest id on ties).
    public var temperature: Float
    /// 0: off.
    public var topK: Int
    /// 1: off.
    public var topP: Float

    public init(temperature: Float = 1, topK: Int = 0, topP: Float = 1) {
        self.temperature = temperature; self.topK = topK; self.topP = topP
    }

    /// Draws a token id from `logits` (−∞ marks tokens that may not be drawn): temperature,
    /// then top-k, then top-p, then a draw from the softmax.
    public func pick(_ logits: [Float], generator: inout SplitMix64) -> Int32 {
        precondition(logits.contains { $0 > -.infinity }, "every token is excluded")
        if temperature == 0 { return Int32(argmax(logits)) }
        let filtered = keepNucleus(keepTopK(applyTemperature(logits, temperature), topK), topP)
        let probabilities = logSoftmax(filtered).map { Double(exp($0)) }
        var target = generator.nextUnit() * probabilities.reduce(0, +)
        for (index, probability) in probabilities.enumerated() where probability > 0 {
            target -= probability
            if target < 0 { return Int32(index) }
        }
        return Int32(probabilities.lastIndex { $0 > 0 }!)
    }
}

/// The index of the largest value, the first on ties.
public func argmax(_ values: [Float]) -> Int {
    var best = 0
    for i in values.indices where values[i] > values[best] { best = i }
    return best
}

/// What may be generated next, as CM3Leon decodes: an image is exactly one image's worth
/// of image codes and then `<eos>`; text is text tokens only, until `<eos>` or a limit.
public enum GenerationMode: Equatable, Sendable {
    case image(codes: Int)
    case text(maxTokens: Int)
    /// Exactly `tokens` tokens of any kind, `<eos>` included: for timing decoding.
    case free(tokens: Int)

    /// Whether `token` may come after `generated` tokens; nil when generation is over.
    public func allows(_ token: Int32, after generated: Int, vocabulary: Vocabulary) -> Bool {
        switch self {
        case .image(let codes):
            return generated < codes ? vocabulary.isImage(token) : token == vocabulary.eos
        case .text(let maxTokens):
            if token == vocabulary.eos { return true }
            return generated < maxTokens && !vocabulary.isImage(token) && !vocabulary.isSpecial(token)
        case .free(let tokens):
            return generated < tokens
        }
    }

    /// Whether a sequence of `generated` tokens ending in `last` is complete.
    public func isComplete(generated: Int, last: Int32?, vocabulary: Vocabulary) -> Bool {
        if case .free(let tokens) = self { return generated >= tokens }
        if last == vocabulary.eos { return true }
        switch self {
        case .image(let codes): return generated > codes
        case .text(let maxTokens): return generated > maxTokens
        case .free: return false
        }
    }

    /// `logits` with every token this mode forbids after `generated` tokens set to −∞.
    public func constrain(_ logits: [Float], after generated: Int, vocabulary: Vocabulary) -> [Float] {
        if case .free = self { return logits }
        return logits.indices.map {
            allows(Int32($0), after: generated, vocabulary: vocabulary) ? logits[$0] : -.infinity
        }
    }
}
