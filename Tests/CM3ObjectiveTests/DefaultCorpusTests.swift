import CM3Objective
import ShapesCorpus
import XCTest

final class DefaultCorpusTests: XCTestCase {
    let vocabulary = Vocabulary(textVocabulary: 256, imageCodes: 256)

    /// The caption fully determines the picture: rebuilding the grid from the caption's
    /// words gives the document's image codes exactly, for 2000 documents. Captions name
    /// the shapes in reading order, and half the documents put the image first.
    func testCaptionDeterminesTheImage() throws {
        let corpus = DefaultCorpus(vocabulary: vocabulary, seed: 3)
        var imageFirst = 0
        for index in 0..<2000 {
            let document = corpus.document(index)
            XCTAssertEqual(document.last, vocabulary.eos)
            let parts = document.dropLast().split(separator: vocabulary.breakToken).map(Array.init)
            XCTAssertEqual(parts.count, 2)
            let first = vocabulary.isImage(parts[0][0])
            if first { imageFirst += 1 }
            let caption = corpus.render(first ? parts[1] : parts[0]).split(separator: " ").map(String.init)
            let image = first ? parts[0] : parts[1]
            XCTAssertEqual(image.count, DefaultCorpus.cells)
            XCTAssertEqual(image.map { vocabulary.imageToken(Int($0) - vocabulary.textVocabulary) }, image)
            XCTAssertEqual(
                rebuild(caption), image.map { Int($0) - vocabulary.textVocabulary }, corpus.render(document))
            let regions = try XCTUnwrap(corpus.picture(fromCaption: first ? parts[1] : parts[0])).items.map(\.region)
            XCTAssertEqual(regions, regions.sorted(), "shapes in reading order: \(corpus.render(document))")
        }
        XCTAssertGreaterThan(imageFirst, 900)  // half, within 4.5 standard deviations
        XCTAssertLessThan(imageFirst, 1100)
    }

    /// Grid from caption words: "an image of a red circle at top left and a …".
    func rebuild(_ words: [String]) -> [Int] {
        var cells = Array(0..<36)
        var i = 3
        while i < words.count {
            if words[i] == "and" { i += 1 }
            let colour = DefaultCorpus.colours.firstIndex(of: words[i + 1])!
            let shape = DefaultCorpus.shapes.firstIndex(of: words[i + 2])!
            i += 4  // "a colour shape at"
            var regionWords: [String] = []
            while i < words.count && words[i] != "and" { regionWords.append(words[i]); i += 1 }
            let region = DefaultCorpus.regions.firstIndex(of: regionWords.joined(separator: " "))!
            for quadrant in 0..<4 {
                cells[(region / 3 * 2 + quadrant / 2) * 6 + region % 3 * 2 + quadrant % 2] =
                    36 + (shape * 6 + colour) * 4 + quadrant
            }
        }
        return cells
    }

    func testRenderingNamesSpecialsAndImageCodes() {
        let corpus = DefaultCorpus(vocabulary: vocabulary)
        XCTAssertEqual(
            corpus.render([
                vocabulary.mask, vocabulary.infill, vocabulary.breakToken, vocabulary.imageToken(7), vocabulary.pad
            ]),
            "<mask> <infill> <break> img:7 <pad>")
        XCTAssertTrue(DefaultCorpus.requiredTextVocabulary(vocabulary) < 64)
    }

    /// Every document's caption and image decode to the same picture, which re-encodes to
    /// them; a caption in another order names the same picture; a broken image or caption
    /// decodes to nothing.
    func testPicturesDecodeFromCaptionsAndImages() throws {
        let vocabulary = Vocabulary(textVocabulary: 256, imageCodes: 256)
        let corpus = DefaultCorpus(vocabulary: vocabulary, seed: 0)
        for index in 0..<500 {
            let parts = try XCTUnwrap(corpus.parts(of: corpus.document(index)))
            let fromCaption = try XCTUnwrap(corpus.picture(fromCaption: parts.caption))
            let fromImage = try XCTUnwrap(corpus.picture(fromImage: parts.image))
            XCTAssertTrue(fromCaption.sameContents(as: fromImage))
            XCTAssertEqual(corpus.caption(of: fromCaption), parts.caption)
            XCTAssertEqual(corpus.image(of: fromImage), parts.image)
            var reordered = fromCaption
            reordered.items.reverse()
            XCTAssertTrue(
                try XCTUnwrap(corpus.picture(fromCaption: corpus.caption(of: reordered))).sameContents(as: fromImage))
            var broken = parts.image
            let shapeCell = try XCTUnwrap(broken.firstIndex { Int($0) - 256 >= DefaultCorpus.cells })
            broken[shapeCell] = vocabulary.imageToken(200)
            XCTAssertNil(corpus.picture(fromImage: broken))
        }
        XCTAssertNil(corpus.picture(fromCaption: try corpus.parse("an image of a red circle at image")))
        XCTAssertNil(
            corpus.picture(fromCaption: try corpus.parse("an image of a red circle at top and a blue cross at top")))
        XCTAssertNil(corpus.picture(fromImage: Array(corpus.image(of: Picture(items: [])).dropLast())))
    }
}
