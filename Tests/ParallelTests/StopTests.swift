import Foundation
import TestSupport
import XCTest

/// A stop request in the middle of a long step (many micro-batches) keeps the last
/// completed step: the partial accumulation is dropped, never half-applied.
final class StopTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try makeTemporaryDirectory("tessera-stop") }

    /// 300 micro-batches of 1 sequence a step (about a second here): long enough to be
    /// interrupted inside, a fifth of a second after the step before it ended.
    func arguments(_ name: String) -> [String] {
        [
            "train", "--config", ProjectPaths.config("tiny"), "--run", directory.appendingPathComponent(name).path,
            "--set", "train.steps=3", "--set", "train.micro_batch=1", "--set", "train.accumulation=300",
            "--set", "train.eval_interval=0", "--set", "train.log_interval=1"
        ]
    }

    func losses(_ name: String) throws -> [Int: Double] {
        let path = directory.appendingPathComponent(name).path + "/metrics.jsonl"
        let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
        var result: [Int: Double] = [:]
        for line in text.split(separator: "\n") {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            if let loss = object["loss"] as? Double { result[object["step"] as! Int] = loss }
        }
        return result
    }

    func testSigtermInsideAStepKeepsTheLastCompletedStep() throws {
        XCTAssertEqual(try runProcess(ProjectPaths.launch, arguments("straight")).status, 0)

        let process = Process()
        process.executableURL = URL(fileURLWithPath: ProjectPaths.launch)
        process.arguments = arguments("stopped")
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Step 0 is logged when it completes; stop a moment into step 1.
        for _ in 0..<600 where try losses("stopped").isEmpty { usleep(20_000) }
        usleep(200_000)
        process.terminate()  // SIGTERM
        process.waitUntilExit()
        let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        XCTAssertEqual(process.terminationStatus, 0, stdout)
        XCTAssertTrue(stdout.contains("stop requested during step 1: its partial accumulation is dropped"), stdout)
        XCTAssertTrue(stdout.contains("saved \(directory.path)/stopped/checkpoints/step-00000001.h5"), stdout)

        // Resumed, it computes exactly what the uninterrupted run did.
        let resumed = try runProcess(ProjectPaths.launch, arguments("stopped"))
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("at step 1"), resumed.stdout)
        XCTAssertEqual(try losses("stopped"), try losses("straight"))
    }

    /// A job started by `command` (in a process group of its own, as a terminal holds a job):
    /// once its first step is logged, `signal` goes to its process group; it must save the
    /// last completed step on every rank and exit 0, and resuming must match `straight`.
    func stopJob(_ name: String, _ command: [String], signal: Int32, toGroup: Bool) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: command[0])
        process.arguments = Array(command.dropFirst()) + arguments(name)
        let output = Pipe()
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { kill(-process.processIdentifier, SIGKILL) } }
        // Foundation starts the child as the leader of a process group, as a shell's job is.
        XCTAssertEqual(getpgid(process.processIdentifier), process.processIdentifier)
        for _ in 0..<600 where try losses(name).isEmpty { usleep(20_000) }
        usleep(200_000)
        kill(toGroup ? -process.processIdentifier : process.processIdentifier, signal)
        let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, stdout)
        XCTAssertTrue(stdout.contains("stop requested during step 1: its partial accumulation is dropped"), stdout)
        XCTAssertTrue(stdout.contains("saved \(directory.path)/\(name)/checkpoints/step-00000001.h5"), stdout)
        let resumed = try MPI.run(ranks: 2, ProjectPaths.launch, arguments(name))
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertEqual(try losses(name), try losses("straight-2"))
    }

    /// Ctrl-C in the terminal that runs scripts/mpirun.sh (SIGINT to its process group), and
    /// `kill -USR1` to plain mpirun, both stop a 2-rank job keeping its last completed step.
    func testStoppingAJobUnderMpirun() throws {
        XCTAssertEqual(try MPI.run(ranks: 2, ProjectPaths.launch, arguments("straight-2")).status, 0)
        let script = ProjectPaths.root.appendingPathComponent("scripts/mpirun.sh").path
        try stopJob("script", ["/bin/bash", script, "-n", "2", ProjectPaths.launch], signal: SIGINT, toGroup: true)
        try stopJob(
            "plain", try MPI.command(ranks: 2) + [ProjectPaths.launch],
            signal: SIGUSR1, toGroup: false)
    }
}
