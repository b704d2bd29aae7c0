import ArgumentParser
import Autograd
import Foundation

/// Debian's OpenBLAS 0.3.21 mistakes some recent CPUs for "Prescott" and then runs sgemm
/// about 6× slow. OpenBLAS reads `OPENBLAS_CORETYPE` only while it loads, i.e. before `main`,
/// so the fix is to set it and re-exec this same binary (same pid, so `mpirun` is unaffected;
/// MPI is not initialised yet). Runs once: the new image sees the variable set.
enum OpenBLASCoreType {
    static func reexecIfMisdetected() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              let better = OpenBLASKernel.coreTypeToForce(loaded: BLASRuntime.coreName) else { return }
        setenv("OPENBLAS_CORETYPE", better, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Only reached if exec failed: carry on, slowly, and say so.
        fputs("warning: OpenBLAS chose \(BLASRuntime.coreName) kernels and re-exec with OPENBLAS_CORETYPE=\(better) failed (errno \(errno)); matrix products will be slow\n", stderr)
    }
}

/// `launch openblas`: the CPU, the kernel family this process runs, and the core type
/// `launch` set, if any. The scripts use `--coretype` to give other processes (the test
/// runner, parallel-checks) the same kernels.
struct OpenBLAS: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "openblas",
        abstract: "Show the OpenBLAS kernel family for this CPU (and the OPENBLAS_CORETYPE launch uses).")

    @Flag(name: .long, help: "Print only the OPENBLAS_CORETYPE value other processes should use (empty when OpenBLAS's own choice is right).")
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
    }
}
