import Foundation
import HDF5
import TestSupport
import XCTest

/// Checksums cover every attribute of a checkpoint, not only its tensors; files written
/// before that (format 1) still load, and the run says their attributes are unchecked.
final class CheckpointIntegrityTests: XCTestCase {
    var directory: URL!

    override func setUpWithError() throws { directory = try makeTemporaryDirectory("tessera-integrity") }

    func train(_ name: String, steps: Int) throws -> ProcessResult {
        try runProcess(
            ProjectPaths.launch,
            [
                "train", "--config", ProjectPaths.config("tiny"), "--run", directory.appendingPathComponent(name).path,
                "--set", "train.steps=\(steps)", "--set", "train.save_interval=10", "--set", "train.log_interval=100"
            ])
    }

    /// An edited step, cursor, learning rate or config makes the file damaged: the previous
    /// checkpoint is loaded instead, with a warning naming the file.
    func testEditedAttributesAreCaught() throws {
        let edits: [(String, AttributeValue)] = [
            ("step", .integer(19)), ("cursor", .text("0 0 0 0")), ("lr", .number(0.5)),
            ("config", .text("model: {}\n")), ("optimizer_step", .integer(1))
        ]
        for (attribute, value) in edits {
            XCTAssertEqual(try train(attribute, steps: 20).status, 0)
            let newest = directory.appendingPathComponent("\(attribute)/checkpoints/step-00000020.h5").path
            try rewriteCheckpoint(newest, changing: [attribute: value])
            let resumed = try train(attribute, steps: 30)
            XCTAssertEqual(resumed.status, 0, resumed.stderr)
            XCTAssertTrue(
                resumed.stderr.contains(
                    """
                    warning: checkpoint \(newest) attributes (step, cursor, lr, config, …) fail their checksum; \
                    trying an earlier one
                    """
                ),
                "\(attribute): \(resumed.stderr)")
            XCTAssertTrue(resumed.stdout.contains("at step 10"), "\(attribute): \(resumed.stdout)")
        }
    }

    /// A format-1 checkpoint (no attribute checksum, whole-tensor checksums) resumes, with a
    /// warning, and says how its tensors were checked.
    func testFormatOneCheckpointsStillLoad() throws {
        XCTAssertEqual(try train("old", steps: 20).status, 0)
        let newest = directory.appendingPathComponent("old/checkpoints/step-00000020.h5").path
        try rewriteCheckpoint(
            newest,
            changing: [
                "format_version": .integer(1), "attributes_checksum": nil,
                "checksums": .text(try wholeTensorChecksums(newest))
            ])
        let resumed = try train("old", steps: 30)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(
            resumed.stderr.contains(
                """
                warning: checkpoint \(newest) has format 1: its step, cursor, lr and config carry no checksum and \
                are unchecked
                """
            ), resumed.stderr)
        XCTAssertTrue(
            resumed.stdout.contains(
                "checkpoint \(newest) has format 1: every rank read each whole tensor and checked its checksum"),
            resumed.stdout)
        XCTAssertTrue(resumed.stdout.contains("resumed from \(newest) at step 20"), resumed.stdout)
    }

    /// A format-2 checkpoint (whole-tensor checksums under an attribute checksum) resumes on
    /// 2 ranks and continues as the format-3 file it was made from does, bit for bit; with a
    /// flipped tensor checksum it is damaged and the previous checkpoint loads instead.
    func testFormatTwoCheckpointsStillLoad() throws {
        XCTAssertEqual(try train("new", steps: 20).status, 0)
        let run = directory.appendingPathComponent("old2").path
        try FileManager.default.copyItem(atPath: directory.appendingPathComponent("new").path, toPath: run)
        let newest = run + "/checkpoints/step-00000020.h5"
        try rewriteCheckpoint(
            newest, changing: ["format_version": .integer(2), "checksums": .text(try wholeTensorChecksums(newest))],
            resealing: true)
        let arguments = { (name: String) in
            [
                "train", "--config", ProjectPaths.config("tiny"), "--run",
                self.directory.appendingPathComponent(name).path, "--tp", "2",
                "--set", "train.steps=30", "--set", "train.save_interval=10", "--set", "train.log_interval=100"
            ]
        }
        let resumed = try MPI.run(ranks: 2, ProjectPaths.launch, arguments("old2"))
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(
            resumed.stdout.contains(
                "checkpoint \(newest) has format 2: every rank read each whole tensor and checked its checksum"),
            resumed.stdout)
        XCTAssertEqual(try MPI.run(ranks: 2, ProjectPaths.launch, arguments("new")).status, 0)
        XCTAssertEqual(
            try trainingLosses(inRun: run), try trainingLosses(inRun: directory.appendingPathComponent("new").path))

        let damaged = directory.appendingPathComponent("damaged").path
        XCTAssertEqual(try train("damaged", steps: 20).status, 0)
        let path = damaged + "/checkpoints/step-00000020.h5"
        let sums = try wholeTensorChecksums(path).replacingOccurrences(
            of: "decoder.embed_tokens.weight ", with: "decoder.embed_tokens.weight 0")
        try rewriteCheckpoint(
            path, changing: ["format_version": .integer(2), "checksums": .text(sums)], resealing: true)
        let fellBack = try train("damaged", steps: 30)
        XCTAssertTrue(
            fellBack.stderr.contains("tensor 'decoder.embed_tokens.weight' fails its checksum; trying an earlier one"),
            fellBack.stderr)
        XCTAssertTrue(fellBack.stdout.contains("at step 10"), fellBack.stdout)
    }
}
