import Autograd
import Foundation
import TestSupport
import XCTest

/// The built `launch` binary, run as a user runs it.
final class LaunchTests: XCTestCase {
    var environmentWithoutCoreType: [String: String] {
        var environment = ProcessInfo.processInfo.environment
        environment["OPENBLAS_CORETYPE"] = nil
        return environment
    }

    func testPlanPrintsTheParameterCounts() throws {
        for (name, count) in [("350m", "372244480"), ("760m", "784859136"), ("7b", "6723469312")] {
            let result = try runProcess(ProjectPaths.launch, ["plan", "--config", ProjectPaths.config(name)])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertTrue(result.stdout.contains("parameters: \(count)\n"), result.stdout)
            XCTAssertTrue(result.stdout.contains("training FLOPs per token"), result.stdout)
        }
    }

    func testTrainPrintsProgress() throws {
        let config = try temporaryConfig(
            String(contentsOfFile: ProjectPaths.config("tiny"), encoding: .utf8)
                .replacingOnce("steps: 300", with: "steps: 3")
                .replacingOnce("log_interval: 25", with: "log_interval: 1"))
        let result = try runProcess(ProjectPaths.launch, ["train", "--config", config, "--run", config + ".run"])
        addTeardownBlock { try? FileManager.default.removeItem(atPath: config + ".run") }
        XCTAssertEqual(result.status, 0, result.stderr)
        let steps = result.stdout.split(separator: "\n").filter { $0.hasPrefix("step ") }
        XCTAssertEqual(steps.count, 3, result.stdout)
        for field in ["loss ", "ppl ", "lr ", "tok/s", "ETA "] {
            XCTAssertTrue(steps[0].contains(field), "\(field) missing from: \(steps[0])")
        }
    }

    /// `train.validate_at_start` (default true) decides whether step 0 is validated; the
    /// interval's validations run either way.
    func testValidationAtStartIsASetting() throws {
        let directory = try makeTemporaryDirectory("tessera-validate")
        for (setting, expected) in [("true", true), ("false", false)] {
            let run = directory.appendingPathComponent(setting).path
            let result = try runProcess(
                ProjectPaths.launch,
                [
                    "train", "--config", ProjectPaths.config("tiny"), "--run", run, "--set", "train.steps=2",
                    "--set", "train.eval_interval=2", "--set", "train.validate_at_start=\(setting)"
                ])
            XCTAssertEqual(result.status, 0, result.stderr)
            XCTAssertEqual(result.stdout.contains("validation at step 0 |"), expected, result.stdout)
            XCTAssertTrue(result.stdout.contains("validation at step 2 |"), result.stdout)
        }
    }

    /// A bad config exits with status 2 and exactly one line naming the file and key: never
    /// a trap, whether the value would overflow a size product, repeat a key or leave no
    /// room for the masking reserve.
    func testBadConfigExitsWithOneLine() throws {
        let text = try String(contentsOfFile: ProjectPaths.config("tiny"), encoding: .utf8)
        let cases = [
            (try text.replacingOnce("d_model: 64", with: "d_modle: 64"), "model.d_modle"),
            (try text.replacingOnce("  ffn: 256\n", with: ""), "model.ffn"),
            (try text.replacingOnce("layers: 2", with: "layers: [2]"), "model.layers"),
            (try text.replacingOnce("seq_len: 128", with: "seq_len: -64"), "model.seq_len"),
            (try text.replacingOnce("vocab_size: 512", with: "vocab_size: 9223372036854775807"), "model.vocab_size"),
            (try text.replacingOnce("d_model: 64", with: "d_model: 4294967296"), "model.d_model"),
            (try text.replacingOnce("micro_batch: 8", with: "micro_batch: 4611686018427387904"), "train.micro_batch"),
            (
                try text.replacingOnce("  ffn: 256\n", with: "  ffn: 256\n  ffn: 512\n"),
                "model.ffn: given twice (lines 8 and 9)"
            ),
            ("model: {vocab_size: 512, d_model: 64, layers: 1, heads: 4, ffn: 64, seq_len: 8}\n", "data.cm3")
        ]
        for (bad, key) in cases {
            let path = try temporaryConfig(bad)
            for command in ["train", "plan"] {
                let result = try runProcess(
                    ProjectPaths.launch,
                    [command, "--config", path] + (command == "train" ? ["--run", path + ".run"] : []))
                XCTAssertEqual(result.status, 2, result.stderr)
                let lines = result.stderr.split(separator: "\n")
                XCTAssertEqual(lines.count, 1, result.stderr)
                XCTAssertTrue(result.stderr.contains(path) && result.stderr.contains(key), result.stderr)
            }
        }
    }

    /// Counts that must be positive are refused before anything runs, with the option named.
    func testOutOfRangeOptionsAreRefused() throws {
        let config = ProjectPaths.config("tiny")
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-test-\(UUID().uuidString)")
            .path
        let cases: [([String], String)] = [
            (["plan", "--config", config, "--tp", "0"], "--tp must be positive, got 0"),
            (["train", "--config", config, "--tp", "0", "--run", run], "--tp must be positive, got 0"),
            (["train", "--config", config, "--stop-after", "0", "--run", run], "--stop-after must be positive, got 0"),
            (["train", "--config", config, "--stop-after=-2", "--run", run], "--stop-after must be positive, got -2"),
            (["plan", "--config", config, "--world", "4611686018427387904"], "--world must be in 1...65536"),
            (["inspect-data", "--config", config, "--count=-1"], "--count must be positive, got -1"),
            (["bench-data", "--blocks=0"], "--blocks must be positive, got 0")
        ]
        for (arguments, message) in cases {
            let result = try runProcess(ProjectPaths.launch, arguments)
            XCTAssertNotEqual(result.status, 0, arguments.joined(separator: " "))
            XCTAssertTrue(result.stderr.hasPrefix("Error: \(message)"), result.stderr)
            XCTAssertFalse(result.stdout.contains("step "), result.stdout)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: run))
    }

    /// `--resume PATH` that names no file, or a directory, says which, in one line, and
    /// leaves nothing behind.
    func testResumeFromAMissingFileOrADirectoryNamesWhatIsWrong() throws {
        let directory = try makeTemporaryDirectory("tessera-resume-path")
        let missing = directory.appendingPathComponent("step-00000009.h5").path
        for (path, problem) in [(missing, "does not exist"), (directory.path, "is a directory, not a checkpoint file")]
        {
            let run = directory.appendingPathComponent("run-\(UUID().uuidString)").path
            let result = try runProcess(
                ProjectPaths.launch,
                [
                    "train", "--config", ProjectPaths.config("tiny"), "--run", run,
                    "--resume", path
                ])
            XCTAssertEqual(result.status, 2, result.stderr)
            XCTAssertEqual(result.stderr, "error: checkpoint \(path) \(problem)\n")
            XCTAssertFalse(result.stdout.contains("step "), result.stdout)
        }
    }

    /// An error reported to a full disk (standard error on /dev/full) still exits with
    /// status 2 instead of trapping in the write.
    func testReportingToAFullDiskKeepsTheExitStatus() throws {
        guard FileManager.default.fileExists(atPath: "/dev/full") else { throw XCTSkip("no /dev/full") }
        let result = try runProcess(
            "/bin/sh", ["-c", "exec \"$0\" plan --config /nonexistent.yaml 2>/dev/full", ProjectPaths.launch])
        XCTAssertEqual(result.status, 2)
    }

    /// Without OPENBLAS_CORETYPE, launch runs kernels this CPU can execute and, on an AVX2
    /// CPU, not one of OpenBLAS's SSE fallbacks (Debian's OpenBLAS 0.3.21 picks Prescott on
    /// CPUs it does not know), directly and under mpirun. A family OpenBLAS recognised, such
    /// as Zen, is left as it is.
    func testFastKernelsWithoutTheEnvironmentVariable() throws {
        let cpu = CPUFeatures.current
        guard cpu.flags.contains("avx2") else { throw XCTSkip("CPU has no AVX2: nothing faster than the fallback") }
        let direct = try runProcess(ProjectPaths.launch, ["openblas"], environment: environmentWithoutCoreType)
        XCTAssertEqual(direct.status, 0, direct.stderr)
        try assertFastKernel(direct.stdout, cpu: cpu)

        guard let mpirun = MPI.mpirun else { throw XCTSkip("mpirun is not installed") }
        let underMPI = try runProcess(
            mpirun, ["--allow-run-as-root", "--oversubscribe", "-n", "1", ProjectPaths.launch, "openblas"],
            environment: environmentWithoutCoreType)
        XCTAssertEqual(underMPI.status, 0, underMPI.stderr)
        try assertFastKernel(underMPI.stdout, cpu: cpu)
    }

    func assertFastKernel(_ output: String, cpu: CPUFeatures, line: UInt = #line) throws {
        let kernelLine = try XCTUnwrap(
            output.split(separator: "\n").first { $0.hasPrefix("kernel: ") }, output, line: line)
        let kernel = String(kernelLine.dropFirst("kernel: ".count))
        XCTAssertFalse(OpenBLASKernel.isFallback(kernel), "fallback kernel \(kernel) on \(cpu.modelName)", line: line)
        let executable = try XCTUnwrap(
            OpenBLASKernel.canExecute(kernel, on: cpu), "unknown kernel family \(kernel)", line: line)
        XCTAssertTrue(
            executable,
            """
            \(kernel) needs \(OpenBLASKernel.requiredFlags[kernel.lowercased()]!.sorted()), which \(cpu.modelName) \
            lacks
            """,
            line: line)
    }

    /// Where OpenBLAS recognises the CPU, nothing is forced; only a fallback is replaced, by
    /// the best family the CPU's flags allow.
    func testCoreTypeIsForcedOnlyOverAFallback() {
        let zen3 = CPUFeatures(flags: ["sse4_2", "avx", "avx2", "fma"])
        let sapphireRapids = CPUFeatures(
            flags: zen3.flags.union(["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd", "avx512_bf16"]))
        XCTAssertNil(OpenBLASKernel.coreTypeToForce(loaded: "Zen", on: zen3))
        XCTAssertNil(OpenBLASKernel.coreTypeToForce(loaded: "SkylakeX", on: sapphireRapids))
        XCTAssertEqual(OpenBLASKernel.coreTypeToForce(loaded: "Prescott", on: zen3), "Haswell")
        XCTAssertEqual(OpenBLASKernel.coreTypeToForce(loaded: "Prescott", on: sapphireRapids), "SkylakeX")
        XCTAssertNil(OpenBLASKernel.coreTypeToForce(loaded: "Prescott", on: CPUFeatures(flags: ["sse3"])))
    }

    func temporaryConfig(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("tessera-test-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }
}
