import Foundation
import TestSupport
import XCTest

/// A rank that stops making progress (here: SIGSTOP) ends the job instead of hanging it.
final class WatchdogTests: XCTestCase {
    func testAStoppedRankEndsTheJob() throws {
        let directory = try makeTemporaryDirectory("tessera-watchdog")
        let errors = Pipe()
        let job = try MPI.start(
            ranks: 2, ProjectPaths.launch,
            [
                "train", "--config", ProjectPaths.config("tiny"), "--set", "train.steps=1000000",
                "--set", "train.watchdog_seconds=3", "--set", "train.eval_interval=0",
                "--run", directory.path
            ], standardError: errors)
        var ranks: [Int32] = []
        // On failure, leave no stopped rank behind: SIGKILL ends stopped processes too.
        defer { for rank in ranks + [job.processIdentifier] { kill(rank, SIGKILL) } }
        for _ in 0..<200
        where ranks.count < 2 || !FileManager.default.fileExists(atPath: directory.path + "/metrics.jsonl") {
            usleep(100_000)
            ranks = MPI.children(of: job.processIdentifier)
        }
        guard ranks.count == 2 else { return XCTFail("the two ranks did not start: children \(ranks)") }
        kill(ranks[1], SIGSTOP)
        let stopped = Date()
        while job.isRunning && Date().timeIntervalSince(stopped) < 30 { usleep(100_000) }
        XCTAssertFalse(job.isRunning, "the job still ran 30 s after a rank stopped")
        guard !job.isRunning else { return }
        XCTAssertNotEqual(job.terminationStatus, 0)
        let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        XCTAssertTrue(
            stderr.contains("error: rank 0 on \(String(cString: host)) made no progress for 3 s while "), stderr)
        XCTAssertTrue(stderr.contains("(train.watchdog_seconds 3); ending the job"), stderr)
    }
}
