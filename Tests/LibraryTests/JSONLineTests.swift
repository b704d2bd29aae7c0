import Diagnostics
import Foundation
import XCTest

/// What every JSON line the commands print goes through.
final class JSONLineTests: XCTestCase {
    struct Sample: Encodable {
        let valLoss: Double
        let path: String
        let cellAccuracy: Double?
    }

    func testKeysAreSnakeCaseAndSortedAndNonFiniteNumbersAreStrings() throws {
        XCTAssertEqual(
            try JSONLine.encode(Sample(valLoss: 1.5, path: "runs/a", cellAccuracy: nil)),
            #"{"path":"runs/a","val_loss":1.5}"#)
        let line = try JSONLine.encode(Sample(valLoss: .nan, path: "", cellAccuracy: .infinity))
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        XCTAssertEqual(object?["val_loss"] as? String, "nan", line)
        XCTAssertEqual(object?["cell_accuracy"] as? String, "inf", line)
    }
}
