import Foundation
import Parallel

/// Ends the job when this rank makes no progress for too long: a stopped or stuck rank
/// (SIGSTOP, a hung file system) otherwise leaves every other rank waiting in a collective
/// forever. The training loop calls `beat` at each unit of work; a thread checks the time
/// since the last beat and, past the limit, prints one line naming this rank, its host and
/// what it was doing, then aborts the whole job.
public final class Watchdog: @unchecked Sendable {
    private let limit: TimeInterval
    private let rank: Int
    private let lock = NSLock()
    private var lastBeat = Date()
    private var doing = "starting"
    private var stopped = false

    /// Starts watching with a limit of `seconds` (0 watches nothing); `abort` ends the job.
    public init(seconds: Int, rank: Int, abort: @escaping () -> Void) {
        limit = TimeInterval(seconds)
        self.rank = rank
        guard seconds > 0 else { return }
        let thread = Thread { [weak self] in
            while let self, self.check(abort: abort) { Thread.sleep(forTimeInterval: min(1, self.limit / 4)) }
        }
        thread.name = "watchdog"
        thread.start()
    }

    /// Records progress; `what` says what the rank does next, for the message.
    public func beat(_ what: String) {
        lock.withLock {
            lastBeat = Date(); doing = what
        }
    }

    /// Stops watching (the run is over).
    public func stop() {
        lock.withLock { stopped = true }
    }

    /// Whether to keep watching; aborts past the limit.
    private func check(abort: () -> Void) -> Bool {
        let (idle, doing, stopped) = lock.withLock { (Date().timeIntervalSince(lastBeat), self.doing, self.stopped) }
        if stopped { return false }
        guard idle > limit else { return true }
        fputs(
            """
            error: rank \(rank) on \(Preflight.hostName) made no progress for \(Int(idle)) s while \(doing) \
            (train.watchdog_seconds \
            \(Int(limit))); ending the job\n
            """,
            stderr)
        abort()
        _exit(3)
    }
}
