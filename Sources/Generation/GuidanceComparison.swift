/// The decodings CM3Leon compares (§3, Figure 6), each greedy: no guidance, classifier-free
/// guidance at α 2, 3 and 5, and contrastive decoding top-k. `launch eval --task` scores a
/// checkpoint under each.
public enum GuidanceComparison {
    /// Each setting's name, as the score table prints it, and its decoding.
    public static func settings(cdK: Int, cdAlpha: Float) -> [(name: String, decoding: DecodingSettings)] {
        let guidances: [(String, Guidance)] = [
            ("no guidance", .none), ("CFG α=2", .classifierFree(scale: 2)), ("CFG α=3", .classifierFree(scale: 3)),
            ("CFG α=5", .classifierFree(scale: 5)),
            ("CD-K k=\(cdK) α=\(cdAlpha)", .contrastive(k: cdK, alpha: cdAlpha))
        ]
        return guidances.map { name, guidance in
            (name, DecodingSettings(sampling: SamplingSettings(temperature: 0), guidance: guidance))
        }
    }
}
