import Foundation

/// The signals that ask a run to stop (the current step finishes, a checkpoint is saved,
/// and the process exits 0), declared once for the handler, the help text and the docs.
public enum StopSignals {
    /// SIGTERM (a scheduler or `kill`), SIGINT (Ctrl-C), and SIGUSR1: mpirun forwards
    /// SIGUSR1 to every rank and then waits for them, whereas on SIGINT or SIGTERM it kills
    /// them within 2 s (Open MPI 4.1), so scripts/mpirun.sh turns Ctrl-C into SIGUSR1.
    public static let all: [(number: Int32, name: String)] = [
        (SIGTERM, "SIGTERM"), (SIGINT, "SIGINT"), (SIGUSR1, "SIGUSR1")
    ]

    /// "SIGTERM, SIGINT or SIGUSR1".
    public static var phrase: String {
        let names = all.map(\.name)
        return names.dropLast().joined(separator: ", ") + " or " + names.last!
    }
}
