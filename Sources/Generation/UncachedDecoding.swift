extension Generator {
    /// `tokens` greedy tokens after each of `prompts` (all of one length), each step a full
    /// forward pass over every sequence's whole prefix: decoding without a cache, which
    /// `launch bench-generate` times the cached decoding against.
    public func greedyWithoutCache(_ prompts: [[Int32]], tokens: Int) -> [[Int32]] {
        var sequences = prompts
        for _ in 0..<tokens {
            let next = decoder.lastTokenLogits(sequences).map { Int32(argmax($0)) }
            for (i, token) in next.enumerated() { sequences[i].append(token) }
        }
        return zip(sequences, prompts).map { Array($0.dropFirst($1.count)) }
    }

    /// `tokens` greedy tokens of any kind after each of `prompts`, through the `KVCache`.
    public func greedy(_ prompts: [[Int32]], tokens: Int) throws -> [[Int32]] {
        try generate(
            prompts: prompts, mode: .free(tokens: tokens),
            settings: DecodingSettings(sampling: SamplingSettings(temperature: 0)))
    }
}
