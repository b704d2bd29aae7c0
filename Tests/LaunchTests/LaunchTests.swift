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
                .replacingOccurrences(of: "steps: 300", with: "steps: 3")
                .replacingOccurrences(of: "log_interval: 25", with: "log_interval: 1"))
        let result = try runProcess(ProjectPaths.launch, ["train", "--config", config, "--run", config + ".run"])
        addTeardownBlock { try? FileManager.default.removeItem(atPath: config + ".run") }
        XCTAssertEqual(result.status, 0, result.stderr)
        let steps = result.stdout.split(separator: "\n").filter { $0.hasPrefix("step ") }
        XCTAssertEqual(steps.count, 3, result.stdout)
        for field in ["loss ", "ppl ", "lr ", "tok/s", "ETA "] {
            XCTAssertTrue(steps[0].contains(field), "\(field) missing from: \(steps[0])")
        }
    }

    /// A bad config exits non-zero with exactly one line naming the file and key.
    func testBadConfigExitsWithOneLine() throws {
        let text = try String(contentsOfFile: ProjectPaths.config("tiny"), encoding: .utf8)
        let cases = [
            (text.replacingOccurrences(of: "d_model: 64", with: "d_modle: 64"), "model.d_modle"),
            (text.replacingOccurrences(of: "  ffn: 256\n", with: ""), "model.ffn"),
            (text.replacingOccurrences(of: "layers: 2", with: "layers: [2]"), "model.layers"),
            (text.replacingOccurrences(of: "seq_len: 128", with: "seq_len: -64"), "model.seq_len"),
        ]
        for (bad, key) in cases {
            let path = try temporaryConfig(bad)
            for command in ["train", "plan"] {
                let result = try runProcess(ProjectPaths.launch, [command, "--config", path] + (command == "train" ? ["--run", path + ".run"] : []))
                XCTAssertNotEqual(result.status, 0)
                let lines = result.stderr.split(separator: "\n")
                XCTAssertEqual(lines.count, 1, result.stderr)
                XCTAssertTrue(result.stderr.contains(path) && result.stderr.contains(key), result.stderr)
            }
        }
    }

    /// Without OPENBLAS_CORETYPE, launch still gets the kernels this CPU supports
    /// (Debian's OpenBLAS would pick the slow Prescott ones), directly and under mpirun.
    func testFastKernelsWithoutTheEnvironmentVariable() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        guard cpuinfo.contains(" avx2") else { throw XCTSkip("CPU has no AVX2: nothing faster than the fallback") }
        let direct = try runProcess(ProjectPaths.launch, ["bench", "--shape", "tiny", "--steps", "1"],
                                    environment: environmentWithoutCoreType)
        XCTAssertEqual(direct.status, 0, direct.stderr)
        XCTAssertFalse(direct.stdout.contains("OpenBLAS Prescott"), direct.stdout)
        XCTAssertTrue(direct.stdout.contains("OpenBLAS SkylakeX") || direct.stdout.contains("OpenBLAS Haswell"), direct.stdout)

        let mpirun = ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
        guard let mpirun else { throw XCTSkip("mpirun is not installed") }
        let underMPI = try runProcess(mpirun, ["--allow-run-as-root", "--oversubscribe", "-n", "1", ProjectPaths.launch,
                                               "bench", "--shape", "tiny", "--steps", "1"],
                                      environment: environmentWithoutCoreType)
        XCTAssertEqual(underMPI.status, 0, underMPI.stderr)
        XCTAssertFalse(underMPI.stdout.contains("OpenBLAS Prescott"), underMPI.stdout)
        XCTAssertTrue(underMPI.stdout.contains("achieved"), underMPI.stdout)
    }

    func temporaryConfig(_ text: String) throws -> String {
        let path = FileManager.default.temporaryDirectory
            .appendingPathComponent("tessera-test-\(UUID().uuidString).yaml").path
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
        return path
    }
}
