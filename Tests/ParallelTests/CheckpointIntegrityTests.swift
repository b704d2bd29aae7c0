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
        try runProcess(ProjectPaths.launch, ["train", "--config", ProjectPaths.config("tiny"), "--run", directory.appendingPathComponent(name).path,
                                             "--set", "train.steps=\(steps)", "--set", "train.save_interval=10", "--set", "train.log_interval=100"])
    }

    /// An edited step, cursor, learning rate or config makes the file damaged: the previous
    /// checkpoint is loaded instead, with a warning naming the file.
    func testEditedAttributesAreCaught() throws {
        let edits: [(String, AttributeValue)] = [("step", .integer(19)), ("cursor", .text("0 0 0 0")), ("lr", .number(0.5)),
                                                 ("config", .text("model: {}\n")), ("optimizer_step", .integer(1))]
        for (attribute, value) in edits {
            XCTAssertEqual(try train(attribute, steps: 20).status, 0)
            let newest = directory.appendingPathComponent("\(attribute)/checkpoints/step-00000020.h5").path
            try rewriteCheckpoint(newest, changing: [attribute: value])
            let resumed = try train(attribute, steps: 30)
            XCTAssertEqual(resumed.status, 0, resumed.stderr)
            XCTAssertTrue(resumed.stderr.contains("warning: checkpoint \(newest) attributes (step, cursor, lr, config, …) fail their checksum; trying an earlier one"),
                          "\(attribute): \(resumed.stderr)")
            XCTAssertTrue(resumed.stdout.contains("at step 10"), "\(attribute): \(resumed.stdout)")
        }
    }

    /// A format-1 checkpoint (no attribute checksum) resumes, with a warning.
    func testFormatOneCheckpointsStillLoad() throws {
        XCTAssertEqual(try train("old", steps: 20).status, 0)
        let newest = directory.appendingPathComponent("old/checkpoints/step-00000020.h5").path
        try rewriteCheckpoint(newest, changing: ["format_version": .integer(1), "attributes_checksum": nil])
        let resumed = try train("old", steps: 30)
        XCTAssertEqual(resumed.status, 0, resumed.stderr)
        XCTAssertTrue(resumed.stderr.contains("warning: checkpoint \(newest) has format 1: its step, cursor, lr and config carry no checksum and are unchecked"), resumed.stderr)
        XCTAssertTrue(resumed.stdout.contains("resumed from \(newest) at step 20"), resumed.stdout)
    }
}
