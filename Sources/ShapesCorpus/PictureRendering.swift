import CM3Objective
import Foundation
import Generation

/// Draws built-in-corpus image codes as the picture they stand for: a 6 × 6 grid whose
/// shape cells each hold their quarter of a coloured circle, square, triangle or cross.
/// A code outside the corpus's range shows as a black cell, so broken images look broken.
public struct PictureRendering {
    public let vocabulary: Vocabulary
    /// Pixels per cell.
    public let cellSize: Int

    public init(vocabulary: Vocabulary, cellSize: Int = 12) {
        self.vocabulary = vocabulary
        self.cellSize = cellSize
    }

    static let palette: [(UInt8, UInt8, UInt8)] = [
        (220, 40, 40), (40, 170, 60), (40, 80, 220), (235, 200, 30), (140, 60, 180), (245, 140, 30)
    ]

    /// One PNG holding `images` (36 image tokens each, `<eos>` ignored) side by side,
    /// `columns` to a row.
    public func grid(_ images: [[Int32]], columns: Int = 8) -> PNGImage {
        let side = 6 * cellSize, gap = 4, columns = max(1, min(columns, images.count)),
            rows = (images.count + columns - 1) / columns
        var png = PNGImage(
            width: columns * (side + gap) + gap, height: rows * (side + gap) + gap, background: (90, 90, 90))
        for (index, image) in images.enumerated() {
            draw(image, into: &png, x: gap + index % columns * (side + gap), y: gap + index / columns * (side + gap))
        }
        return png
    }

    /// Draws one image's 36 cells with their top-left corner at (x, y).
    func draw(_ tokens: [Int32], into png: inout PNGImage, x: Int, y: Int) {
        let codes = Array(vocabulary.imageCodes(in: tokens).prefix(DefaultCorpus.cells))
        for cell in 0..<DefaultCorpus.cells {
            let row = cell / 6, column = cell % 6
            let code = cell < codes.count ? codes[cell] : -1
            for py in 0..<cellSize {
                for px in 0..<cellSize {
                    png[x + column * cellSize + px, y + row * cellSize + py] = colour(
                        code: code, cell: cell, px: px, py: py)
                }
            }
        }
    }

    /// The colour of pixel (px, py) of a cell showing `code`.
    func colour(code: Int, cell: Int, px: Int, py: Int) -> (UInt8, UInt8, UInt8) {
        let edge = px == 0 || py == 0
        let background: (UInt8, UInt8, UInt8) = edge ? (215, 215, 215) : (245, 245, 240)
        if (0..<DefaultCorpus.cells).contains(code) { return background }
        let shapeCode = code - DefaultCorpus.cells
        guard shapeCode >= 0 && shapeCode < DefaultCorpus.shapes.count * DefaultCorpus.colours.count * 4 else {
            return (0, 0, 0)
        }
        let quadrant = shapeCode % 4, colour = shapeCode / 4 % DefaultCorpus.colours.count,
            shape = shapeCode / 4 / DefaultCorpus.colours.count
        // Coordinates in the shape's 2 × 2-cell region, 0 ..< 1 on each axis.
        let u = (Double(quadrant % 2 * cellSize + px) + 0.5) / Double(2 * cellSize)
        let v = (Double(quadrant / 2 * cellSize + py) + 0.5) / Double(2 * cellSize)
        return PictureRendering.covers(shape: shape, u: u, v: v) ? PictureRendering.palette[colour] : background
    }

    /// Whether the shape covers point (u, v) of its region.
    static func covers(shape: Int, u: Double, v: Double) -> Bool {
        let du = u - 0.5, dv = v - 0.5
        switch DefaultCorpus.shapes[shape] {
        case "circle": return du * du + dv * dv <= 0.38 * 0.38
        case "square": return abs(du) <= 0.34 && abs(dv) <= 0.34
        case "triangle": return v >= 0.14 && v <= 0.86 && abs(du) <= (v - 0.14) / 0.72 * 0.42
        default: return (abs(du) <= 0.11 || abs(dv) <= 0.11) && abs(du) <= 0.42 && abs(dv) <= 0.42  // cross
        }
    }
}
