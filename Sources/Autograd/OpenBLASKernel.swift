import Foundation

/// The CPU instruction-set extensions this process may use, from the `flags` line of
/// /proc/cpuinfo (empty where that file does not exist).
public struct CPUFeatures: Sendable {
    public let flags: Set<String>
    /// The `model name` line, e.g. "AMD EPYC 7B13" or "Intel(R) Xeon(R) Platinum 8481C".
    public let modelName: String

    public init(flags: Set<String>, modelName: String = "unknown") {
        self.flags = flags
        self.modelName = modelName
    }

    /// This machine's features.
    public static let current: CPUFeatures = {
        guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
            return CPUFeatures(flags: [])
        }
        let lines = cpuinfo.split(separator: "\n")
        func value(_ key: String) -> Substring? {
            guard let line = lines.first(where: { $0.hasPrefix(key) }),
                let colon = line.firstIndex(of: ":")
            else { return nil }
            return line[line.index(after: colon)...]
        }
        let flags = Set((value("flags") ?? "").split(separator: " ").map(String.init))
        let model = (value("model name") ?? "unknown").trimmingCharacters(in: .whitespaces)
        return CPUFeatures(flags: flags, modelName: model)
    }()
}

/// The x86-64 kernel families a dynamic OpenBLAS build can choose, and what each needs
/// from the CPU. This is the one place that decides `OPENBLAS_CORETYPE`: `launch` asks it
/// before MPI starts, and the scripts ask `launch openblas` rather than repeating it.
public enum OpenBLASKernel {
    /// What each family's kernels execute, by the lower-cased name
    /// `openblas_get_corename()` reports. The families OpenBLAS falls back to on a CPU it does
    /// not recognise need at most SSE4.2.
    public static let requiredFlags: [String: Set<String>] = [
        "katmai": ["sse"], "coppermine": ["sse"], "northwood": ["sse2"], "banias": ["sse2"],
        "prescott": ["sse3"], "atom": ["ssse3"], "core2": ["ssse3"], "penryn": ["sse4_1"],
        "dunnington": ["sse4_1"], "nehalem": ["sse4_2"],
        "athlon": [], "opteron": ["sse2"], "opteron(sse3)": ["sse3"], "barcelona": ["sse4a"], "nano": ["sse3"],
        "sandybridge": ["avx"], "bulldozer": ["avx", "fma4"], "piledriver": ["avx", "fma"],
        "steamroller": ["avx", "fma"], "excavator": ["avx2", "fma"],
        "haswell": ["avx2", "fma"], "zen": ["avx2", "fma"],
        "skylakex": ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"],
        "cooperlake": ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd", "avx512_bf16"],
        "sapphirerapids": ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd", "avx512_bf16"]
    ]

    /// Families that run 128-bit SSE code only: about 6× slower sgemm than an AVX2 family,
    /// which is what an unrecognised AVX2 CPU gets.
    public static let fallbackFamilies: Set<String> = [
        "katmai", "coppermine", "northwood", "banias", "prescott", "atom", "core2", "penryn",
        "dunnington", "nehalem", "unknown"
    ]

    /// Whether `family` is one of the slow fallbacks.
    public static func isFallback(_ family: String) -> Bool {
        fallbackFamilies.contains(family.lowercased())
    }

    /// Whether the CPU can execute `family`'s kernels; nil for a family this table does not know.
    public static func canExecute(_ family: String, on cpu: CPUFeatures = .current) -> Bool? {
        guard let needed = requiredFlags[family.lowercased()] else { return nil }
        return needed.isSubset(of: cpu.flags)
    }

    /// The `OPENBLAS_CORETYPE` to set, or nil to leave OpenBLAS's own choice alone. Only a
    /// fallback choice is overridden: a family OpenBLAS recognised (Zen, Haswell, SkylakeX)
    /// stays, since a forced one has not been measured faster.
    public static func coreTypeToForce(loaded family: String, on cpu: CPUFeatures = .current) -> String? {
        guard isFallback(family) else { return nil }
        for candidate in ["SkylakeX", "Haswell", "Sandybridge"] where canExecute(candidate, on: cpu) == true {
            return candidate
        }
        return nil
    }
}
