import Foundation

/// SIGTERM, SIGINT and SIGUSR1 ask the run to stop: the current step finishes, a checkpoint is
/// saved, and the process exits 0.
public enum StopSignal {
    nonisolated(unsafe) static var received: sig_atomic_t = 0

    public static func install() {
        signal(SIGTERM) { _ in StopSignal.received = 1 }
        signal(SIGINT) { _ in StopSignal.received = 1 }
        // mpirun forwards SIGUSR1 to every rank and then waits for them, whereas on SIGINT
        // or SIGTERM it kills them within 2 s (Open MPI 4.1): scripts/mpirun.sh turns
        // Ctrl-C into SIGUSR1, and under plain mpirun `kill -USR1 <mpirun>` stops a run.
        signal(SIGUSR1) { _ in StopSignal.received = 1 }
        // A file-size limit or full disk should fail the write with an error we report,
        // not kill the process silently.
        signal(SIGXFSZ, SIG_IGN)
    }

    public static var requested: Bool { received != 0 }
}
