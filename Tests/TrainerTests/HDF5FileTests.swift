import Foundation
import HDF5
import Trainer
import XCTest

final class HDF5FileTests: XCTestCase {
    var path: String!

    override func setUp() {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("tessera-\(UUID().uuidString).h5").path
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: path) }

    func testRoundTripOfDatasetsAndAttributes() throws {
        do {
            let file = try HDF5File.create(path)
            try file.write("decoder.embed_tokens.weight", floats: [1, 2, 3, 4, 5, 6], shape: [3, 2])
            try file.write(
                "optimizer/exp_avg/decoder.embed_tokens.weight", floats: [0.5, 0, 0, 0, 0, -1], shape: [3, 2])
            try file.write("tokens", int32: [7, 8, 9], shape: [3])
            try file.write("doc_offsets", int64: [0, 2, 3], shape: [3])
            try file.setAttribute("config", "model: {}")
            try file.setAttribute("step", Int64(40))
            try file.setAttribute("lr", 2.5e-4)
        }
        let file = try HDF5File.open(path)
        XCTAssertEqual(try file.readFloats("decoder.embed_tokens.weight"), [1, 2, 3, 4, 5, 6])
        XCTAssertEqual(try file.shape(of: "decoder.embed_tokens.weight"), [3, 2])
        XCTAssertEqual(try file.readFloats("optimizer/exp_avg/decoder.embed_tokens.weight").last, -1)
        XCTAssertEqual(try file.readInt32("tokens"), [7, 8, 9])
        XCTAssertEqual(try file.readInt64("doc_offsets"), [0, 2, 3])
        XCTAssertEqual(try file.stringAttribute("config"), "model: {}")
        XCTAssertEqual(try file.integerAttribute("step"), 40)
        XCTAssertEqual(try file.doubleAttribute("lr"), 2.5e-4)
        XCTAssertNil(try file.integerAttribute("absent"))
        XCTAssertEqual(
            file.datasetNames(),
            [
                "decoder.embed_tokens.weight", "doc_offsets",
                "optimizer/exp_avg/decoder.embed_tokens.weight", "tokens"
            ])
        XCTAssertFalse(file.contains("optimizer/exp_avg_sq/x"))
    }

    func testErrorsNameTheFileAndTheProblem() throws {
        do {
            let file = try HDF5File.create(path)
            try file.write("tokens", floats: [1, 2], shape: [2])
        }
        let file = try HDF5File.open(path)
        XCTAssertThrowsError(try file.readInt32("tokens")) {
            XCTAssertEqual("\($0)", "\(path!): dataset 'tokens' has the wrong dtype (expected int32)")
        }
        XCTAssertThrowsError(try file.readFloats("embeddings")) {
            XCTAssertEqual("\($0)", "\(path!): missing dataset 'embeddings'")
        }
        XCTAssertThrowsError(try HDF5File.open("/nonexistent/shard.h5")) {
            XCTAssertEqual("\($0)", "/nonexistent/shard.h5: no such file")
        }
        try "not hdf5".write(toFile: path + ".txt", atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path + ".txt") }
        XCTAssertThrowsError(try HDF5File.open(path + ".txt")) {
            XCTAssertEqual("\($0)", "\(path!).txt: not a readable HDF5 file")
        }
    }
}
