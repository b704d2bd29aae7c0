import CM3Objective

/// Draws images of any corpus whose codes form a square grid (`data.image_tokens` a square
/// number): each code a gray level, from black for code 0 to white for the last code of
/// the vocabulary's image range, so a small code book of intensities (the handwritten
/// digits' 17) shows as the picture it encodes. Images of a learned VQ code book need their
/// decoder instead (scripts/decode_images.py). Missing or non-image tokens show red.
public struct PaletteRendering {
    public let vocabulary: Vocabulary
    /// Codes per image; its square root is the side of the grid.
    public let codes: Int
    /// Pixels per code.
    public let cellSize: Int

    /// Nil when `codes` is no square number.
    public init?(vocabulary: Vocabulary, codes: Int, cellSize: Int = 8) {
        let side = Int(Double(codes).squareRoot().rounded())
        guard side * side == codes, codes > 0 else { return nil }
        self.vocabulary = vocabulary
        self.codes = codes
        self.cellSize = cellSize
    }

    var side: Int { Int(Double(codes).squareRoot().rounded()) }

    /// `images` side by side, `columns` to a row, on a dark gray ground.
    public func grid(_ images: [[Int32]], columns: Int = 8) -> PNGImage {
        let pixels = side * cellSize, gap = 4, columns = max(1, min(columns, images.count))
        let rows = (images.count + columns - 1) / columns
        var png = PNGImage(
            width: columns * (pixels + gap) + gap, height: rows * (pixels + gap) + gap, background: (60, 60, 60))
        let top = max(1, vocabulary.imageCodes - 1)
        for (index, image) in images.enumerated() {
            let left = gap + index % columns * (pixels + gap), upper = gap + index / columns * (pixels + gap)
            let codes = Array(vocabulary.imageCodes(in: image).prefix(codes))
            for cell in 0..<self.codes {
                let colour: (UInt8, UInt8, UInt8)
                if cell < codes.count {
                    let level = UInt8(min(255, max(0, codes[cell] * 255 / top)))
                    colour = (level, level, level)
                } else {
                    colour = (200, 30, 30)
                }
                for dy in 0..<cellSize {
                    for dx in 0..<cellSize {
                        png[left + cell % side * cellSize + dx, upper + cell / side * cellSize + dy] = colour
                    }
                }
            }
        }
        return png
    }
}
