import Foundation
import HDF5
import TestSupport
import XCTest

/// Two hosts for real on one machine (scripts/multihost/two_hosts.sh): network namespaces
/// joined by a veth pair, each with its own host name, ranks over TCP only, Open MPI's
/// daemons started through a `plm_rsh_agent` instead of ssh. Needs root and network
/// namespaces (CI has both); skipped elsewhere.
final class MultiHostTests: XCTestCase {
    var directory: URL!
    var environment: [String: String] = [:]
    let script = ProjectPaths.root.appendingPathComponent("scripts/multihost/two_hosts.sh").path

    override func setUpWithError() throws {
        guard getuid() == 0 else { throw XCTSkip("network namespaces need root") }
        directory = try makeTemporaryDirectory("tessera-hosts")
        // A prefix and subnet of this process's own, so that a manual two_hosts.sh keeps working.
        let tag = Int(getpid()) % 200 + 20
        environment = ProcessInfo.processInfo.environment.merging([
            "TESSERA_HOSTS_STATE": directory.appendingPathComponent("state").path,
            "TESSERA_HOSTS_PREFIX": "tt\(tag)", "TESSERA_HOSTS_SUBNET": "10.79.\(tag)"
        ]) { $1 }
        let up = try runProcess("/bin/bash", [script, "up"], environment: environment)
        guard up.status == 0 else { throw XCTSkip("cannot make network namespaces here: \(up.stderr)") }
    }

    override func tearDownWithError() throws {
        if !environment.isEmpty { _ = try? runProcess("/bin/bash", [script, "down"], environment: environment) }
    }

    func acrossHosts(_ arguments: [String]) throws -> ProcessResult {
        try runProcess("/bin/bash", [script, "mpirun", "-n", "2"] + arguments, environment: environment)
    }

    func train(_ run: String, _ extra: [String] = []) -> [String] {
        [
            ProjectPaths.launch, "train", "--config", ProjectPaths.config("tiny"), "--run",
            directory.appendingPathComponent(run).path, "--set", "train.steps=20", "--set", "train.save_interval=10"
        ] + extra
    }

    /// doctor sees two hosts that agree; training across them, stopped at step 10 and
    /// resumed, ends with the losses and parameters of one host's uninterrupted run, bit
    /// for bit.
    func testTrainingSaveAndResumeAcrossTwoHostsEqualOneHost() throws {
        let doctor = try acrossHosts([
            ProjectPaths.launch, "doctor", "--config", ProjectPaths.config("tiny"), "--run",
            directory.appendingPathComponent("across").path
        ])
        XCTAssertEqual(doctor.status, 0, doctor.stdout + doctor.stderr)
        let prefix = environment["TESSERA_HOSTS_PREFIX"]!
        XCTAssertTrue(doctor.stdout.contains("\(prefix)-a"), doctor.stdout)
        XCTAssertTrue(doctor.stdout.contains("\(prefix)-b"), doctor.stdout)
        XCTAssertTrue(doctor.stdout.contains("all 2 ranks on 2 hosts agree"), doctor.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("across").path))

        let first = try acrossHosts(train("across", ["--stop-after", "10"]))
        XCTAssertEqual(first.status, 0, first.stdout + first.stderr)
        XCTAssertTrue(first.stdout.contains("stopped at step 10"), first.stdout)
        let second = try acrossHosts(train("across"))
        XCTAssertEqual(second.status, 0, second.stdout + second.stderr)
        let oneHost = try MPI.run(ranks: 2, train("one-host")[0], Array(train("one-host").dropFirst()))
        XCTAssertEqual(oneHost.status, 0, oneHost.stderr)

        let across = try trainingLosses(inRun: directory.appendingPathComponent("across").path)
        XCTAssertEqual(across.count, 20)
        XCTAssertEqual(across, try trainingLosses(inRun: directory.appendingPathComponent("one-host").path))
        let a = try HDF5File.open(directory.appendingPathComponent("across/checkpoints/step-00000020.h5").path)
        let b = try HDF5File.open(directory.appendingPathComponent("one-host/checkpoints/step-00000020.h5").path)
        for name in [
            "decoder.embed_tokens.weight", "decoder.layers.1.fc2.weight",
            "optimizer/exp_avg/decoder.layers.0.fc1.weight"
        ] {
            XCTAssertEqual(try a.readFloats(name), try b.readFloats(name), name)
        }
    }

    /// A rank on the other host running another build is refused before any work, in one
    /// line naming the rank and host; so is doctor's view of it.
    func testARankWithAnotherBuildIsRefused() throws {
        let other = directory.appendingPathComponent("launch-other").path
        var bytes = try Data(contentsOf: URL(fileURLWithPath: ProjectPaths.launch))
        bytes.append(0)  // still runs: an ELF file ignores bytes past its sections
        try bytes.write(to: URL(fileURLWithPath: other))
        chmod(other, 0o755)
        let arguments = train("mixed")
        let result = try runProcess(
            "/bin/bash",
            [script, "mpirun", "-n", "1"] + arguments + [":", "-n", "1", other] + arguments.dropFirst(),
            environment: environment)
        XCTAssertEqual(result.status, 2, result.stdout + result.stderr)
        let errors = result.stderr.split(separator: "\n").filter { $0.hasPrefix("error:") }
        XCTAssertEqual(errors.count, 1, result.stderr)
        XCTAssertTrue(
            errors.first?.contains("rank 1 on \(environment["TESSERA_HOSTS_PREFIX"]!)-b: runs another build") ?? false,
            result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("mixed").path))
    }

    /// A hostfile host that does not answer through the launcher is one line naming the
    /// file, the line and the host, before any rank starts.
    func testAHostThatDoesNotAnswerIsOneLine() throws {
        let subnet = environment["TESSERA_HOSTS_SUBNET"]!
        let hostfile = directory.appendingPathComponent("hostfile").path
        try "\(subnet).1 slots=1\n\(subnet).9 slots=1\n".write(toFile: hostfile, atomically: true, encoding: .utf8)
        let agent = ProjectPaths.root.appendingPathComponent("scripts/multihost/netns_agent.sh").path
        let result = try runProcess(
            "/bin/bash",
            [
                ProjectPaths.root.appendingPathComponent("scripts/mpirun.sh").path, "--hostfile", hostfile, "--mca",
                "plm_rsh_agent", agent, "-n", "2"
            ] + train("never"), environment: environment)
        XCTAssertEqual(result.status, 2, result.stderr)
        XCTAssertEqual(result.stderr.split(separator: "\n").count, 1, result.stderr)
        XCTAssertTrue(
            result.stderr.hasPrefix("scripts/mpirun.sh: \(hostfile) line 2: host \(subnet).9 does not answer"),
            result.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory.appendingPathComponent("never").path))
    }
}
