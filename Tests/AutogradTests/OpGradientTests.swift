import Autograd
import TestSupport
import XCTest

/// Every op's forward against a Double reference, its gradient against finite differences.
final class OpGradientTests: XCTestCase {
    func testLinear() {
        checkGradients(
            [tensor([5, 7], seed: "x"), tensor([3, 7], seed: "w")],
            forward: { $0.linear($1[0], $1[1]) },
            reference: { Reference.linear($0[0], $0[1], inFeatures: 7) })
    }

    func testLinearKeepsLeadingShape() {
        let tape = Tape()
        let y = tape.linear(tensor([2, 3, 4], seed: "x"), tensor([5, 4], seed: "w"))
        XCTAssertEqual(y.shape, [2, 3, 5])
    }

    func testAdd() {
        checkGradients(
            [tensor([4, 3], seed: "a"), tensor([4, 3], seed: "b")],
            forward: { $0.add($1[0], $1[1]) },
            reference: { zip($0[0], $0[1]).map(+) })
    }

    func testAddOfATensorWithItself() {
        checkGradients(
            [tensor([4, 3], seed: "a")],
            forward: { $0.add($1[0], $1[0]) },
            reference: { $0[0].map { 2 * $0 } })
    }

    func testGelu() {
        checkGradients(
            [tensor([6, 5], seed: "x", scale: 2)],
            forward: { $0.gelu($1[0]) },
            reference: { Reference.gelu($0[0]) })
    }

    /// Inputs nudged at least 0.01 away from the kink at 0, where finite differences of
    /// `max(x, 0)` are not its derivative; 30 values exercise the partial last vector.
    func testRelu() {
        let x = tensor([6, 5], seed: "x", scale: 2)
        for i in 0..<x.count where abs(x.data[i]) < 0.01 { x.data[i] = x.data[i] < 0 ? -0.01 : 0.01 }
        XCTAssertTrue(x.values.contains { $0 < 0 } && x.values.contains { $0 > 0 })
        checkGradients(
            [x],
            forward: { $0.relu($1[0]) },
            reference: { Reference.relu($0[0]) })
    }

    /// At the kink and beyond it: 0 maps to 0 with gradient 0 (as PyTorch takes it), and the
    /// gradient adds into what the input already holds.
    func testReluAtZeroAndAccumulation() {
        let x = Tensor(shape: [5], values: [-2, 0, 3, -0.5, 1e-8], requiresGrad: true)
        x.grad[0] = 10; x.grad[2] = 10
        let tape = Tape()
        let y = tape.relu(x)
        XCTAssertEqual(y.values, [0, 0, 3, 0, 1e-8])
        for i in 0..<5 { y.grad[i] = Float(i + 1) }
        tape.backward()
        XCTAssertEqual(x.gradValues, [10, 0, 13, 0, 5])
    }

    func testLayerNorm() {
        checkGradients(
            [tensor([5, 8], seed: "x", scale: 3)],
            forward: { $0.layerNorm($1[0]) },
            reference: { Reference.layerNorm($0[0], d: 8) })
    }

    func testEmbeddingWithOutOfRangeIds() {
        let ids: [Int32] = [0, 4, 2, 4, 7, -1]
        checkGradients(
            [tensor([5, 3], seed: "table")],
            forward: { $0.embedding($1[0], ids: ids) },
            reference: { Reference.embedding($0[0], d: 3, ids: ids, offset: 0) })
    }

    func testEmbeddingShardWithIdOffset() {
        let ids: [Int32] = [3, 5, 9, 4, 2]  // shard holds ids 3..<6
        checkGradients(
            [tensor([3, 4], seed: "table")],
            forward: { $0.embedding($1[0], ids: ids, idOffset: 3) },
            reference: { Reference.embedding($0[0], d: 4, ids: ids, offset: 3) })
    }

    /// Seq 7 in blocks of 3: the last block is short and the diagonal block is masked.
    func testAttentionWithSequenceNotAMultipleOfTheBlock() {
        let shape = [2 * 7, 6]  // batch 2, seq 7, 2 heads of 3
        checkGradients(
            [tensor(shape, seed: "q"), tensor(shape, seed: "k"), tensor(shape, seed: "v")],
            forward: { $0.causalSelfAttention($1[0], $1[1], $1[2], batch: 2, heads: 2, blockSize: 3) },
            reference: { Reference.attention(q: $0[0], k: $0[1], v: $0[2], batch: 2, heads: 2, width: 6) })
    }

    /// Several blocks of the default size, with large scores (peaked softmax).
    func testAttentionOverSeveralDefaultBlocks() {
        let shape = [1 * 300, 8]  // batch 1, seq 300, 2 heads of 4
        checkGradients(
            [tensor(shape, seed: "q", scale: 2), tensor(shape, seed: "k", scale: 2), tensor(shape, seed: "v")],
            forward: { $0.causalSelfAttention($1[0], $1[1], $1[2], batch: 1, heads: 2) },
            reference: { Reference.attention(q: $0[0], k: $0[1], v: $0[2], batch: 1, heads: 2, width: 8) })
    }

    /// Weights of 0, 0.5, 1 and 2, a padding target (−1), a target past the vocabulary.
    func testCrossEntropyWithLossWeights() {
        let targets: [Int32] = [2, 0, 10, -1, 4, 3]
        let weights: [Float] = [1, 0.5, 1, 1, 0, 2]
        checkGradients(
            [tensor([6, 10], seed: "logits", scale: 2)],
            forward: { $0.crossEntropy($1[0], targets: targets, weights: weights) },
            reference: {
                [Reference.crossEntropy($0[0], vocab: 10, targets: targets, weights: weights.map(Double.init))]
            })
    }

    func testCrossEntropyWithGivenNormalizer() {
        let targets: [Int32] = [1, 2, 3]
        let weights: [Float] = [1, 1, 0]
        checkGradients(
            [tensor([3, 5], seed: "logits")],
            forward: { $0.crossEntropy($1[0], targets: targets, weights: weights, normalizer: 8) },
            reference: {
                [
                    Reference.crossEntropy(
                        $0[0], vocab: 5, targets: targets, weights: weights.map(Double.init), normalizer: 8)
                ]
            })
    }

    /// The fused LM head in chunks of 3 over 10 rows (last chunk short), with weights.
    func testFusedLMHeadCrossEntropy() {
        let targets: [Int32] = [1, 12, 0, -1, 5, 5, 7, 3, 2, 11]
        let weights: [Float] = [1, 1, 0.5, 1, 0, 1, 2, 1, 1, 1]
        checkGradients(
            [tensor([10, 4], seed: "hidden"), tensor([13, 4], seed: "table")],
            forward: { $0.lmHeadCrossEntropy($1[0], table: $1[1], targets: targets, weights: weights, chunkRows: 3) },
            reference: { x in
                let logits = Reference.linear(x[0], x[1], inFeatures: 4)
                return [Reference.crossEntropy(logits, vocab: 13, targets: targets, weights: weights.map(Double.init))]
            })
    }

    /// The fused head equals the unfused linear + cross-entropy, value and gradients.
    func testFusedLMHeadMatchesUnfused() {
        let targets: [Int32] = (0..<9).map { Int32($0 * 5 % 11) }
        let weights = [Float](repeating: 1, count: 9)
        let hidden = tensor([9, 6], seed: "h"), table = tensor([11, 6], seed: "t")
        let fusedTape = Tape()
        let fused = fusedTape.lmHeadCrossEntropy(
            hidden, table: table, targets: targets, weights: weights, chunkRows: 4)
        fusedTape.backward(from: fused)
        let fusedGrads = (hidden.gradValues, table.gradValues)
        hidden.zeroGrad(); table.zeroGrad()
        let tape = Tape()
        let plain = tape.crossEntropy(tape.linear(hidden, table), targets: targets, weights: weights)
        tape.backward(from: plain)
        XCTAssertEqual(fused.scalar, plain.scalar, accuracy: 1e-5)
        for (a, b) in zip(fusedGrads.0, hidden.gradValues) { XCTAssertEqual(a, b, accuracy: 1e-6) }
        for (a, b) in zip(fusedGrads.1, table.gradValues) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    }

    /// Softmax over a whole 64512-wide row stays accurate (the vectorised exp and sums).
    func testCrossEntropyOverTheFullVocabulary() {
        let vocab = 64512
        let logits = tensor([2, vocab], seed: "wide", scale: 3)
        let targets: [Int32] = [17, 60000]
        let tape = Tape()
        let loss = tape.crossEntropy(logits, targets: targets, weights: [1, 1])
        let expected = Reference.crossEntropy(
            logits.values.map(Double.init), vocab: vocab, targets: targets, weights: [1, 1])
        XCTAssertEqual(Double(loss.scalar), expected, accuracy: 1e-4 * abs(expected))
    }
}
