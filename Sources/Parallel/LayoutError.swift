import Diagnostics

/// A layout that cannot work, named for the user (rank 0 prints it): a group size that does
/// not divide the model, or a batch the layout cannot split evenly.
public struct LayoutError: ReportableError {
    public let description: String
    /// The world rank that found it (every rank finds the same one).
    public var rank = 0

    public init(description: String, rank: Int = 0) {
        self.description = description
        self.rank = rank
    }
}
