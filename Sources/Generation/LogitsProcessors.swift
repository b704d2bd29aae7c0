import Foundation

/// Classifier-free guidance (CM3Leon §3.1, eq. 1–2): the conditional stream sees the
/// prompt, the unconditional one sees `<mask>` in its place, and the next-token logits are
/// `uncond + α · (cond − uncond)`. α = 1 is the conditional stream alone.
public struct ClassifierFreeGuidance: Sendable {
    public let scale: Float

    public init(scale: Float) { self.scale = scale }

    public func callAsFunction(conditional: [Float], unconditional: [Float]) -> [Float] {
        precondition(conditional.count == unconditional.count)
        var guided = unconditional
        for i in guided.indices where guided[i] > -.infinity || conditional[i] > -.infinity {
            guided[i] = unconditional[i] + scale * (conditional[i] - unconditional[i])
        }
        return guided
    }
}

/// Contrastive decoding top-k (CM3Leon §3.1, eq. 3): keeps the tokens whose conditional
/// probability is at least `alpha` times the k-th largest one, and scores each kept token
/// `log p_cond − log p_uncond`; the rest score −∞. The scores are then sampled from like
/// logits (greedy: the best score).
public struct ContrastiveDecodingTopK: Sendable {
    public let k: Int
    public let alpha: Float

    public init(k: Int, alpha: Float) {
        precondition(k > 0 && alpha >= 0)
        self.k = k
        self.alpha = alpha
    }

    public func callAsFunction(conditional: [Float], unconditional: [Float]) -> [Float] {
        precondition(conditional.count == unconditional.count)
        let logPCond = logSoftmax(conditional), logPUncond = logSoftmax(unconditional)
        let kth = logPCond.sorted(by: >)[min(k, logPCond.count) - 1]
        // p ≥ α · p_k  ⇔  log p ≥ log α + log p_k
        let threshold = alpha > 0 ? log(alpha) + kth : -Float.infinity
        return logPCond.indices.map { i in
            logPCond[i] >= threshold && logPCond[i] > -.infinity ? logPCond[i] - logPUncond[i] : -.infinity
        }
    }
}

/// `log softmax(logits)`, with −∞ entries staying −∞.
public func logSoftmax(_ logits: [Float]) -> [Float] {
    let maximum = logits.max() ?? 0
    guard maximum > -.infinity else { return logits }
    let sum = logits.reduce(Float(0)) { $0 + exp($1 - maximum) }
    let shift = maximum + log(sum)
    return logits.map { $0 - shift }
}

/// Divides logits by `temperature` (> 0).
public func applyTemperature(_ logits: [Float], _ temperature: Float) -> [Float] {
    precondition(temperature > 0)
    return temperature == 1 ? logits : logits.map { $0 / temperature }
}

/// Keeps the `k` largest logits (ties at the k-th kept too); the rest become −∞.
public func keepTopK(_ logits: [Float], _ k: Int) -> [Float] {
    guard k > 0 && k < logits.count else { return logits }
    let kth = logits.sorted(by: >)[k - 1]
    return logits.map { $0 >= kth ? $0 : -.infinity }
}

/// Nucleus filtering: keeps the smallest set of most probable tokens whose probabilities
/// sum to at least `p`; the rest become −∞. p ≥ 1 keeps everything.
public func keepNucleus(_ logits: [Float], _ p: Float) -> [Float] {
    guard p < 1 else { return logits }
    let probabilities = logSoftmax(logits).map { exp($0) }
    let order = probabilities.indices.sorted { probabilities[$0] > probabilities[$1] }
    var kept = Set<Int>(), mass: Float = 0
    for index in order {
        kept.insert(index)
        mass += probabilities[index]
        if mass >= p { break }
    }
    return logits.indices.map { kept.contains($0) ? logits[$0] : -.infinity }
}
