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
        try MPI.run(
            ranks: 4, ProjectPaths.launch,
            [
                "train", "--config", ProjectPaths.config("tiny"), "--tp", "2", "--run", runPath,
                "--set", "train.steps=\(steps)", "--set", "train.save_interval=10",
                "--set", "train.log_interval=100"
            ] + extra, timeLimit: 60)
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

    /// Arguments and the config are read before MPI is up, alike on every rank: a mistake in
    /// them is one line from rank 0, not one per rank, and every rank exits non-zero.
    func testABadArgumentOrKeyIsOneLineFromFourRanks() throws {
        let option = try train(steps: 10, ["--stpes", "3"])
        XCTAssertTrue(option.status != 0 && option.status != 124, option.stderr)
        XCTAssertEqual(
            option.stderr.split(separator: "\n").filter { $0.hasPrefix("Error: Unknown option '--stpes'") }.count, 1,
            option.stderr)
        let key = try train(steps: 10, ["--set", "optim.peak_lrr=1"])
        XCTAssertTrue(key.status != 0 && key.status != 124, key.stderr)
        XCTAssertEqual(errorLines(key), ["error: --set: optim.peak_lrr: unknown key"], key.stderr)
        let missing = try MPI.run(
            ranks: 4, ProjectPaths.launch, ["train", "--config", directory.appendingPathComponent("none.yaml").path],
            timeLimit: 60)
        XCTAssertTrue(missing.status != 0 && missing.status != 124, missing.stderr)
        XCTAssertEqual(errorLines(missing).count, 1, missing.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: runPath), "a refused run made its directory")
        // Where rank 0 reads a good config and the others cannot read theirs, they say so.
        let train = ["train", "--set", "train.steps=3", "--run", runPath, "--config"]
        let job =
            try MPI.command(ranks: 1) + [ProjectPaths.launch] + train + [ProjectPaths.config("tiny")]
            + [":", "-n", "3", ProjectPaths.launch] + train + [directory.appendingPathComponent("none.yaml").path]
        let elsewhere = try runProcess("/usr/bin/timeout", ["60"] + job)
        XCTAssertTrue(elsewhere.status != 0 && elsewhere.status != 124, elsewhere.stderr)
        XCTAssertTrue(
            errorLines(elsewhere).contains { $0.hasSuffix("none.yaml: cannot read the file") }, elsewhere.stderr)
    }

    /// A checkpoint that lacks a tensor is damaged like a corrupt one: the previous one is
    /// loaded, and the run says so.
    func testACheckpointMissingATensorFallsBackToThePreviousOne() throws {
        XCTAssertEqual(try train(steps: 20).status, 0)
        let newest = runPath + "/checkpoints/step-00000020.h5"
        try rewriteCheckpoint(newest, dropping: ["optimizer/exp_avg/decoder.layers.0.fc1.weight"])
        let resumed = try train(steps: 30)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(
            resumed.stderr.contains(
                """
                warning: checkpoint \(newest) lacks tensor 'optimizer/exp_avg/decoder.layers.0.fc1.weight'; trying \
                an earlier one
                """
            ), resumed.stderr)
        XCTAssertTrue(
            resumed.stdout.contains("resumed from \(runPath)/checkpoints/step-00000010.h5 at step 10"), resumed.stdout)
    }
}
