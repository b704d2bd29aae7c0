import Foundation
import TestSupport
import XCTest

/// A run directory tells one consistent story: every step's metrics once, whole lines, and
/// checkpoints of one timeline.
final class RunHistoryTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try makeTemporaryDirectory("tessera-history") }

    var run: String { directory.appendingPathComponent("run").path }

    func train(steps: Int, _ extra: [String] = []) throws -> ProcessResult {
        try runProcess(
            ProjectPaths.launch,
            [
                "train", "--config", ProjectPaths.config("tiny"), "--run", run, "--set", "train.steps=\(steps)",
                "--set", "train.save_interval=10", "--set", "train.log_interval=100"
            ] + extra)
    }

    /// The training steps in metrics.jsonl, in file order; fails on a line that is not JSON.
    func loggedSteps() throws -> [Int] {
        let text = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)
        XCTAssertTrue(text.hasSuffix("\n"), "metrics.jsonl ends in half a line")
        return try text.split(separator: "\n").compactMap { line in
            let object = try XCTUnwrap(
                try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], String(line))
            return object["loss"] != nil ? object["step"] as? Int : nil
        }
    }

    func checkpointFiles() throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: run + "/checkpoints").filter { $0.hasSuffix(".h5") }
            .sorted()
    }

    /// `--resume PATH` to an older step moves the newer checkpoints aside and cuts the
    /// metrics there; the next plain run continues the new timeline, not the old one.
    func testResumingAnOlderCheckpointStartsANewTimeline() throws {
        XCTAssertEqual(try train(steps: 30).status, 0)
        let older = run + "/checkpoints/step-00000010.h5"
        let branched = try train(steps: 30, ["--resume", older, "--stop-after", "5"])
        XCTAssertEqual(branched.status, 0, branched.stderr)
        XCTAssertTrue(
            branched.stdout.contains("moved the checkpoints of steps 20, 30 aside to \(run)/checkpoints/abandoned-"),
            branched.stdout)
        XCTAssertEqual(try checkpointFiles(), ["step-00000010.h5", "step-00000015.h5"])
        XCTAssertEqual(try loggedSteps(), Array(0..<15))
        let continued = try train(steps: 30, ["--stop-after", "1"])
        XCTAssertTrue(
            continued.stdout.contains("resumed from \(run)/checkpoints/step-00000015.h5 at step 15"), continued.stdout)
    }

    /// A line cut off by a crash is dropped on resume, and the step is logged again, once.
    func testAHalfWrittenMetricsLineIsRepaired() throws {
        XCTAssertEqual(try train(steps: 10).status, 0)
        let handle = try XCTUnwrap(FileHandle(forWritingAtPath: run + "/metrics.jsonl"))
        handle.seekToEndOfFile()
        handle.write(Data("{\"step\":10,\"lo".utf8))
        try handle.close()
        XCTAssertEqual(try train(steps: 12).status, 0)
        XCTAssertEqual(try loggedSteps(), Array(0..<12))
    }

    /// A full disk while logging ends the run with one line, and the log keeps whole lines.
    func testAFullDiskWhileLoggingGivesOneLine() throws {
        let arguments = [
            "train", "--config", ProjectPaths.config("tiny"), "--run", run, "--set", "train.steps=200",
            "--set", "train.save_interval=0", "--set", "train.eval_interval=0"
        ].map { "'\($0)'" }.joined(separator: " ")
        let result = try runProcess("/bin/bash", ["-c", "ulimit -f 4; exec '\(ProjectPaths.launch)' \(arguments)"])
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertEqual(
            result.stderr.split(separator: "\n"), ["error: cannot write \(run)/metrics.jsonl: File too large"])
        let steps = try loggedSteps()
        XCTAssertEqual(steps, Array(0..<steps.count))
    }
}
