import Autograd
import CM3Objective
import Diagnostics
import Model
import Randomness

/// How the conditional and unconditional streams combine, if there are two.
public enum Guidance: Equatable, Sendable {
    case none
    case classifierFree(scale: Float)
    case contrastive(k: Int, alpha: Float)
}

/// Everything that decides what `Generator.generate` draws.
public struct DecodingSettings: Equatable, Sendable {
    public var sampling: SamplingSettings
    public var guidance: Guidance
    public var samples: Int
    public var seed: UInt64

    public init(
        sampling: SamplingSettings = SamplingSettings(), guidance: Guidance = .none, samples: Int = 1, seed: UInt64 = 0
    ) {
        self.sampling = sampling; self.guidance = guidance; self.samples = samples; self.seed = seed
    }
}

/// Why a prompt cannot be decoded.
public enum GenerationError: ReportableError, Equatable {
    case tooLong(prompt: Int, generated: Int, seqLen: Int)
    case emptyPrompt

    public var description: String {
        switch self {
        case .tooLong(let prompt, let generated, let seqLen):
            return "a prompt of \(prompt) tokens and up to \(generated) generated ones exceed seq_len \(seqLen)"
        case .emptyPrompt:
            return "the prompt is empty"
        }
    }
}

/// Decodes from a trained decoder with a `KVCache`: every sample, and with guidance its
/// unconditional twin, is one sequence of the cache, and each step is one batched forward
/// pass over one new token per unfinished sequence.
public final class Generator {
    public let decoder: CM3LeonDecoder
    public let vocabulary: Vocabulary

    public init(decoder: CM3LeonDecoder, vocabulary: Vocabulary) {
        self.decoder = decoder
        self.vocabulary = vocabulary
    }

    /// The unconditional stream's prompt (eq. 1): what comes before the prompt's last
    /// `<break>` (the caption, for an image) becomes one `<mask>`.
    public static func unconditionalPrompt(_ prompt: [Int32], vocabulary: Vocabulary) -> [Int32] {
        guard let split = prompt.lastIndex(of: vocabulary.breakToken), split > 0 else {
            return [vocabulary.mask] + prompt
        }
        return [vocabulary.mask] + prompt[split...]
    }

    /// `settings.samples` continuations of `prompt` in `mode`, each ending in `<eos>`.
    public func generate(prompt: [Int32], mode: GenerationMode, settings: DecodingSettings) throws -> [[Int32]] {
        try generate(prompts: [[Int32]](repeating: prompt, count: settings.samples), mode: mode, settings: settings)
    }

    /// One continuation of each prompt in `mode`, all decoded together (`settings.samples`
    /// is not used). Prompt i draws from the seeded stream of sample `sampleIndices[i]`
    /// (default i) of that prompt's tokens, so a prompt decoded among others draws what it
    /// draws alone, and two prompts never share their random draws.
    public func generate(
        prompts: [[Int32]], mode: GenerationMode, settings: DecodingSettings, sampleIndices: [Int]? = nil
    ) throws -> [[Int32]] {
        guard !prompts.isEmpty && prompts.allSatisfy({ !$0.isEmpty }) else { throw GenerationError.emptyPrompt }
        let longest: Int
        switch mode {
        case .image(let codes): longest = codes + 1
        case .text(let maxTokens): longest = maxTokens + 1
        case .free(let tokens): longest = tokens
        }
        let unconditional = prompts.map { Generator.unconditionalPrompt($0, vocabulary: vocabulary) }
        let capacity = zip(prompts, unconditional).map { max($0.count, $1.count) }.max()! + longest
        guard capacity <= decoder.config.seqLen else {
            let prompt = prompts.map(\.count).max()!
            throw GenerationError.tooLong(prompt: prompt, generated: longest, seqLen: decoder.config.seqLen)
        }
        let samples = prompts.count, guided = settings.guidance != .none
        let cache = decoder.makeCache(sequences: guided ? 2 * samples : samples, capacity: capacity)
        var generators = prompts.indices.map { index in
            let tokens = prompts[index].map(String.init).joined(separator: ",")
            return SplitMix64(seed: settings.seed, name: "sample/\(sampleIndices?[index] ?? index)/prompt/\(tokens)")
        }
        var outputs = [[Int32]](repeating: [], count: samples)
        var feed = prompts + (guided ? unconditional : [])
        while true {
            let logits = decoder.nextTokenLogits(feed, cache: cache)
            var next = [Int32?](repeating: nil, count: samples)
            for sample in 0..<samples where !feed[sample].isEmpty {
                // Constrained first, so that CD-K's k-th largest and both streams' softmax
                // range over the tokens the mode allows.
                func allowed(_ row: [Float]) -> [Float] {
                    mode.constrain(row, after: outputs[sample].count, vocabulary: vocabulary)
                }
                let combined = combine(
                    allowed(logits[sample]), guided ? allowed(logits[samples + sample]) : [], settings.guidance)
                next[sample] = settings.sampling.pick(combined, generator: &generators[sample])
            }
            // Every tensor-parallel rank must continue with the same tokens: rank 0's.
            let agreed = agreeOnTokens(next)
            for sample in 0..<samples {
                guard let token = agreed[sample] else { feed[sample] = []; continue }
                outputs[sample].append(token)
                let done = mode.isComplete(generated: outputs[sample].count, last: token, vocabulary: vocabulary)
                feed[sample] = done ? [] : [token]
            }
            if guided { for sample in 0..<samples { feed[samples + sample] = feed[sample] } }
            if feed.allSatisfy(\.isEmpty) { return outputs }
        }
    }

    private func combine(_ conditional: [Float], _ unconditional: [Float], _ guidance: Guidance) -> [Float] {
        switch guidance {
        case .none: return conditional
        case .classifierFree(let scale):
            return ClassifierFreeGuidance(scale: scale)(conditional: conditional, unconditional: unconditional)
        case .contrastive(let k, let alpha):
            return ContrastiveDecodingTopK(k: k, alpha: alpha)(conditional: conditional, unconditional: unconditional)
        }
    }

    /// Rank 0's tokens on every rank of the tensor-parallel group (token ids are exact in
    /// fp32 below 2^24), so that rounding differences can never fork the ranks' sequences.
    private func agreeOnTokens(_ tokens: [Int32?]) -> [Int32?] {
        let group = decoder.group
        guard group.size > 1 else { return tokens }
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: tokens.count)
        defer { buffer.deallocate() }
        for (i, token) in tokens.enumerated() { buffer[i] = group.rank == 0 ? Float(token.map { Int($0) } ?? -1) : 0 }
        group.allReduce(buffer, .sum)
        return buffer.map { $0 < 0 ? nil : Int32($0) }
    }
}
