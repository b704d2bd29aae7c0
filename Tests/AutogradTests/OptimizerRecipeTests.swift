import Autograd
import Optim
import XCTest

final class OptimizerRecipeTests: XCTestCase {
    /// Warmup from 0 over 1500 steps to the Table 3 peak, then linear decay to 0.1·peak at
    /// the last step. The step counts are what configs/350m, 760m and 7b.yaml derive from
    /// Table 3's total tokens over 8,388,608 tokens per batch (checked on the configs
    /// themselves by ConfigTests.testShippedConfigsDeriveTheRecipeSchedule).
    func testScheduleAtTheRecipePointsForEachConfig() {
        for (peak, total) in [(6e-4, 166_894), (5e-4, 226_498), (1.2e-4, 286_103)] {
            let schedule = LearningRateSchedule(peak: peak, warmup: 1500, totalSteps: total)
            XCTAssertEqual(schedule(0), 0)
            XCTAssertEqual(schedule(1), peak / 1500, accuracy: peak * 1e-12)
            XCTAssertEqual(schedule(750), peak / 2, accuracy: peak * 1e-12)
            XCTAssertEqual(schedule(1500), peak, accuracy: peak * 1e-12)
            XCTAssertEqual(schedule(total - 1), 0.1 * peak, accuracy: peak * 1e-12)
            let middle = 1500 + (total - 1 - 1500) / 2
            XCTAssertEqual(
                schedule(middle), peak * (1 - 0.9 * Double(middle - 1500) / Double(total - 1 - 1500)),
                accuracy: peak * 1e-12)
            let cosine = LearningRateSchedule(peak: peak, warmup: 1500, totalSteps: total, decay: .cosine)
            XCTAssertEqual(cosine(1500), peak, accuracy: peak * 1e-12)
            XCTAssertEqual(cosine(total - 1), 0.1 * peak, accuracy: peak * 1e-12)
        }
    }

    /// Clipping scales by maxNorm / ‖g‖ when ‖g‖ > maxNorm and leaves small gradients alone;
    /// sharded parameters' squares are summed across the group, replicated ones counted once.
    /// AdamW applies the factor as it reads each gradient: the update equals one from
    /// gradients scaled beforehand.
    func testClippingMatchesTheClosedForm() {
        let sharded = Tensor(shape: [2], requiresGrad: true), replicated = Tensor(shape: [2], requiresGrad: true)
        sharded.grad[0] = 3; sharded.grad[1] = 0
        replicated.grad[0] = 0; replicated.grad[1] = 4
        // Pretend a second tp rank holds a shard with squares summing to 11.
        let (norm, scale) = GradientClipping(maxNorm: 1).measure(sharded: [sharded], replicated: [replicated]) {
            $0 + 11
        }
        XCTAssertEqual(norm, (9 + 11 + 16).squareRoot(), accuracy: 1e-9)
        XCTAssertEqual(Double(scale), 1 / 6, accuracy: 1e-6)

        let prescaled = Tensor(shape: [2], requiresGrad: true)
        prescaled.grad[0] = 3 * scale; prescaled.grad[1] = 0
        let scaledInStep = AdamW(parameters: [("w", sharded, true)]),
            scaledBefore = AdamW(parameters: [("w", prescaled, true)])
        scaledInStep.step(lr: 0.1, gradientScale: scale)
        scaledBefore.step(lr: 0.1)
        XCTAssertEqual(sharded.data[0], prescaled.data[0])
        XCTAssertNotEqual(sharded.data[0], 0)

        let small = Tensor(shape: [1], requiresGrad: true)
        small.grad[0] = 0.5
        let unclipped = GradientClipping(maxNorm: 1).measure(sharded: [small], replicated: []) { $0 }
        XCTAssertEqual(unclipped.norm, 0.5)
        XCTAssertEqual(unclipped.scale, 1)
    }
}
