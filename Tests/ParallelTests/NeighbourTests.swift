import Foundation
import HDF5
import TestSupport
import XCTest

/// `launch retrieve`: neighbours found offline, in parallel and resumably, give training
/// exactly the blocks online retrieval gives, without a bank in memory.
final class NeighbourTests: XCTestCase {
    var directory: URL!
    var data: [String] = []

    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory("tessera-neighbours")
        let shards = directory.appendingPathComponent("shards").path
        let prepared = try runProcess(
            ProjectPaths.launch,
            [
                "prepare", "--config", ProjectPaths.config("small"), "--out", shards, "--documents", "500",
                "--validation-documents", "50"
            ])
        XCTAssertEqual(prepared.status, 0, prepared.stderr)
        data = [
            "--set", "data.train=\(shards)/train-00000.h5", "--set", "data.validation=\(shards)/validation-00000.h5"
        ]
    }

    func path(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func retrieve(_ out: String, ranks: Int = 1, _ extra: [String] = []) throws -> ProcessResult {
        let arguments =
            [
                "retrieve", "--config", ProjectPaths.config("small"), "--epochs", "3", "--chunk-documents", "100",
                "--out",
                path(out)
            ] + data + extra
        return ranks == 1
            ? try runProcess(ProjectPaths.launch, arguments)
            : try MPI.run(ranks: ranks, ProjectPaths.launch, arguments)
    }

    func blocks(_ extra: [String]) throws -> [String] {
        let result = try runProcess(
            ProjectPaths.launch,
            ["inspect-data", "--config", ProjectPaths.config("small"), "--count", "1400", "--json"] + data + extra)
        XCTAssertEqual(result.status, 0, result.stderr)
        return result.stdout.split(separator: "\n").filter { $0.hasPrefix("{") }.map(String.init)
    }

    /// 1,400 blocks (three epochs of 500 documents, query dropout drawn anew in each) are the
    /// same, byte for byte of inspect-data's JSON, with stored neighbours as with online
    /// search; the file made on 2 ranks, stopped after 2 chunks each and resumed, equals the
    /// one made on 1.
    func testStoredNeighboursGiveTheBlocksOfOnlineRetrieval() throws {
        let one = try retrieve("one.h5")
        XCTAssertEqual(one.status, 0, one.stderr)
        let stopped = try retrieve("two.h5", ranks: 2, ["--stop-after-chunks", "2"])
        XCTAssertEqual(stopped.status, 0, stopped.stderr)
        XCTAssertTrue(stopped.stdout.contains("stopped with 11 of 15 chunks to go"), stopped.stdout)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("two.h5")))
        let resumed = try retrieve("two.h5", ranks: 2)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path("two.h5.parts")))
        for dataset in ["candidates", "positions"] {
            XCTAssertEqual(
                try HDF5File.open(path("one.h5")).readInt32(dataset),
                try HDF5File.open(path("two.h5")).readInt32(dataset))
        }
        let online = try blocks([]), stored = try blocks(["--set", "data.neighbours=\(path("two.h5"))"])
        XCTAssertEqual(online.count, 1400)
        XCTAssertTrue(online.contains { $0.contains("\"epoch\":2") })
        XCTAssertGreaterThan(online.filter { $0.contains("\"retrieved\":[{") }.count, 1300, "most blocks retrieve")
        XCTAssertEqual(stored, online)
    }

    /// Neighbours of another seed, or too few epochs for the run, are one line each.
    func testNeighboursOfAnotherRunAreRefused() throws {
        XCTAssertEqual(try retrieve("n.h5").status, 0)
        let other = try runProcess(
            ProjectPaths.launch,
            [
                "inspect-data", "--config", ProjectPaths.config("small"), "--count", "2", "--set", "train.seed=1",
                "--set", "data.neighbours=\(path("n.h5"))"
            ] + data)
        XCTAssertEqual(other.status, 2)
        XCTAssertTrue(
            other.stderr.hasPrefix("error: \(path("n.h5")): was computed for another corpus or seed ("), other.stderr)
        XCTAssertEqual(other.stderr.split(separator: "\n").count, 1, other.stderr)
        let long = try runProcess(
            ProjectPaths.launch,
            [
                "train", "--config", ProjectPaths.config("small"), "--run", path("run"), "--set", "train.steps=200",
                "--set", "data.neighbours=\(path("n.h5"))"
            ] + data)
        XCTAssertEqual(long.status, 2)
        XCTAssertEqual(
            long.stderr,
            "error: \(path("n.h5")): covers 3 epochs, this run's 1600 blocks need 4: run launch retrieve --epochs 4\n")
        let short = try runProcess(
            ProjectPaths.launch,
            [
                "train", "--config", ProjectPaths.config("small"), "--run", path("run"), "--set", "train.steps=3",
                "--set", "data.neighbours=\(path("n.h5"))"
            ] + data)
        XCTAssertEqual(short.status, 0, short.stderr)
    }
}
