import Foundation
import HDF5
import TestSupport
import XCTest

/// A failure that one rank sees, or that every rank sees, ends the whole job with one line
/// and a non-zero status, instead of leaving ranks waiting in a collective. Each job runs
/// under `timeout`, so a hang fails the test (status 124) instead of stalling the suite.
final class FailureAgreementTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try makeTemporaryDirectory("tessera-agree") }

    var runPath: String { directory.appendingPathComponent("run").path }

    /// `launch train` of the tiny config on 4 ranks (tp 2 × dp 2), killed after 60 s.
    func train(steps: Int, _ extra: [String] = []) throws -> ProcessResult {
        try MPI.run(ranks: 4, ProjectPaths.launch, ["train", "--config", ProjectPaths.config("tiny"), "--tp", "2", "--run", runPath,
                                                    "--set", "train.steps=\(steps)", "--set", "train.save_interval=10",
                                                    "--set", "train.log_interval=100"] + extra, timeLimit: 60)
    }

    func errorLines(_ result: ProcessResult) -> [Substring] {
        result.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
    }

    /// Every rank finds the checkpoint belongs to another model; one line, exit 2.
    func testAnotherModelsCheckpointEndsEveryRank() throws {
        XCTAssertEqual(try train(steps: 10).status, 0)
        let other = try train(steps: 20, ["--set", "model.d_model=128"])
        XCTAssertNotEqual(other.status, 124, "the job hung")
        XCTAssertNotEqual(other.status, 0)
        XCTAssertEqual(errorLines(other).count, 1, other.stderr)
        XCTAssertTrue(other.stderr.contains("holds another model"), other.stderr)
    }

    /// Only rank 0 writes metrics.jsonl; when it cannot, the other ranks must not wait for it.
    func testAWriteOnlyRankZeroMakesEndsEveryRank() throws {
        XCTAssertEqual(try train(steps: 10).status, 0)
        let metrics = runPath + "/metrics.jsonl"
        try FileManager.default.removeItem(atPath: metrics)
        try FileManager.default.createDirectory(atPath: metrics, withIntermediateDirectories: false)
        let result = try train(steps: 20)
        XCTAssertNotEqual(result.status, 124, "the job hung")
        XCTAssertNotEqual(result.status, 0)
        XCTAssertEqual(errorLines(result), ["error: cannot write \(metrics)"], result.stderr)
    }

    /// A checkpoint that lacks a tensor is damaged like a corrupt one: the previous one is
    /// loaded, and the run says so.
    func testACheckpointMissingATensorFallsBackToThePreviousOne() throws {
        XCTAssertEqual(try train(steps: 20).status, 0)
        let newest = runPath + "/checkpoints/step-00000020.h5"
        try rewriteCheckpoint(newest, dropping: ["optimizer/exp_avg/decoder.layers.0.fc1.weight"])
        let resumed = try train(steps: 30)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("warning: checkpoint \(newest) lacks tensor 'optimizer/exp_avg/decoder.layers.0.fc1.weight'; trying an earlier one"), resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resumed from \(runPath)/checkpoints/step-00000010.h5 at step 10"), resumed.stdout)
    }
}
