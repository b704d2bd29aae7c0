import Checkpointing
import Configuration
import Model
import Parallel
import Trainer
import XCTest

/// Counts past 32 bits: the 760m config with `train.batch_tokens=512` has 3,710,937,500
/// steps, which `%d` printed as -584029796 and checkpoint names wrapped alike.
final class LargeCountTests: XCTestCase {
    func testStepCountsPast32BitsPrintWhole() throws {
        let record = StepRecord(
            step: 3_000_000_000, tokens: 1 << 40, loss: 1, lr: 1e-4, gradientNorm: 1, tokensPerSecond: 10, seconds: 1)
        XCTAssertTrue(
            record.progressLine(total: 3_710_937_500, eta: 1e9).hasPrefix("step 3000000000/3710937500 | "),
            record.progressLine(total: 3_710_937_500, eta: 1e9))
        XCTAssertTrue(record.progressLine(total: 3_710_937_500, eta: .infinity).hasSuffix("ETA —"))
        XCTAssertTrue(
            RunDirectory(path: "/runs/x").checkpointPath(step: 3_710_937_500).hasSuffix("/step-3710937500.h5"))
        XCTAssertEqual(
            ValidationRecord(step: 4_294_967_297, tokens: 0, loss: 1).progressLine,
            "validation at step 4294967297 | loss 1.0000 | ppl 2.72")
    }

    /// A tensor shard past a 32-bit MPI or BLAS count is one line naming it, before anything runs.
    func testATensorPast32BitCountsIsRefusedAtStart() throws {
        let model = ModelConfig(vocabSize: 1 << 24, dModel: 1 << 8, layers: 1, heads: 4, ffn: 16, seqLen: 8)
        XCTAssertThrowsError(try ParallelContext.validate(worldSize: 1, tp: 1, model: model)) { error in
            XCTAssertEqual(
                "\(error)",
                """
                invalid layout: decoder.embed_tokens.weight [16777216, 256] holds 4294967296 elements per rank at tp \
                1, more than a 32-bit MPI or BLAS count (2147483647) can hold: raise tp
                """
            )
        }
        XCTAssertNoThrow(try ParallelContext.validate(worldSize: 4, tp: 4, model: model))
    }
}
