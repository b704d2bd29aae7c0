import Foundation
import TestSupport
import XCTest

/// `launch train --init-from`: a fresh run from pretrained weights, under another layout,
/// with the optimizer, schedule and data starting fresh; and fine-tuning on task templates.
final class FineTuningTests: XCTestCase {
    var directory: URL!
    var pretrained = ""

    /// The tiny model pretrained for 20 steps.
    override func setUpWithError() throws {
        directory = try makeTemporaryDirectory("tessera-finetune")
        let trained = try train("pretrain", ["--set", "train.steps=20", "--set", "train.save_interval=20"])
        XCTAssertEqual(trained.status, 0, trained.stderr)
        pretrained = run("pretrain") + "/checkpoints/step-00000020.h5"
    }

    func run(_ name: String) -> String { directory.appendingPathComponent(name).path }

    func train(_ name: String, _ extra: [String], ranks: Int = 1) throws -> ProcessResult {
        let arguments =
            ["train", "--config", ProjectPaths.config("tiny"), "--run", run(name), "--set", "train.log_interval=1"]
            + extra
        return ranks == 1
            ? try runProcess(ProjectPaths.launch, arguments)
            : try MPI.run(ranks: ranks, ProjectPaths.launch, arguments + ["--tp", "\(ranks)"])
    }

    /// The validation loss a progress line reports at `step`.
    func validationLoss(_ stdout: String, step: Int) throws -> Double {
        let line = try XCTUnwrap(
            stdout.split(separator: "\n").first { $0.hasPrefix("validation at step \(step) |") }, stdout)
        return try XCTUnwrap(Double(line.split(separator: "|")[1].split(separator: " ")[1]))
    }

    /// Under tp 2, the fine-tuning run starts from step 0 with lr 0 (fresh schedule) and its
    /// step-0 validation loss is the pretrained checkpoint's (`launch eval` in one process):
    /// the weights, and nothing else, came across. Its config.yaml names the checkpoint.
    func testInitFromLoadsTheWeightsUnderAnotherLayoutAndStartsFresh() throws {
        let evaluated = try runProcess(
            ProjectPaths.launch,
            ["eval", "--config", ProjectPaths.config("tiny"), "--checkpoint", pretrained, "--batches", "4"])
        XCTAssertEqual(evaluated.status, 0, evaluated.stderr)
        let object = try JSONSerialization.jsonObject(with: Data(evaluated.stdout.utf8)) as! [String: Any]
        let expected = object["val_loss"] as! Double
        let tuned = try train(
            "tuned", ["--init-from", pretrained, "--set", "train.steps=2", "--set", "train.eval_interval=2"], ranks: 2)
        XCTAssertEqual(tuned.status, 0, tuned.stderr)
        XCTAssertTrue(
            tuned.stdout.contains("initialised the weights from \(pretrained) (step 20 of its run)"), tuned.stdout)
        XCTAssertEqual(try validationLoss(tuned.stdout, step: 0), expected, accuracy: 1.5e-4)
        XCTAssertTrue(tuned.stdout.contains("step 0/2 | "), tuned.stdout)
        XCTAssertTrue(tuned.stdout.contains("| lr 0.00e+00 |"), "a fresh warmup starts at 0: \(tuned.stdout)")
        let config = try String(contentsOfFile: run("tuned") + "/config.yaml", encoding: .utf8)
        XCTAssertTrue(config.contains("init_from: \"\(pretrained)\""), config)
    }

    /// Stopped after 2 of 4 steps and run again, a fine-tuning run resumes its own
    /// checkpoint (not the pretrained one) and matches the uninterrupted run at every step.
    func testInterruptedFineTuningResumesItsOwnCheckpoint() throws {
        let settings = ["--init-from", pretrained, "--set", "train.steps=4", "--set", "train.save_interval=2"]
        XCTAssertEqual(try train("straight", settings).status, 0)
        let first = try train("split", settings + ["--stop-after", "2"])
        XCTAssertEqual(first.status, 0, first.stderr)
        let second = try train("split", settings)
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(
            second.stdout.contains("resumed from \(run("split"))/checkpoints/step-00000002.h5 at step 2"),
            second.stdout)
        XCTAssertFalse(second.stdout.contains("initialised the weights"), second.stdout)
        XCTAssertEqual(try losses("split"), try losses("straight"))
    }

    /// A checkpoint of another shape is one line naming the tensor, and no run directory is
    /// left behind.
    func testAnotherShapeIsOneLineNamingTheTensor() throws {
        let result = try train("wrong", ["--init-from", pretrained, "--set", "model.ffn=128"])
        XCTAssertEqual(result.status, 2)
        XCTAssertEqual(
            result.stderr,
            """
            error: checkpoint \(pretrained) holds another model: decoder.layers.0.fc1.weight is [256, 64], this \
            config needs [128, 64]\n
            """
        )
        XCTAssertFalse(FileManager.default.fileExists(atPath: run("wrong")))
    }

    /// Fine-tuning on the task file: blocks hold templated examples, named in inspect-data.
    func testTaskTemplatesTrainAndShowInInspectData() throws {
        let tasks = ProjectPaths.root.appendingPathComponent("configs/tasks/shapes.yaml").path
        let inspected = try runProcess(
            ProjectPaths.launch,
            [
                "inspect-data", "--config", ProjectPaths.config("tiny"), "--count", "3",
                "--set", "data.tasks=\(tasks)"
            ])
        XCTAssertEqual(inspected.status, 0, inspected.stderr)
        for task in ["captioning", "caption-to-image", "colour-question"] {
            XCTAssertTrue(inspected.stdout.contains("  task \(task): document "), "\(task): \(inspected.stdout)")
        }
        let tuned = try train(
            "tasks", ["--init-from", pretrained, "--set", "train.steps=3", "--set", "data.tasks=\(tasks)"])
        XCTAssertEqual(tuned.status, 0, tuned.stderr)
    }
    func losses(_ name: String) throws -> [Int: String] { try trainingLosses(inRun: run(name)) }
}
