import Foundation

/// One optimizer step, as logged: a line of metrics.jsonl and of the progress output.
public struct StepRecord: Codable, Sendable {
    public let step: Int
    /// Tokens trained on after this step.
    public let tokens: Int
    public let loss: Double
    public let lr: Double
    public let gradientNorm: Double
    public let tokensPerSecond: Double
    public let seconds: Double
    /// exp(loss), stored so readers of metrics.jsonl need not derive it.
    public let perplexity: Double

    enum CodingKeys: String, CodingKey {
        case step, tokens, loss, perplexity = "ppl", lr, gradientNorm = "grad_norm", tokensPerSecond = "tokens_per_s",
            seconds
    }

    public init(
        step: Int, tokens: Int, loss: Double, lr: Double, gradientNorm: Double, tokensPerSecond: Double,
        seconds: Double
    ) {
        self.step = step; self.tokens = tokens; self.loss = loss; self.lr = lr
        self.gradientNorm = gradientNorm; self.tokensPerSecond = tokensPerSecond; self.seconds = seconds
        perplexity = exp(loss)
    }

    /// `step 12/300 | loss 3.4512 | ppl 31.54 | lr 1.00e-03 | grad norm 0.812 | 20480 tok/s | ETA 0:41`
    public func progressLine(total: Int, eta: Double) -> String {
        String(
            format: "step %ld/%ld | loss %.4f | ppl %.2f | lr %.2e | grad norm %.3f | %.0f tok/s | ETA ",
            step, total, loss, perplexity, lr, gradientNorm, tokensPerSecond) + duration(eta)
    }
}

/// One validation, as logged in metrics.jsonl.
public struct ValidationRecord: Codable, Sendable {
    public let step: Int
    public let tokens: Int
    public let loss: Double
    public let perplexity: Double

    enum CodingKeys: String, CodingKey { case step, tokens, loss = "val_loss", perplexity = "val_ppl" }

    public init(step: Int, tokens: Int, loss: Double) {
        self.step = step; self.tokens = tokens; self.loss = loss
        perplexity = exp(loss)
    }

    /// `validation at step 50 | loss 1.3172 | ppl 3.73`
    public var progressLine: String {
        String(format: "validation at step %ld | loss %.4f | ppl %.2f", step, loss, perplexity)
    }
}

/// `1:02:03` or `2:03` (or `3d 4:05:06` past a day).
func duration(_ seconds: Double) -> String {
    // An ETA past a million years is no estimate (and Int(∞) would trap).
    guard seconds.isFinite, seconds < 3e13 else { return "—" }
    let total = Int(seconds.rounded())
    let days = total / 86400, hours = total / 3600 % 24, minutes = total / 60 % 60, rest = total % 60
    if days > 0 { return String(format: "%ldd %ld:%02ld:%02ld", days, hours, minutes, rest) }
    return hours > 0
        ? String(format: "%ld:%02ld:%02ld", hours, minutes, rest) : String(format: "%ld:%02ld", minutes, rest)
}
