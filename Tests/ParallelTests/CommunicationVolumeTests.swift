import Foundation
import TestSupport
import XCTest

/// The bytes each rank sends in collectives match Megatron's count for the `tiny` bench
/// shape (b 8, s 256, h 256, L 4, V 1024), so no collective is missing or repeated.
final class CommunicationVolumeTests: XCTestCase {
    let tokens = 8 * 256, hidden = 256, layers = 4

    /// Ring all-reduce: each rank sends 2·(p−1)/p of the buffer.
    func ringBytes(floats: Int, ranks: Int, bytesPerElement: Int = 4) -> Int {
        2 * (ranks - 1) * floats * bytesPerElement / ranks
    }

    func bytes(_ output: String) -> (tensorParallel: Int, dataParallel: Int)? {
        guard let line = output.split(separator: "\n").first(where: { $0.hasPrefix("collectives per step") }) else {
            return nil
        }
        let numbers = line.split(separator: " ").compactMap { Int($0) }
        return numbers.count == 2 ? (numbers[0], numbers[1]) : nil
    }

    /// tp 2: per layer 2 all-reduces of [b·s, h] forward (g after attention and MLP) and 2
    /// backward (f before q/k/v and fc1); 1 for the embedding (g) and 1 for the LM head (f);
    /// the cross-entropy adds 3 all-reduces of b·s floats (max, target logit, sum of exps);
    /// the global gradient norm adds one double: 37,773,320 bytes.
    func testTensorParallelBytesFollowMegatron() throws {
        let result = try MPI.run(
            ranks: 2, ProjectPaths.launch, ["bench", "--shape", "d256-l4", "--steps", "1", "--tp", "2"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let expected =
            (4 * layers + 2) * ringBytes(floats: tokens * hidden, ranks: 2) + 3 * ringBytes(floats: tokens, ranks: 2)
            + ringBytes(floats: 1, ranks: 2, bytesPerElement: 8)
        XCTAssertEqual(bytes(result.stdout)?.tensorParallel, expected, result.stdout)
        XCTAssertEqual(bytes(result.stdout)?.dataParallel, 0, result.stdout)
    }

    /// dp 2: one all-reduce of every gradient (V·h + S·h + 12·L·h² floats) and two scalars
    /// in double (the global token weight and the loss).
    func testDataParallelBytesAreOneGradientAllReduce() throws {
        let result = try MPI.run(
            ranks: 2, ProjectPaths.launch, ["bench", "--shape", "d256-l4", "--steps", "1", "--tp", "1"])
        XCTAssertEqual(result.status, 0, result.stderr)
        let parameters = 1024 * hidden + 256 * hidden + 12 * layers * hidden * hidden
        let expected = ringBytes(floats: parameters, ranks: 2) + 2 * ringBytes(floats: 1, ranks: 2, bytesPerElement: 8)
        XCTAssertEqual(bytes(result.stdout)?.dataParallel, expected, result.stdout)
        XCTAssertEqual(bytes(result.stdout)?.tensorParallel, 0, result.stdout)
    }
}
