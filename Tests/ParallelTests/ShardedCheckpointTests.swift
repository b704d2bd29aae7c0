import Autograd
import Checkpointing
import Configuration
import Foundation
import HDF5
import TestSupport
import XCTest

/// Parallel checkpoints (docs/checkpoint-format.md): every rank writes its own rows of each
/// tensor into the one file and reads back only its part, and no rank gathers a tensor.
final class ShardedCheckpointTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try makeTemporaryDirectory("tessera-sharded") }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    /// `launch train` of the tiny config on 4 ranks for 10 steps (the last one saved).
    func train(_ name: String, tp: Int, zero: Bool = true, extra: [String] = []) throws -> ProcessResult {
        let arguments =
            [
                "train", "--config", ProjectPaths.config("tiny"), "--tp", "\(tp)", "--run", path(name),
                "--set", "train.steps=10", "--set", "train.log_interval=100",
                "--set", "parallel.distributed_optimizer=\(zero)"
            ] + extra
        let result = try MPI.run(ranks: 4, ProjectPaths.launch, arguments)
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        return result
    }

    /// The number just before `marker` on the line of `output` that starts with `prefix`:
    /// in `saved PATH (0.0 s; rank 0 wrote 0.43 MiB, all ranks 1.62 MiB; 0.00 MiB allocated
    /// on rank 0)`, " MiB, all ranks" gives rank 0's 0.43 and " MiB allocated" the 0.00.
    func figure(_ output: String, line prefix: String, before marker: String) throws -> Double {
        let line = try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix(prefix) }, output)
        let end = try XCTUnwrap(line.range(of: marker), String(line)).lowerBound
        return try XCTUnwrap(line[..<end].split(separator: " ").last.flatMap { Double($0) }, String(line))
    }

    /// tp 2 × dp 2 with ZeRO-1: the file holds exactly the tensors `launch trace` gathers from
    /// the same run, its moments equal the replicated optimizer's file, the tensor checksums
    /// written by 4 ranks verify when one process recomputes them, and the save allocated no
    /// buffer (a gather of the full embedding would show its 0.5 MiB).
    func testEveryRankWritesItsRowsOfTheGatheredTensors() throws {
        let saved = try train("zero", tp: 2)
        let checkpoint = path("zero") + "/checkpoints/step-00000010.h5"
        XCTAssertEqual(try figure(saved.stdout, line: "saved \(checkpoint)", before: " MiB allocated"), 0)
        // Rank 0 writes its quarter of the sharded tensors and half of the position table's rows.
        XCTAssertLessThan(try figure(saved.stdout, line: "saved \(checkpoint)", before: " MiB, all ranks"), 0.5)

        let trace = path("trace.h5")
        let traced = try MPI.run(
            ranks: 4, ProjectPaths.launch,
            [
                "trace", "--config", ProjectPaths.config("tiny"), "--tp", "2",
                "--steps", "10", "--out", trace
            ])
        XCTAssertEqual(traced.status, 0, traced.stderr)
        let file = try HDF5File.open(checkpoint), gathered = try HDF5File.open(trace)
        let model = try TesseraConfig.load(path: ProjectPaths.config("tiny")).model
        for spec in model.parameterTable.specs {
            XCTAssertEqual(try file.readFloats(spec.name), try gathered.readFloats("param/" + spec.name), spec.name)
        }

        _ = try train("replicated", tp: 2, zero: false)
        let replicated = try HDF5File.open(path("replicated") + "/checkpoints/step-00000010.h5")
        for name in file.datasetNames() where name.hasPrefix("optimizer/") {
            let error = maxRelativeDifference(try file.readFloats(name), try replicated.readFloats(name))
            XCTAssertLessThanOrEqual(error, 1e-6, name)
        }
        XCTAssertEqual(try Checkpoint.verify(path: checkpoint, model: model).step, 10)
    }

    /// A resume reads about its own part of the file: under tp 4 each rank reads a quarter of
    /// every sharded tensor (and all of the small replicated position table), and with
    /// ZeRO-1 over tp 2 × dp 2 half of each shard's moments; the whole file is 1.6 MiB.
    func testAResumeReadsOnlyTheRanksPart() throws {
        _ = try train("source", tp: 2)
        let checkpoint = path("source") + "/checkpoints/step-00000010.h5"
        let size = Double(try FileManager.default.attributesOfItem(atPath: checkpoint)[.size] as! Int) / 1_048_576
        for (tp, name) in [(4, "tp4"), (2, "zero")] {
            let resumed = try train(name, tp: tp, extra: ["--resume", checkpoint, "--set", "train.steps=11"])
            let read = try figure(resumed.stdout, line: "resumed from \(checkpoint)", before: " MiB, all ranks")
            XCTAssertLessThan(read, 0.5 * size, "\(name): rank 0 read \(read) MiB of \(size)")
            XCTAssertGreaterThan(read, 0.2 * size, "\(name): rank 0 read \(read) MiB of \(size)")
        }
    }

    /// A full file system on 4 ranks: one line naming the file and the space, a non-zero exit,
    /// no temporary file, and the earlier checkpoint untouched. (Without the free-space check
    /// a write that failed inside HDF5's collective close left the ranks waiting on each
    /// other.) Needs a small tmpfs, so root; skipped where mounting is refused.
    func testAFullDiskOnEveryRankIsOneLineAndKeepsTheEarlierCheckpoint() throws {
        _ = try train("source", tp: 2)
        let mountPoint = path("small")
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        guard try runProcess("/bin/mount", ["-t", "tmpfs", "-o", "size=2600k", "tmpfs", mountPoint]).status == 0 else {
            throw XCTSkip("cannot mount a tmpfs here")
        }
        // Lazy: detaches even if a hung rank of a broken build still holds a file there.
        defer { _ = try? runProcess("/bin/umount", ["-l", mountPoint]) }
        let run = mountPoint + "/run"
        try FileManager.default.copyItem(atPath: path("source"), toPath: run)
        let before = try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoints/step-00000010.h5"))
        let arguments = [
            "train", "--config", ProjectPaths.config("tiny"), "--tp", "2", "--run", run,
            "--set", "train.steps=20", "--set", "train.log_interval=100"
        ]
        let result = try MPI.run(ranks: 4, ProjectPaths.launch, arguments, timeLimit: 120)
        XCTAssertNotEqual(result.status, 124, "the job hung")
        XCTAssertNotEqual(result.status, 0)
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        XCTAssertEqual(errors.count, 1, result.stderr)
        XCTAssertTrue(
            errors.first?.hasPrefix(
                "error: checkpoint \(run)/checkpoints/step-00000020.h5 could not be written: it needs") ?? false,
            result.stderr)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run + "/checkpoints"), ["step-00000010.h5"])
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: run + "/checkpoints/step-00000010.h5")), before)
    }
}
