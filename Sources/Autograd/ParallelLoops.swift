import Dispatch

/// Splits the loops BLAS does not cover (softmax rows, heads of attention, optimiser
/// updates) over as many threads as OpenBLAS uses, so a rank never oversubscribes the
/// cores `scripts/mpirun.sh` gave it.
public enum ParallelLoops {
    /// Worker threads: OpenBLAS's thread count at the time of the call.
    public static var workers: Int { max(1, BLASRuntime.threads) }

    /// Calls `body(part, range)` on disjoint ranges covering `0..<count`, concurrently;
    /// `part` is below `workers`. Ranges are at least `grain` long so tiny loops stay on one
    /// thread.
    public static func forEachRange(
        _ count: Int, grain: Int = 1024, _ body: (_ part: Int, _ range: Range<Int>) -> Void
    ) {
        let parts = min(workers, max(1, count / max(grain, 1)))
        if parts <= 1 { body(0, 0..<count); return }
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            body(part, count * part / parts..<count * (part + 1) / parts)
        }
    }

    /// Runs `body(worker, workers)` on each worker with BLAS single-threaded inside, for
    /// loops whose iterations are themselves small matrix products (attention heads):
    /// the parallelism moves from inside each product to across them.
    public static func forEachWorker(_ body: (_ worker: Int, _ workers: Int) -> Void) {
        let count = workers
        if count == 1 { body(0, 1); return }
        BLASRuntime.setThreads(1)
        defer { BLASRuntime.setThreads(count) }
        DispatchQueue.concurrentPerform(iterations: count) { worker in body(worker, count) }
    }
}
