import Autograd
import Foundation
import HDF5
import TestSupport
import Trainer
import XCTest

/// Every tp × dp layout computes what one process computes, on real MPI ranks.
final class LayoutTests: XCTestCase {
    /// The tiny model, global batch 8 sequences, 3 AdamW steps, in each layout (and with
    /// gradient accumulation over 2 micro-batches on dp 2, and with activation
    /// checkpointing, whose block inputs are split over tp, on tp 2 × dp 2), against the
    /// single-process run (relative errors, max-abs over the full tensor): the loss of each
    /// of the 3 steps within 1e-5 and every step-0 gradient within 1e-5 (measured: ≤ 2.4e-7;
    /// the issue asks 1e-4).
    ///
    /// Parameters after 3 steps, with configs/tiny.yaml's recipe (linear warmup from lr 0,
    /// clipping at 1.0): within 1e-4 (measured ≤ 5.7e-6). Layouts sum partial results in
    /// another order (the f/g all-reduces of tp, the micro-batches of accumulation), so
    /// gradients differ by fp32 rounding (~1e-7). With a constant lr from step 0 instead,
    /// AdamW's first update, ≈ lr·sign(g), turns that rounding into differences of a
    /// fraction of lr on the few elements whose gradient is itself at the rounding level
    /// (layer 0's out_proj has one): up to 4.2e-3 was measured that way.
    func testEveryLayoutMatchesOneProcess() throws {
        let directory = try makeTemporaryDirectory("tessera-layout")
        let reference = try trace(tp: 1, dp: 1, in: directory)
        let names = reference.datasetNames()
        XCTAssertEqual(names.filter { $0.hasPrefix("grad/") }.count, 2 + 6 * 2)
        XCTAssertEqual(names.filter { $0.hasPrefix("param/") }.count, 2 + 6 * 2)
        let expectedLosses = try reference.readFloats("loss")
        XCTAssertEqual(expectedLosses.count, 3)
        // ZeRO-1 is on by default at dp > 1; the `false` rows run the replicated optimizer.
        for (tp, dp, accumulation, checkpointing, zero) in [
            (2, 1, 1, false, true), (1, 2, 1, false, true), (2, 2, 1, false, true),
            (4, 1, 1, false, true), (2, 4, 1, false, true), (1, 2, 2, false, true),
            (2, 2, 1, true, true), (1, 4, 1, false, false), (2, 2, 1, false, false)
        ] {
            let file = try trace(
                tp: tp, dp: dp, accumulation: accumulation, checkpointing: checkpointing, zero: zero, in: directory)
            let layout = "tp \(tp) dp \(dp) accumulation \(accumulation) checkpointing \(checkpointing) ZeRO \(zero)"
            let losses = try file.readFloats("loss")
            XCTAssertEqual(losses.count, expectedLosses.count, layout)
            for (step, (loss, expected)) in zip(losses, expectedLosses).enumerated() {
                XCTAssertEqual(
                    Double(loss), Double(expected), accuracy: 1e-5 * Double(expected),
                    "\(layout): loss at step \(step)")
            }
            for name in names where name.hasPrefix("grad/") {
                let error = maxRelativeDifference(try file.readFloats(name), try reference.readFloats(name))
                XCTAssertLessThanOrEqual(error, 1e-5, "\(layout): \(name)")
            }
            for name in names where name.hasPrefix("param/") {
                let error = maxRelativeDifference(try file.readFloats(name), try reference.readFloats(name))
                XCTAssertLessThanOrEqual(error, 1e-4, "\(layout): \(name)")
            }
        }
    }

    /// ZeRO-1 computes what the replicated optimizer computes: over 20 steps on tp 1 × dp 4
    /// and tp 2 × dp 2, every loss, step-0 gradient and final parameter within 1e-6 relative. Measured:
    /// bit-identical (the reduce-scatter adds the same terms as the all-reduce, and the
    /// clipping factor came out the same).
    func testTheDistributedOptimizerMatchesTheReplicatedOne() throws {
        let directory = try makeTemporaryDirectory("tessera-zero")
        for (tp, dp) in [(1, 4), (2, 2)] {
            let sharded = try trace(tp: tp, dp: dp, zero: true, steps: 20, in: directory)
            let replicated = try trace(tp: tp, dp: dp, zero: false, steps: 20, in: directory)
            for name in replicated.datasetNames() {
                let error = maxRelativeDifference(try sharded.readFloats(name), try replicated.readFloats(name))
                XCTAssertLessThanOrEqual(error, 1e-6, "tp \(tp) dp \(dp): \(name)")
            }
        }
    }

    /// Layouts that cannot work stop every rank with status 2 and one line from rank 0.
    func testImpossibleLayoutsExitWithOneLine() throws {
        let directory = try makeTemporaryDirectory("tessera-layout")
        let cases: [(ranks: Int, tp: Int, set: [String], message: String)] = [
            (3, 2, [], "world size 3 is not divisible by tp 2"),
            (8, 8, [], "heads 4 are not divisible by tp 8"),
            (4, 4, ["--set", "model.ffn=250"], "ffn 250 is not divisible by tp 4"),
            (2, 2, ["--set", "model.vocab_size=511"], "vocabulary 511 is not divisible by tp 2")
        ]
        for (index, item) in cases.enumerated() {
            let run = directory.appendingPathComponent("layout\(index).run").path
            let result = try MPI.run(
                ranks: item.ranks, ProjectPaths.launch,
                [
                    "train", "--config", ProjectPaths.config("tiny"),
                    "--tp", "\(item.tp)", "--run", run
                ] + item.set)
            XCTAssertNotEqual(result.status, 0, item.message)
            let output = result.stdout + result.stderr
            let ours = output.split(separator: "\n").map(String.init).filter { $0.hasPrefix("error:") }
            XCTAssertEqual(ours, ["error: invalid layout: \(item.message)"], output)
        }
    }

    /// When one rank is killed mid-run the others do not hang: the job ends within 60 s.
    func testAKilledRankEndsTheJob() throws {
        // Every other test here runs mpirun too (scripts/setup.sh installs it): no skip.
        let directory = try makeTemporaryDirectory("tessera-layout")
        let job = try MPI.start(
            ranks: 2, ProjectPaths.launch,
            [
                "train", "--config", ProjectPaths.config("tiny"),
                "--set", "train.steps=1000000", "--run", directory.appendingPathComponent("run").path
            ])
        defer { if job.isRunning { job.terminate() } }
        // Wait until both ranks are training (children of mpirun, running for a while).
        var ranks: [Int32] = []
        for _ in 0..<200 where ranks.count < 2 {
            usleep(100_000)
            ranks = MPI.children(of: job.processIdentifier)
        }
        guard ranks.count == 2 else { return XCTFail("the two ranks did not start: children \(ranks)") }
        sleep(2)
        kill(ranks[1], SIGKILL)
        let killed = Date()
        while job.isRunning && Date().timeIntervalSince(killed) < 60 { usleep(100_000) }
        XCTAssertFalse(job.isRunning, "the surviving rank was still running 60 s after its peer died")
        if !job.isRunning { XCTAssertNotEqual(job.terminationStatus, 0) }
    }

    // MARK: Helpers

    /// Runs `launch trace` on configs/tiny.yaml with a global batch of 8 sequences split over
    /// dp ranks and `accumulation` micro-batches each.
    func trace(
        tp: Int, dp: Int, accumulation: Int = 1, checkpointing: Bool = false, zero: Bool = true, steps: Int = 3,
        in directory: URL
    ) throws -> HDF5File {
        let name = "trace-tp\(tp)-dp\(dp)-acc\(accumulation)-\(checkpointing)-\(zero)-\(steps).h5"
        let out = directory.appendingPathComponent(name).path
        let arguments = [
            "trace", "--config", ProjectPaths.config("tiny"), "--tp", "\(tp)", "--steps", "\(steps)", "--out", out,
            "--set", "train.micro_batch=\(8 / dp / accumulation)", "--set", "train.accumulation=\(accumulation)",
            "--set", "train.activation_checkpointing=\(checkpointing)", "--set",
            "parallel.distributed_optimizer=\(zero)"
        ]
        let result =
            tp * dp == 1
            ? try runProcess(ProjectPaths.launch, arguments)
            : try MPI.run(ranks: tp * dp, ProjectPaths.launch, arguments)
        XCTAssertEqual(result.status, 0, "tp \(tp) dp \(dp): " + result.stderr)
        return try HDF5File.open(out)
    }
}
