import Foundation
import Storage
import TestSupport
import XCTest

/// `DurableFile`: the target holds the old file or the whole new one, and no temporary is
/// ever left behind.
final class DurableFileTests: XCTestCase {
    func testWriteReplacesTheFileAndLeavesNoTemporary() throws {
        let directory = try makeTemporaryDirectory("tessera-durable")
        let path = directory.appendingPathComponent("out.txt").path
        try DurableFile.write("first\n", to: path)
        try DurableFile.write("second\n", to: path)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "second\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["out.txt"])
    }

    /// A failure while the temporary is being written (here after half of it) leaves the
    /// old file as it was and removes the temporary; the error is the producer's own.
    func testAFailedWriteLeavesTheOldFileAndRemovesTheTemporary() throws {
        struct Interrupted: Error {}
        let directory = try makeTemporaryDirectory("tessera-durable")
        let path = directory.appendingPathComponent("out.txt").path
        try DurableFile.write("old\n", to: path)
        XCTAssertThrowsError(
            try DurableFile.write(path) { temporary in
                XCTAssertEqual(temporary, DurableFile.temporaryPath(for: path))
                try "half of the ne".write(toFile: temporary, atomically: false, encoding: .utf8)
                throw Interrupted()
            }
        ) { XCTAssertTrue($0 is Interrupted, "\($0)") }
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "old\n")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory.path), ["out.txt"])
    }

    /// A file that cannot be created is a `Failure` naming the target.
    func testAnUnwritablePlaceIsAFailureNamingThePath() throws {
        let path = "/nonexistent-directory-\(UUID().uuidString)/out.txt"
        XCTAssertThrowsError(try DurableFile.write("x", to: path)) { error in
            let failure = error as? DurableFile.Failure
            XCTAssertEqual(failure?.path, path, "\(error)")
            XCTAssertTrue(failure?.reason.contains("cannot create") == true, "\(error)")
        }
    }
}
