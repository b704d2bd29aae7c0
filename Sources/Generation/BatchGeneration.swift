extension Generator {
    /// `settings.samples` continuations of each of `prompts` in `mode`, decoded `batch`
    /// sequences at a time through one `KVCache` per batch: `[prompt][sample]`. Sample s of
    /// every prompt draws from the stream sample s draws in `generate(prompt:)`, so each
    /// prompt gets what it gets decoded alone (up to the rounding of batched products).
    public func generate(eachOf prompts: [[Int32]], mode: GenerationMode, settings: DecodingSettings, batch: Int)
        throws -> [[[Int32]]]
    {
        precondition(batch > 0, "a batch holds at least one sequence")
        let jobs = prompts.indices.flatMap { prompt in (0..<settings.samples).map { (prompt: prompt, sample: $0) } }
        var outputs = prompts.map { _ in [[Int32]]() }
        for start in stride(from: 0, to: jobs.count, by: batch) {
            let chunk = jobs[start..<min(start + batch, jobs.count)]
            let generated = try generate(
                prompts: chunk.map { prompts[$0.prompt] }, mode: mode, settings: settings,
                sampleIndices: chunk.map(\.sample))
            for (job, output) in zip(chunk, generated) { outputs[job.prompt].append(output) }
        }
        return outputs
    }
}
