import Autograd
import CM3Objective
import Configuration
import Generation
import Model
import Randomness
import TestSupport
import XCTest

/// A tiny decoder whose every weight is random (the init zeroes the output layers, which
/// would leave attention untested).
func randomDecoder(seqLen: Int = 64) -> CM3LeonDecoder {
    let model = ModelConfig(vocabSize: 96, dModel: 32, layers: 2, heads: 4, ffn: 64, seqLen: seqLen)
    let decoder = CM3LeonDecoder(config: model, seed: 3)
    for parameter in decoder.parameters {
        let values = randomValues(parameter.tensor.count, seed: parameter.name, scale: 0.3)
        for i in 0..<values.count { parameter.tensor.pointer[i] = values[i] }
    }
    return decoder
}

final class CachedDecodingTests: XCTestCase {
    func assertClose(_ a: [Float], _ b: [Float], _ message: String, file: StaticString = #filePath, line: UInt = #line)
    {
        XCTAssertEqual(a.count, b.count, message, file: file, line: line)
        let scale = max(b.map(abs).max() ?? 1, 1e-6)
        let worst = zip(a, b).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst / scale, 1e-5, message, file: file, line: line)
    }

    /// Two sequences of different lengths in one cache, fed a prompt at once and then a
    /// token or a few at a time: the logits after every token equal a full forward pass's
    /// at that position, within 1e-5 relative.
    func testCachedLogitsEqualAFullForwardPass() {
        let decoder = randomDecoder()
        var generator = SplitMix64(seed: 1, name: "tokens")
        let sequences = (0..<2).map { s in (0..<(30 + 7 * s)).map { _ in Int32(generator.nextInt(below: 96)) } }
        let full = sequences.map { decoder.fullForwardLogits($0) }
        let cache = decoder.makeCache(sequences: 2, capacity: 64)
        var fed = [5, 9]
        var logits = decoder.nextTokenLogits([Array(sequences[0][..<5]), Array(sequences[1][..<9])], cache: cache)
        for s in 0..<2 { assertClose(logits[s], full[s][fed[s] - 1], "prefill of sequence \(s)") }
        var step = 0
        while fed[0] < sequences[0].count || fed[1] < sequences[1].count {
            // Sequence 1 takes three tokens at a time, sequence 0 one; a finished one none.
            let take = [1, 3].enumerated().map { s, n in min(n, sequences[s].count - fed[s]) }
            logits = decoder.nextTokenLogits(
                (0..<2).map { Array(sequences[$0][fed[$0]..<(fed[$0] + take[$0])]) }, cache: cache)
            for s in 0..<2 where take[s] > 0 {
                fed[s] += take[s]
                assertClose(logits[s], full[s][fed[s] - 1], "sequence \(s) after \(fed[s]) tokens (step \(step))")
            }
            for s in 0..<2 where take[s] == 0 { XCTAssertTrue(logits[s].isEmpty) }
            step += 1
        }
        XCTAssertEqual(cache.lengths, [30, 37])
    }
}
