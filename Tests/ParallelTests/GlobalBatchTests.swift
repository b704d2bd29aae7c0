import Foundation
import TestSupport
import XCTest

/// The global batch is what the run was started with, whatever dp a resume runs under.
final class GlobalBatchTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try makeTemporaryDirectory("tessera-batch") }

    /// The tiny config (micro_batch 8, no accumulation) on `ranks` ranks of tp 1.
    func train(_ name: String, ranks: Int, steps: Int) throws -> ProcessResult {
        let arguments = [
            "train", "--config", ProjectPaths.config("tiny"), "--run", directory.appendingPathComponent(name).path,
            "--set", "train.steps=\(steps)", "--set", "train.save_interval=10", "--set", "train.log_interval=100"
        ]
        return ranks == 1
            ? try runProcess(ProjectPaths.launch, arguments)
            : try MPI.run(ranks: ranks, ProjectPaths.launch, arguments)
    }

    /// (step, loss, tokens) of each training line in metrics.jsonl.
    func metrics(_ name: String) throws -> [Int: (loss: Double, tokens: Int)] {
        let text = try String(
            contentsOfFile: directory.appendingPathComponent(name).path + "/metrics.jsonl", encoding: .utf8)
        var result: [Int: (Double, Int)] = [:]
        for line in text.split(separator: "\n") {
            let object = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            if let loss = object["loss"] as? Double {
                result[object["step"] as! Int] = (loss, object["tokens"] as! Int)
            }
        }
        return result
    }

    /// Trained on dp 2 (16 sequences a step), resumed on dp 1: accumulation 2 makes up the
    /// same 16 sequences, and the losses follow the straight dp-2 run.
    func testResumingUnderAnotherDpKeepsTheGlobalBatch() throws {
        XCTAssertEqual(try train("straight", ranks: 2, steps: 20).status, 0)
        XCTAssertEqual(try train("split", ranks: 2, steps: 10).status, 0)
        let resumed = try train("split", ranks: 1, steps: 20)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(
            resumed.stdout.contains("resuming under dp 1: accumulation 1 → 2 keeps the global batch of 16 sequences"),
            resumed.stdout)
        let straight = try metrics("straight"), split = try metrics("split")
        XCTAssertEqual(Set(split.keys), Set(0..<20))
        for step in 10..<20 {
            XCTAssertEqual(split[step]!.tokens, straight[step]!.tokens, "step \(step)")
            XCTAssertEqual(
                split[step]!.loss, straight[step]!.loss, accuracy: 1e-4 * straight[step]!.loss, "step \(step)")
        }
    }

    /// A layout that cannot make up the trained batch (8 × dp 3 does not divide 16) is
    /// refused with one line, rather than training on another batch.
    func testAGlobalBatchTheLayoutCannotMakeIsRefused() throws {
        XCTAssertEqual(try train("run", ranks: 2, steps: 10).status, 0)
        let refused = try train("run", ranks: 3, steps: 20)
        XCTAssertEqual(refused.status, 2, refused.stderr)
        let errors = refused.stderr.split(separator: "\n").filter { $0.hasPrefix("error: ") }
        XCTAssertEqual(errors.count, 1, refused.stderr)
        XCTAssertTrue(
            errors.first?.contains(
                "was trained with 16 sequences per step, which micro_batch 8 × dp 3 = 24 does not divide") ?? false,
            refused.stderr)
    }
}
