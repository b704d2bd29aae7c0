import Diagnostics
import Foundation

/// `StopSignals.all` ask the run to stop: the current step finishes, a checkpoint is saved,
/// and the process exits 0.
public enum StopSignal {
    nonisolated(unsafe) static var received: sig_atomic_t = 0

    public static func install() {
        // Under plain mpirun, `kill -USR1 <mpirun>` stops a run (see `StopSignals.all`).
        for stop in StopSignals.all { signal(stop.number) { _ in StopSignal.received = 1 } }
        // A file-size limit or full disk should fail the write with an error we report,
        // not kill the process silently.
        signal(SIGXFSZ, SIG_IGN)
    }

    public static var requested: Bool { received != 0 }
}
