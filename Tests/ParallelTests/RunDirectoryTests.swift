import Foundation
import TestSupport
import XCTest

/// The run directory is created only for a run that can start, and one trainer at a time
/// writes there.
final class RunDirectoryTests: XCTestCase {
    /// A run refused for its inputs leaves no directory behind.
    func testARejectedRunCreatesNothing() throws {
        let run = try makeTemporaryDirectory("tessera-rejected").appendingPathComponent("run").path
        let result = try runProcess(
            ProjectPaths.launch,
            [
                "train", "--config", ProjectPaths.config("tiny"), "--run", run,
                "--set", "data.train=[/nonexistent/train-00000.h5]"
            ])
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run), "\(run) was created")
    }

    /// A second trainer is refused at once, naming the holder; the lock goes away with the
    /// holder, however it ends.
    func testASecondTrainerIsRefusedUntilTheFirstIsGone() throws {
        let directory = try makeTemporaryDirectory("tessera-lock")
        let run = directory.path
        let first = Process()
        first.executableURL = URL(fileURLWithPath: ProjectPaths.launch)
        first.arguments = [
            "train", "--config", ProjectPaths.config("tiny"), "--run", run, "--set", "train.steps=1000000",
            "--set", "train.save_interval=5", "--set", "train.eval_interval=0"
        ]
        first.standardOutput = FileHandle.nullDevice
        first.standardError = FileHandle.nullDevice
        try first.run()
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL) } }
        // Wait until the first trainer has saved a checkpoint: it holds the lock by then.
        let checkpoints = run + "/checkpoints"
        for _ in 0..<300
        where ((try? FileManager.default.contentsOfDirectory(atPath: checkpoints)) ?? []).filter({
            $0.hasSuffix(".h5")
        }).isEmpty {
            usleep(100_000)
        }
        let metricsBefore = try Data(contentsOf: URL(fileURLWithPath: run + "/metrics.jsonl")).count

        let second = try runProcess(
            ProjectPaths.launch,
            ["train", "--config", ProjectPaths.config("tiny"), "--run", run, "--set", "train.steps=20"])
        XCTAssertEqual(second.status, 2)
        XCTAssertEqual(second.stderr.split(separator: "\n").count, 1, second.stderr)
        XCTAssertTrue(
            second.stderr.hasPrefix(
                "error: run directory \(run) is in use by another trainer (pid \(first.processIdentifier) on host "),
            second.stderr)
        XCTAssertGreaterThanOrEqual(
            try Data(contentsOf: URL(fileURLWithPath: run + "/metrics.jsonl")).count, metricsBefore)

        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        let third = try runProcess(
            ProjectPaths.launch,
            [
                "train", "--config", ProjectPaths.config("tiny"), "--run", run,
                "--set", "train.steps=1000000", "--stop-after", "1", "--set", "train.eval_interval=0"
            ])
        XCTAssertEqual(third.status, 0, third.stderr)
        XCTAssertTrue(third.stdout.contains("resumed from"), third.stdout)
    }
}
