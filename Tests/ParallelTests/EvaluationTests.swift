import Foundation
import TestSupport
import XCTest

/// `launch eval` scores every held-out block exactly once, whatever the layout.
final class EvaluationTests: XCTestCase {
    /// The same loss (to 1e-6), the same count of blocks, on 1, 2 and 4 data-parallel ranks,
    /// and under tp 2 × dp 2; each held-out document of tiny (500, each shorter than a block)
    /// is one block.
    func testHeldOutLossIsTheSameOnEveryLayout() throws {
        let directory = try makeTemporaryDirectory("tessera-eval")
        let run = directory.appendingPathComponent("run").path
        let trained = try runProcess(
            ProjectPaths.launch,
            ["train", "--config", ProjectPaths.config("tiny"), "--run", run, "--set", "train.steps=30"])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        let checkpoint = run + "/checkpoints/step-00000030.h5"
        var scores: [(layout: String, loss: Double, blocks: Int)] = []
        for (ranks, tp) in [(1, 1), (2, 1), (4, 1), (4, 2)] {
            let arguments = [
                "eval", "--config", ProjectPaths.config("tiny"), "--checkpoint", checkpoint, "--tp", "\(tp)"
            ]
            let result =
                ranks == 1
                ? try runProcess(ProjectPaths.launch, arguments)
                : try MPI.run(ranks: ranks, ProjectPaths.launch, arguments)
            XCTAssertEqual(result.status, 0, result.stderr)
            let object = try XCTUnwrap(
                try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any], result.stdout)
            scores.append(("\(ranks) ranks, tp \(tp)", object["val_loss"] as! Double, object["blocks"] as! Int))
            XCTAssertEqual(object["documents"] as? Int, 500)
        }
        for score in scores {
            XCTAssertEqual(score.blocks, 500, score.layout)
            XCTAssertEqual(score.loss, scores[0].loss, accuracy: 1e-6, score.layout)
        }
        XCTAssertLessThan(scores[0].loss, log(512.0) - 0.5, "30 steps learned something")
    }
}
