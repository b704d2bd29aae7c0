import Foundation
import TestSupport
import XCTest

/// Every collective and tensor-parallel layer against single-rank math, on 2 and 4 real MPI
/// ranks (the checks themselves are in Sources/parallel-checks).
final class CollectiveTests: XCTestCase {
    func testCollectivesAndLayersOnTwoRanks() throws { try runChecks(ranks: 2) }

    func testCollectivesAndLayersOnFourRanks() throws { try runChecks(ranks: 4) }

    /// The checks parallel-checks runs (one `try check(…)` each in its main.swift): all must
    /// run and pass, so a run that checks nothing ("0 passed, 0 failed") fails here.
    let checkCount = 29

    func runChecks(ranks: Int) throws {
        let result = try MPI.run(ranks: ranks, ProjectPaths.executable("parallel-checks"), [])
        XCTAssertEqual(result.status, 0, result.stdout + result.stderr)
        let lines = result.stdout.split(separator: "\n")
        XCTAssertEqual(lines.filter { $0.hasPrefix("ok  ") }.count, checkCount, result.stdout)
        XCTAssertEqual(lines.last, "\(checkCount) passed, 0 failed", result.stdout)
        XCTAssertFalse(result.stdout.contains("FAIL"), result.stdout)
    }
}
