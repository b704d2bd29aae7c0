import ArgumentParser
import Autograd
import Foundation

/// Settings OpenBLAS reads only while it loads, i.e. before `main`; `launch` sets what is
/// missing and re-execs this same binary (same pid, so `mpirun` is unaffected; MPI is not
/// initialised yet). Runs once: the new image sees the variables set. A variable the user
/// already set is left alone.
enum OpenBLASEnvironment {
    /// Spin time of an idle OpenBLAS worker thread, as log₂ cycles; 4 is OpenBLAS's minimum.
    /// OpenBLAS's default (2²⁸ cycles, about 0.1 s) keeps its workers calling `sched_yield`
    /// through every non-BLAS region, where they take the cores from the attention heads,
    /// GELU, LayerNorm and AdamW threads: on tiny that was 0.058 against 0.039 s of
    /// attention per step. Sleeping at once costs a wake-up per product, which the
    /// benchmarks did not show.
    static let threadTimeout = "4"

    /// The variables to set: `OPENBLAS_CORETYPE` where Debian's OpenBLAS 0.3.21 mistook the
    /// CPU for a slow fallback family (sgemm about 6× slow), and `OPENBLAS_THREAD_TIMEOUT`.
    static func missingSettings(environment: [String: String] = ProcessInfo.processInfo.environment) -> [(
        String, String
    )] {
        var settings: [(String, String)] = []
        if environment["OPENBLAS_CORETYPE"] == nil,
            let better = OpenBLASKernel.coreTypeToForce(loaded: BLASRuntime.coreName)
        {
            settings.append(("OPENBLAS_CORETYPE", better))
        }
        if environment["OPENBLAS_THREAD_TIMEOUT"] == nil {
            settings.append(("OPENBLAS_THREAD_TIMEOUT", threadTimeout))
        }
        return settings
    }

    static func reexecIfNeeded() {
        let settings = missingSettings()
        guard !settings.isEmpty else { return }
        for (name, value) in settings { setenv(name, value, 1) }
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Only reached if exec failed: carry on, possibly slowly, and say so.
        let listed = settings.map { "\($0.0)=\($0.1)" }.joined(separator: " ")
        fputs(
            """
            warning: re-exec with \(listed) failed (errno \(errno)); OpenBLAS runs \(BLASRuntime.coreName) kernels \
            with its default thread settings\n
            """,
            stderr)
    }
}

/// `launch openblas`: the CPU, the kernel family this process runs, and the core type
/// `launch` set, if any. The scripts use `--coretype` to give other processes (the test
/// runner, parallel-checks) the same kernels.
struct OpenBLAS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openblas",
        abstract: "Show the OpenBLAS kernel family for this CPU (and the OPENBLAS_CORETYPE launch uses).")

    @Flag(
        name: .long,
        help:
            """
            Print only the OPENBLAS_CORETYPE value other processes should use (empty when OpenBLAS's own choice is \
            right).
            """
    )
    var coretype = false

    func run() {
        let coreType = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] ?? ""
        if coretype {
            print(coreType)
            return
        }
        let kernel = BLASRuntime.coreName
        let executable = OpenBLASKernel.canExecute(kernel).map { $0 ? "yes" : "no" } ?? "unknown family"
        print("cpu: \(CPUFeatures.current.modelName)")
        print("kernel: \(kernel)")
        print("fallback: \(OpenBLASKernel.isFallback(kernel) ? "yes" : "no")")
        print("executable on this cpu: \(executable)")
        print("OPENBLAS_CORETYPE: \(coreType.isEmpty ? "(unset)" : coreType)")
        print("threads: \(BLASRuntime.threads)")
        print(
            "OPENBLAS_THREAD_TIMEOUT: \(ProcessInfo.processInfo.environment["OPENBLAS_THREAD_TIMEOUT"] ?? "(unset)")")
    }
}
