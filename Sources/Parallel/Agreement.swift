import Diagnostics

/// A failure every rank of the job reached together, so each can leave normally (MPI
/// finalised, exit status 2) with one line printed by one rank. Any other failure under
/// MPI may have left the other ranks waiting in a collective, so `launch` aborts the job.
public struct CollectiveFailure: ReportableError {
    /// The failure this rank saw, or nil when it was another rank's.
    public let underlying: (any ReportableError)?
    /// Whether this rank prints the line: the lowest rank that saw the failure.
    public let reports: Bool

    public init(_ underlying: (any ReportableError)?, reports: Bool) {
        self.underlying = underlying
        self.reports = reports
    }

    public var description: String { underlying.map { "\($0)" } ?? "another rank failed" }
}

extension ParallelContext {
    /// Runs `body` on this rank, then agrees with every rank on the outcome: if a
    /// `ReportableError` was thrown anywhere, every rank throws a `CollectiveFailure`, and
    /// only the lowest failing rank reports it. Wrap work that may fail on some ranks only
    /// (rank 0's file writes, reading data) so that no rank is left in a collective.
    public func agreeing<T>(_ body: () throws -> T) throws -> T {
        var result: T?
        var failure: (any ReportableError)?
        do { result = try body() } catch let error as any ReportableError { failure = error }
        // Outside the `do`: exactly one agreement per call on every rank.
        try agree(on: failure)
        guard let result else { preconditionFailure("agree(on:) throws for a failure") }
        return result
    }

    /// Agrees with every rank on `failure` (this rank's, or nil): returns when no rank
    /// failed, and otherwise throws a `CollectiveFailure` on every rank.
    public func agree(on failure: (any ReportableError)?) throws {
        // The lowest failing rank gives the largest code; 0 means every rank succeeded.
        let code = try maxOverWorld(failure == nil ? 0 : worldSize - worldRank)
        if code != 0 { throw CollectiveFailure(failure, reports: code == worldSize - worldRank) }
    }

    /// Ends every rank of the job at once with `code`: for failures the other ranks cannot
    /// know about. Returns only without MPI.
    public func abortJob(code: Int32) {
        if let grid, grid.world.size > 1 { grid.world.abort(code: code) }
    }
}
