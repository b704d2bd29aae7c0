import CM3Objective

/// What a picture of the built-in corpus shows: up to three coloured shapes, each filling
/// one region of the 3 × 3 layout. Its caption and its 36 image codes both determine it, so
/// generated images and captions can be scored exactly.
public struct Picture: Hashable, Sendable {
    public struct Item: Hashable, Sendable {
        public var shape: Int, colour: Int, region: Int
        public init(shape: Int, colour: Int, region: Int) {
            self.shape = shape; self.colour = colour; self.region = region
        }
    }
    /// In caption order.
    public var items: [Item]
    public init(items: [Item]) { self.items = items }

    /// The same picture whatever the order of its items (captions may name them in any).
    public func sameContents(as other: Picture) -> Bool { Set(items) == Set(other.items) }
}

extension DefaultCorpus {
    /// The image code of each of the 36 cells, row by row: a background cell's code is its
    /// position; a shape s of colour c fills its region's 2 × 2 cells with
    /// `36 + (s·colours + c)·4 + quadrant`.
    public func imageCodes(of picture: Picture) -> [Int] {
        var cells = Array(0..<DefaultCorpus.cells)
        for item in picture.items {
            for quadrant in 0..<4 {
                cells[DefaultCorpus.cell(region: item.region, quadrant: quadrant)] =
                    DefaultCorpus.cells + (item.shape * DefaultCorpus.colours.count + item.colour) * 4 + quadrant
            }
        }
        return cells
    }

    /// The picture's image tokens.
    public func image(of picture: Picture) -> [Int32] { imageCodes(of: picture).map { vocabulary.imageToken($0) } }

    /// `an image of a red circle at top left and a blue square at center`.
    public func caption(of picture: Picture) -> [Int32] {
        var words = ["an", "image", "of"]
        for (k, item) in picture.items.enumerated() {
            if k > 0 { words.append("and") }
            words += ["a", DefaultCorpus.colours[item.colour], DefaultCorpus.shapes[item.shape], "at"]
            words += DefaultCorpus.regions[item.region].split(separator: " ").map(String.init)
        }
        return words.map(wordId)
    }

    /// The picture 36 image tokens show, or nil when they are not one: every region must be
    /// all background or one shape's four quadrants in place.
    public func picture(fromImage tokens: [Int32]) -> Picture? {
        guard tokens.count == DefaultCorpus.cells, tokens.allSatisfy(vocabulary.isImage) else { return nil }
        let codes = vocabulary.imageCodes(in: tokens)
        var items: [Picture.Item] = []
        for region in 0..<9 {
            let quadrants = (0..<4).map { codes[DefaultCorpus.cell(region: region, quadrant: $0)] }
            if (0..<4).allSatisfy({ quadrants[$0] == DefaultCorpus.cell(region: region, quadrant: $0) }) { continue }
            let first = quadrants[0] - DefaultCorpus.cells
            guard first >= 0, first % 4 == 0, first / 4 < DefaultCorpus.shapes.count * DefaultCorpus.colours.count,
                (0..<4).allSatisfy({ quadrants[$0] == quadrants[0] + $0 })
            else { return nil }
            items.append(
                Picture.Item(
                    shape: first / 4 / DefaultCorpus.colours.count, colour: first / 4 % DefaultCorpus.colours.count,
                    region: region))
        }
        return Picture(items: items)
    }

    /// The picture a caption describes, or nil when it is not a caption of the corpus's
    /// grammar (`an image of a C S at R [and a C S at R]…`, regions distinct).
    public func picture(fromCaption tokens: [Int32]) -> Picture? {
        let words = render(tokens).split(separator: " ").map(String.init)
        guard words.count > 3, words[0...2] == ["an", "image", "of"] else { return nil }
        var items: [Picture.Item] = []
        for phrase in words[3...].split(separator: "and") {
            let phrase = Array(phrase)
            guard phrase.count >= 5, phrase[0] == "a", phrase[3] == "at",
                let colour = DefaultCorpus.colours.firstIndex(of: phrase[1]),
                let shape = DefaultCorpus.shapes.firstIndex(of: phrase[2]),
                let region = DefaultCorpus.regions.firstIndex(of: phrase[4...].joined(separator: " ")),
                !items.contains(where: { $0.region == region })
            else { return nil }
            items.append(Picture.Item(shape: shape, colour: colour, region: region))
        }
        return items.isEmpty ? nil : Picture(items: items)
    }

    /// The caption and the image of a document (either order around its `<break>`).
    public func parts(of document: [Int32]) -> (caption: [Int32], image: [Int32])? {
        TemplateFields.captionAndImage(of: document, vocabulary: vocabulary)
    }

    /// The cell (row-major in the 6 × 6 grid) of a region's quadrant.
    static func cell(region: Int, quadrant: Int) -> Int {
        (region / 3 * 2 + quadrant / 2) * 6 + region % 3 * 2 + quadrant % 2
    }
}

extension DefaultCorpus: TemplateCorpus {
    /// A word of the corpus, a special token, `img:K` or an id (`parse`).
    public func templateTokens(_ text: String) throws -> [Int32] { try parse(text) }

    /// The caption and image of any corpus's document; with `readsPictures`, for a picture
    /// with a shape drawn only once, that shape's name, colour and region.
    public func templateFields(of document: [Int32], readsPictures: Bool) -> [String: [Int32]] {
        guard let parts = parts(of: document) else { return [:] }
        var fields = ["caption": parts.caption, "image": parts.image]
        // The question must have one answer: ask about the first shape the picture holds once.
        if readsPictures, let picture = picture(fromImage: parts.image),
            let item = picture.items.first(where: { item in picture.items.filter { $0.shape == item.shape }.count == 1
            })
        {
            fields["shape"] = [wordId(DefaultCorpus.shapes[item.shape])]
            fields["colour"] = [wordId(DefaultCorpus.colours[item.colour])]
            fields["region"] = DefaultCorpus.regions[item.region].split(separator: " ").map { wordId(String($0)) }
        }
        return fields
    }
}
