import Autograd
import Foundation

/// Debian's OpenBLAS 0.3.21 mistakes recent Xeons for "Prescott" and then runs sgemm about
/// 6× slow. OpenBLAS reads `OPENBLAS_CORETYPE` only while it loads, i.e. before `main`, so
/// the fix is to set it and re-exec this same binary (same pid, so `mpirun` is unaffected;
/// MPI is not initialised yet). Runs once: the new image sees the variable set.
enum OpenBLASCoreType {
    /// Kernel families OpenBLAS falls back to when it does not recognise the CPU.
    static let fallbackCores: Set<String> = ["prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "katmai", "banias", "northwood", "coppermine"]

    static func reexecIfMisdetected() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil,
              fallbackCores.contains(BLASRuntime.coreName.lowercased()),
              let better = bestCoreForThisCPU() else { return }
        setenv("OPENBLAS_CORETYPE", better, 1)
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        // Only reached if exec failed: carry on, slowly, and say so.
        FileHandle.standardError.write(Data("warning: OpenBLAS chose \(BLASRuntime.coreName) kernels and re-exec with OPENBLAS_CORETYPE=\(better) failed (errno \(errno)); matrix products will be slow\n".utf8))
    }

    /// The best OpenBLAS kernel family the CPU flags in /proc/cpuinfo allow.
    static func bestCoreForThisCPU() -> String? {
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8),
              let flagsLine = cpuinfo.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else { return nil }
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        if flags.isSuperset(of: ["avx512f", "avx512bw", "avx512vl", "avx512dq"]) { return "SkylakeX" }
        if flags.isSuperset(of: ["avx2", "fma"]) { return "Haswell" }
        if flags.contains("avx") { return "Sandybridge" }
        return nil
    }
}
