import CM3Objective
import Model
import Trainer
import XCTest

/// The pieces `launch bench-data` times and prints.
final class DataBenchmarkTests: XCTestCase {
    func testSyntheticBanksAreUnitRowsOfCaptionImageDocuments() {
        let rows = DataBenchmark.unitRows(50, 16, name: "text")
        for row in 0..<50 {
            let norm = rows[(row * 16)..<((row + 1) * 16)].reduce(0) { $0 + $1 * $1 }
            XCTAssertEqual(norm, 1, accuracy: 1e-5)
        }
        XCTAssertNotEqual(rows, DataBenchmark.unitRows(50, 16, name: "image"), "each modality draws its own vectors")
        let vocabulary = Vocabulary.cm3leon
        let documents = DataBenchmark.syntheticDocuments(10, vocabulary: vocabulary)
        XCTAssertEqual(documents.count, 10)
        let document = Array(documents.document(3))
        XCTAssertEqual(document.count, 50)
        XCTAssertEqual(document[16], vocabulary.breakToken)
        XCTAssertEqual(document.last, vocabulary.eos)
        XCTAssertTrue(document[..<16].allSatisfy { !vocabulary.isImage($0) && !vocabulary.isSpecial($0) })
        XCTAssertTrue(document[17..<49].allSatisfy(vocabulary.isImage))
    }

    func testRatesCountWhatWasTimed() throws {
        let pipeline = try DataBenchmark.pipeline(seq: 64, blocks: 3, documents: 100, retrieval: true)
        XCTAssertEqual(pipeline.blocks, 3)
        XCTAssertEqual(pipeline.tokensPerBlock, 65)
        let retrieval = DataBenchmark.retrieval(bankSize: 200, dimensions: 8, queries: 4, seconds: 0)
        XCTAssertEqual(retrieval.examples, 4)
        XCTAssertEqual(retrieval.bankBytes, 3 * 200 * 8 * 4, "text, image and document vectors, float32")
        let model = ModelConfig(vocabSize: 1024, dModel: 64, layers: 2, heads: 2, ffn: 256, seqLen: 128)
        let consumption = DataBenchmark.consumption(model, sgemmGflops: 100)
        XCTAssertEqual(consumption.tokensPerSecond, 100e9 / model.parameterTable.trainingFlopsPerToken, accuracy: 1e-6)
        XCTAssertEqual(consumption.examplesPerSecond, consumption.tokensPerSecond / 128, accuracy: 1e-9)
    }
}
