import CM3Objective
import ShapesCorpus
import Foundation
import Generation
import XCTest

final class PictureRenderingTests: XCTestCase {
    let vocabulary = Vocabulary(textVocabulary: 256, imageCodes: 256)

    /// A red circle at top left and a blue square at center: the middle of each region has
    /// the shape's colour, a background cell does not, a code outside the corpus is black,
    /// and the PNG has the signature, the size and an IEND chunk.
    func testPicturesShowTheirShapes() {
        let corpus = DefaultCorpus(vocabulary: vocabulary)
        let picture = Picture(items: [
            Picture.Item(shape: 0, colour: 0, region: 0), Picture.Item(shape: 1, colour: 2, region: 4)
        ])
        var image = corpus.image(of: picture)
        let rendering = PictureRendering(vocabulary: vocabulary, cellSize: 10)
        var png = rendering.grid([image])
        // Region r's middle is the corner shared by its four cells: (col·20 + 20, row·20 + 20) + gap 4.
        func pixel(region: Int, dx: Int = 0, dy: Int = 0) -> (UInt8, UInt8, UInt8) {
            png[4 + region % 3 * 20 + 10 + dx, 4 + region / 3 * 20 + 10 + dy]
        }
        XCTAssertTrue(pixel(region: 0) == (220, 40, 40), "red circle")
        XCTAssertTrue(pixel(region: 4) == (40, 80, 220), "blue square")
        XCTAssertTrue(pixel(region: 4, dx: 6, dy: 6) == (40, 80, 220), "a square fills its corners")
        XCTAssertFalse(pixel(region: 0, dx: 6, dy: 6) == (220, 40, 40), "a circle does not")
        XCTAssertFalse(pixel(region: 8) == (220, 40, 40) || pixel(region: 8) == (40, 80, 220), "background")
        image[35] = vocabulary.imageToken(200)
        png = rendering.grid([image])
        XCTAssertTrue(png[4 + 5 * 10 + 5, 4 + 5 * 10 + 5] == (0, 0, 0), "a code outside the corpus is black")
        let bytes = [UInt8](png.encoded())
        XCTAssertEqual(Array(bytes.prefix(8)), [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a])
        XCTAssertEqual(Array(bytes[16..<24]), [0, 0, 0, 68, 0, 0, 0, 68], "width and height 60 + 2 gaps of 4")
        XCTAssertEqual(Array(bytes.suffix(12)), [0, 0, 0, 0, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82])
    }
}
