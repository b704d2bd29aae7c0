import Foundation
import TestSupport
import XCTest

/// Every collective and tensor-parallel layer against single-rank math, on 2 and 4 real MPI
/// ranks (the checks themselves are in Sources/parallel-checks).
final class CollectiveTests: XCTestCase {
    func testCollectivesAndLayersOnTwoRanks() throws { try runChecks(ranks: 2) }

    func testCollectivesAndLayersOnFourRanks() throws { try runChecks(ranks: 4) }

    func runChecks(ranks: Int) throws {
        let result = try MPI.run(ranks: ranks, ProjectPaths.executable("parallel-checks"), [])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        XCTAssertTrue(result.stdout.contains(" passed, 0 failed"), result.stdout)
        XCTAssertFalse(result.stdout.contains("FAIL"), result.stdout)
    }
}
