/// A layout that cannot work, named for the user (rank 0 prints it). It lives beside the
/// config because `TrainConfig.accumulation(seqLen:dp:)` finds one kind of it: a batch that
/// the layout cannot split evenly.
public struct LayoutError: ReportableError {
    public let description: String
    /// The world rank that found it (every rank finds the same one).
    public var rank = 0

    public init(description: String, rank: Int = 0) {
        self.description = description
        self.rank = rank
    }
}
