import Checkpointing
import Configuration
import Foundation
import HDF5
import TestSupport
import Trainer
import XCTest

/// Stopping and resuming, as a user does it: the same command again.
final class ResumeTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try makeTemporaryDirectory("tessera-resume") }

    func run(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// `launch train` of the tiny config for `steps` steps on `ranks` ranks (1: no mpirun).
    @discardableResult
    func train(
        _ name: String, ranks: Int = 4, tp: Int = 2, steps: Int = 40, microBatch: Int? = nil, extra: [String] = [],
        environment: [String: String]? = nil, expectSuccess: Bool = true
    ) throws -> ProcessResult {
        var arguments = [
            "train", "--config", ProjectPaths.config("tiny"), "--tp", "\(tp)", "--run", run(name),
            "--set", "train.steps=\(steps)", "--set", "train.save_interval=10", "--set", "train.log_interval=100"
        ]
        if let microBatch { arguments += ["--set", "train.micro_batch=\(microBatch)"] }
        arguments += extra
        let result =
            ranks == 1
            ? try runProcess(ProjectPaths.launch, arguments, environment: environment)
            : try MPI.run(ranks: ranks, ProjectPaths.launch, arguments, environment: environment)
        if expectSuccess { XCTAssertEqual(result.status, 0, result.stdout + result.stderr) }
        return result
    }

    func losses(_ name: String) throws -> [Int: String] { try trainingLosses(inRun: run(name)) }

    /// 40 steps straight and 20 + stop + resume 20 give the same loss at every step, bit for
    /// bit, on tp 2 × dp 2 with ZeRO-1 (the default); the step-20 checkpoint resumed as
    /// tp 1 × dp 4 with and without ZeRO-1, as tp 2 × dp 2 without it, and as tp 4 × dp 1
    /// (same global batch) continues within 1e-4 relative of the straight run.
    func testExactResumeAndResumeUnderOtherLayouts() throws {
        try train("straight")
        try train("split", extra: ["--stop-after", "20"])
        XCTAssertEqual(try losses("split").count, 20)
        try train("split")
        let straight = try losses("straight"), split = try losses("split")
        XCTAssertEqual(straight.count, 40)
        XCTAssertEqual(split, straight)
        // Saved at 10, 20, 30, 40; train.keep_checkpoints (3) keeps the newest three.
        let kept = try FileManager.default.contentsOfDirectory(atPath: run("straight") + "/checkpoints").sorted()
        XCTAssertEqual(kept, ["step-00000020.h5", "step-00000030.h5", "step-00000040.h5"])

        let checkpoint = run("split") + "/checkpoints/step-00000020.h5"
        for (tp, microBatch, zero) in [(1, 4, true), (1, 4, false), (2, 8, false), (4, 16, true)] {
            let name = "relayout-tp\(tp)-zero-\(zero)"
            try train(
                name, tp: tp, microBatch: microBatch,
                extra: ["--resume", checkpoint, "--set", "parallel.distributed_optimizer=\(zero)"])
            let resumed = try losses(name)
            XCTAssertEqual(Set(resumed.keys), Set(20..<40))
            for (step, loss) in resumed {
                let expected = Double(straight[step]!)!
                XCTAssertEqual(
                    Double(loss)!, expected, accuracy: 1e-4 * expected, "tp \(tp) ZeRO \(zero) step \(step)")
            }
        }
    }

    /// Killed by SIGKILL while writing the step-20 checkpoint: the next run resumes from
    /// step 10 and no partial file stands under a final name.
    func testKilledWhileSavingResumesFromThePreviousCheckpoint() throws {
        try train("crash", ranks: 1, tp: 1, extra: ["--stop-after", "10"])
        var environment = ProcessInfo.processInfo.environment
        environment["TESSERA_TEST_KILL_DURING_SAVE"] = "1"
        let killed = try train("crash", ranks: 1, tp: 1, environment: environment, expectSuccess: false)
        XCTAssertNotEqual(killed.status, 0)
        let names = try FileManager.default.contentsOfDirectory(atPath: run("crash") + "/checkpoints").sorted()
        XCTAssertEqual(names.filter { $0.hasSuffix(".h5") }, ["step-00000010.h5"], "\(names)")
        let resumed = try train("crash", ranks: 1, tp: 1)
        XCTAssertTrue(
            resumed.stdout.contains("resumed from \(run("crash"))/checkpoints/step-00000010.h5 at step 10"),
            resumed.stdout)
    }

    /// When checkpoints exist and none loads, the run stops with one line and exit 2, and
    /// leaves every file as it was; `--resume none` starts over.
    func testNoLoadableCheckpointNeverRestartsSilently() throws {
        try train("fresh", ranks: 1, tp: 1, steps: 10)
        let straight = try losses("fresh")
        let checkpoint = run("fresh") + "/checkpoints/step-00000010.h5"
        try flipByteInTensor(checkpoint, tensor: "decoder.layers.1.fc1.weight")
        let files = [checkpoint, run("fresh") + "/metrics.jsonl", run("fresh") + "/config.yaml"]
        let before = try files.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        let again = try train("fresh", ranks: 1, tp: 1, steps: 20, expectSuccess: false)
        XCTAssertEqual(again.status, 2)
        let errors = again.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        XCTAssertEqual(
            errors,
            [
                """
                error: no checkpoint in \(run("fresh"))/checkpoints can be loaded (1 tried, each named above); \
                nothing was changed. Start over with --resume none
                """
            ])
        XCTAssertTrue(again.stderr.contains("fails its checksum; trying an earlier one"), again.stderr)
        XCTAssertEqual(try files.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }, before)
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: run("fresh") + "/checkpoints"), ["step-00000010.h5"])

        let fresh = try train("fresh", ranks: 1, tp: 1, steps: 10, extra: ["--resume", "none"])
        XCTAssertFalse(fresh.stdout.contains("resumed from"), fresh.stdout)
        XCTAssertEqual(try losses("fresh"), straight)
    }

    /// A bit-flipped or truncated newest checkpoint is named in a warning and skipped for the
    /// next newest; a checkpoint of another model shape is refused with one line.
    func testCorruptCheckpointsAreSkippedAndOtherModelsRefused() throws {
        try train("corrupt", ranks: 1, tp: 1, steps: 20)
        let newest = run("corrupt") + "/checkpoints/step-00000020.h5"
        try flipByteInTensor(newest, tensor: "decoder.layers.1.fc1.weight")
        var result = try train("corrupt", ranks: 1, tp: 1, steps: 30)
        XCTAssertTrue(
            result.stderr.contains(
                "warning: checkpoint \(newest) tensor 'decoder.layers.1.fc1.weight' fails its checksum"), result.stderr
        )
        XCTAssertTrue(
            result.stdout.contains("resumed from \(run("corrupt"))/checkpoints/step-00000010.h5 at step 10"),
            result.stdout)

        // That run set the corrupt step 20 aside (it is past the step it resumed from), saved
        // a new 20 and 30; keep_checkpoints (3) keeps 10, 20 and 30. With 30 truncated, the
        // newest that verifies is the new 20.
        let kept = try FileManager.default.contentsOfDirectory(atPath: run("corrupt") + "/checkpoints").sorted()
        XCTAssertEqual(
            kept.filter { $0.hasSuffix(".h5") }, ["step-00000010.h5", "step-00000020.h5", "step-00000030.h5"])
        let abandoned = try XCTUnwrap(kept.first { $0.hasPrefix("abandoned-") }, "\(kept)")
        XCTAssertEqual(
            try FileManager.default.contentsOfDirectory(atPath: run("corrupt") + "/checkpoints/" + abandoned),
            ["step-00000020.h5"])
        let latest = run("corrupt") + "/checkpoints/step-00000030.h5"
        let data = try Data(contentsOf: URL(fileURLWithPath: latest))
        try data.prefix(data.count / 2).write(to: URL(fileURLWithPath: latest))
        result = try train("corrupt", ranks: 1, tp: 1, steps: 35)
        XCTAssertTrue(result.stderr.contains("warning: checkpoint \(latest)"), result.stderr)
        XCTAssertTrue(result.stdout.contains("resumed from \(newest) at step 20"), result.stdout)

        let other = try train(
            "corrupt", ranks: 1, tp: 1, steps: 40, extra: ["--set", "model.d_model=128"], expectSuccess: false)
        XCTAssertEqual(other.status, 2)
        let lines = other.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, other.stderr)
        XCTAssertTrue(
            other.stderr.contains(
                "holds another model: decoder.embed_tokens.weight is [512, 64], this config needs [512, 128]"),
            other.stderr)
    }

    /// `model.activation` is part of the model: a checkpoint trained with the other one is
    /// refused with one line, by `train` and by `eval`, like one of another shape. A
    /// checkpoint written before the key existed (no activation in its config) is GELU's.
    func testCheckpointsOfAnotherActivationAreRefused() throws {
        let relu = ["--set", "model.activation=relu"]
        try train("relu", ranks: 1, tp: 1, steps: 10, extra: relu)
        let reluCheckpoint = run("relu") + "/checkpoints/step-00000010.h5"
        XCTAssertTrue(
            try HDF5File.open(reluCheckpoint).stringAttribute("config")?.contains("  activation: relu\n") ?? false)
        let resumed = try train("relu", ranks: 1, tp: 1, steps: 20, extra: relu)
        XCTAssertTrue(resumed.stdout.contains("resumed from \(reluCheckpoint) at step 10"), resumed.stdout)

        func assertRefused(
            _ result: ProcessResult, _ checkpoint: String, stored: String, needed: String, line: UInt = #line
        ) {
            XCTAssertEqual(result.status, 2, result.stdout + result.stderr, line: line)
            XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr, line: line)
            XCTAssertTrue(
                result.stderr.contains(
                    """
                    error: checkpoint \(checkpoint) holds another model: model.activation is \(stored), this config \
                    needs \(needed)
                    """
                ),
                result.stderr, line: line)
        }
        let newest = run("relu") + "/checkpoints/step-00000020.h5"
        assertRefused(
            try train("relu", ranks: 1, tp: 1, steps: 30, expectSuccess: false), newest, stored: "relu", needed: "gelu"
        )
        let eval = try runProcess(
            ProjectPaths.launch,
            ["eval", "--config", ProjectPaths.config("tiny"), "--checkpoint", newest, "--batches", "1"])
        assertRefused(eval, newest, stored: "relu", needed: "gelu")

        // Written before model.activation existed: a GELU model, whatever else it says.
        try train("older", ranks: 1, tp: 1, steps: 10)
        let older = run("older") + "/checkpoints/step-00000010.h5"
        let config = try XCTUnwrap(try HDF5File.open(older).stringAttribute("config"))
        XCTAssertTrue(config.contains("  activation: gelu\n"), config)
        try rewriteCheckpoint(
            older, changing: ["config": .text(config.replacingOccurrences(of: "  activation: gelu\n", with: ""))],
            resealing: true)
        assertRefused(
            try train("older", ranks: 1, tp: 1, steps: 20, extra: relu, expectSuccess: false), older, stored: "gelu",
            needed: "relu")
        let loaded = try train("older", ranks: 1, tp: 1, steps: 20)
        XCTAssertTrue(loaded.stdout.contains("resumed from \(older) at step 10"), loaded.stdout)
        XCTAssertFalse(loaded.stderr.contains("warning"), loaded.stderr)
    }

    /// Bad inputs exit non-zero with one line and leave earlier checkpoints readable.
    func testBadRunsExitWithOneLineAndKeepCheckpoints() throws {
        try train("safe", ranks: 1, tp: 1, steps: 10)
        let earlier = run("safe") + "/checkpoints/step-00000010.h5"
        let unknown = try train("safe", ranks: 1, tp: 1, extra: ["--set", "optim.peak_lrr=1"], expectSuccess: false)
        XCTAssertEqual(unknown.stderr, "error: --set: optim.peak_lrr: unknown key\n")
        let badValue = try train("safe", ranks: 1, tp: 1, extra: ["--set", "optim.decay=steps"], expectSuccess: false)
        XCTAssertTrue(
            badValue.stderr.hasSuffix("optim.decay: expected linear or cosine, got 'steps'\n"), badValue.stderr)
        let unwritable = try runProcess(
            ProjectPaths.launch, ["train", "--config", ProjectPaths.config("tiny"), "--run", "/proc/tessera-run"])
        XCTAssertEqual(unwritable.status, 2)
        XCTAssertEqual(unwritable.stderr.split(separator: "\n").count, 1, unwritable.stderr)
        XCTAssertTrue(
            unwritable.stderr.hasPrefix("error: cannot create run directory /proc/tessera-run"), unwritable.stderr)

        // A full disk while saving: a 256 KiB file-size limit makes the 1.6 MiB checkpoint fail.
        let arguments = [
            "train", "--config", ProjectPaths.config("tiny"), "--run", run("safe"), "--set", "train.steps=20",
            "--set", "train.save_interval=10"
        ].map { "'\($0)'" }.joined(separator: " ")
        let full = try runProcess("/bin/bash", ["-c", "ulimit -f 256; exec '\(ProjectPaths.launch)' \(arguments)"])
        XCTAssertNotEqual(full.status, 0)
        XCTAssertEqual(full.stderr.split(separator: "\n").count, 1, full.stderr)
        XCTAssertTrue(full.stderr.contains("step-00000020.h5 could not be written"), full.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: run("safe") + "/checkpoints/step-00000020.h5.tmp"))
        let config = try TesseraConfig.load(path: ProjectPaths.config("tiny"))
        XCTAssertEqual(try Checkpoint.verify(path: earlier, model: config.model).step, 10)
    }

    /// SIGTERM finishes the current step, saves a checkpoint and exits 0.
    func testSigtermSavesAndExitsCleanly() throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProjectPaths.launch)
        process.arguments = [
            "train", "--config", ProjectPaths.config("tiny"), "--run", run("term"), "--set", "train.steps=1000000"
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Wait until training is under way (metrics appear), then ask it to stop.
        for _ in 0..<300 where (try? losses("term"))?.isEmpty ?? true { usleep(100_000) }
        usleep(500_000)
        process.terminate()  // SIGTERM
        process.waitUntilExit()
        XCTAssertEqual(process.terminationReason, .exit)
        XCTAssertEqual(process.terminationStatus, 0)
        let checkpoints = try FileManager.default.contentsOfDirectory(atPath: run("term") + "/checkpoints").filter {
            $0.hasSuffix(".h5")
        }
        XCTAssertEqual(checkpoints.count, 1, "\(checkpoints)")
        // The checkpoint holds every step that finished (each wrote its loss), a valid model.
        let stepsRun = try losses("term").count
        XCTAssertGreaterThan(stepsRun, 0, "SIGTERM came before the first step finished")
        XCTAssertEqual(checkpoints.first, String(format: "step-%08d.h5", stepsRun))
        let config = try TesseraConfig.load(path: ProjectPaths.config("tiny"))
        XCTAssertEqual(
            try Checkpoint.verify(path: run("term") + "/checkpoints/" + (checkpoints.first ?? ""), model: config.model)
                .step, stepsRun)
    }

    /// Ranks that see different checkpoint listings still resume from one checkpoint, rank
    /// 0's. Launched MPMD, rank 0 trains in a directory holding steps 10 and 20, and rank 1
    /// is pointed at a directory holding only step 10, as when files change while ranks start.
    func testEveryRankResumesFromTheLeadersListing() throws {
        try train("leader", ranks: 2, tp: 2, steps: 20)
        let other = run("other")
        try FileManager.default.createDirectory(atPath: other + "/checkpoints", withIntermediateDirectories: true)
        try FileManager.default.copyItem(
            atPath: run("leader") + "/checkpoints/step-00000010.h5",
            toPath: other + "/checkpoints/step-00000010.h5")
        func arguments(_ name: String) -> [String] {
            [
                "train", "--config", ProjectPaths.config("tiny"), "--tp", "2", "--run", run(name),
                "--set", "train.steps=30", "--set", "train.save_interval=10", "--set", "train.log_interval=100"
            ]
        }
        let job =
            try MPI.command(ranks: 1) + [ProjectPaths.launch] + arguments("leader") + [
                ":", "-n", "1", ProjectPaths.launch
            ] + arguments("other")
        let result = try runProcess("/usr/bin/timeout", ["120"] + job)
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(
            result.stdout.contains("resumed from \(run("leader"))/checkpoints/step-00000020.h5 at step 20"),
            result.stdout)
        XCTAssertEqual(Set(try losses("leader").keys), Set(0..<30))
    }

    /// A run that cannot fit in this machine's memory stops at once with an estimate.
    func testTooLargeARunFailsFastWithAnEstimate() throws {
        let result = try runProcess(
            ProjectPaths.launch, ["train", "--config", ProjectPaths.config("7b"), "--tp", "1", "--run", run("7b")])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(result.stderr.hasPrefix("error: out of memory: this run needs about"), result.stderr)
    }

    /// Flips one byte inside a tensor's stored values (found by searching for its bytes).
    func flipByteInTensor(_ path: String, tensor: String) throws {
        let values = try HDF5File.open(path).readFloats(tensor)
        let pattern = values.prefix(8).withUnsafeBytes { Data($0) }
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard let range = data.range(of: pattern) else { return XCTFail("tensor bytes not found") }
        data[range.lowerBound + 100] ^= 0x40
        try data.write(to: URL(fileURLWithPath: path))
    }
}
