import Randomness

/// Which documents of one input file are held out for validation (`launch prepare
/// --from-jsonl --validation-fraction`): a fixed share, drawn by a permutation keyed by the
/// seed, so the same file and seed always split alike.
public enum ValidationSplit {
    /// For each of `count` documents, whether it is held out: `fraction · count` of them,
    /// rounded, at least one when the fraction is positive, and never all of them.
    public static func heldOut(count: Int, fraction: Double, seed: UInt64) -> [Bool] {
        guard count > 1, fraction > 0 else { return [Bool](repeating: false, count: count) }
        let wanted = min(count - 1, max(1, Int((fraction * Double(count)).rounded())))
        var generator = SplitMix64(seed: seed, name: "validation-split")
        let order = generator.permutation(of: count)
        var held = [Bool](repeating: false, count: count)
        for index in order.prefix(wanted) { held[index] = true }
        return held
    }
}
