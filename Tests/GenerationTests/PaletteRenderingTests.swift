import CM3Objective
import Generation
import XCTest

/// Images of any corpus drawn as gray levels of their codes.
final class PaletteRenderingTests: XCTestCase {
    func testCodesAreGrayLevelsOnASquareGridAndMissingCodesShowRed() throws {
        let vocabulary = Vocabulary(textVocabulary: 100, imageCodes: 17)
        XCTAssertNil(PaletteRendering(vocabulary: vocabulary, codes: 10), "10 codes form no square")
        let palette = try XCTUnwrap(PaletteRendering(vocabulary: vocabulary, codes: 4, cellSize: 2))
        // Codes 0, 16, 8 and then an <eos> where the fourth code should be.
        let png = palette.grid([[vocabulary.imageToken(0), vocabulary.imageToken(16), vocabulary.imageToken(8), 1]])
        XCTAssertEqual(png.width, 4 + 4 + 4)
        let origin = 4
        XCTAssertEqual(png[origin, origin].0, 0, "code 0 is black")
        XCTAssertEqual(png[origin + 2, origin].0, 255, "the last code is white")
        XCTAssertEqual(png[origin, origin + 2].0, 127, "code 8 of 16 is mid gray")
        XCTAssertEqual(png[origin + 3, origin + 3].0, 200, "a missing code shows red")
        XCTAssertEqual(png[origin + 3, origin + 3].1, 30)
    }
}
