import Foundation

/// A minimal PNG encoder for 8-bit RGB pictures: one IDAT chunk whose zlib stream uses
/// stored (uncompressed) deflate blocks, which every PNG reader accepts. Pictures here are
/// small grids, so compression would save little.
public struct PNGImage {
    public let width: Int, height: Int
    /// `[height, width, 3]` bytes, row-major.
    public var pixels: [UInt8]

    public init(width: Int, height: Int, background: (UInt8, UInt8, UInt8) = (255, 255, 255)) {
        precondition(width > 0 && height > 0)
        self.width = width
        self.height = height
        pixels = [UInt8](repeating: 0, count: width * height * 3)
        for i in 0..<(width * height) { (pixels[3 * i], pixels[3 * i + 1], pixels[3 * i + 2]) = background }
    }

    public subscript(x: Int, y: Int) -> (UInt8, UInt8, UInt8) {
        get { let i = 3 * (y * width + x); return (pixels[i], pixels[i + 1], pixels[i + 2]) }
        set { let i = 3 * (y * width + x); (pixels[i], pixels[i + 1], pixels[i + 2]) = newValue }
    }

    /// The PNG file's bytes.
    public func encoded() -> Data {
        var raw: [UInt8] = []  // each row: filter type 0, then its pixels
        raw.reserveCapacity(height * (1 + 3 * width))
        for y in 0..<height { raw.append(0); raw += pixels[(3 * y * width)..<(3 * (y + 1) * width)] }
        var zlib: [UInt8] = [0x78, 0x01]
        var offset = 0
        repeat {
            let count = min(65535, raw.count - offset), last = offset + count == raw.count
            zlib += [
                last ? 1 : 0, UInt8(count & 0xff), UInt8(count >> 8), UInt8(~count & 0xff), UInt8((~count >> 8) & 0xff)
            ]
            zlib += raw[offset..<(offset + count)]
            offset += count
        } while offset < raw.count
        zlib += bigEndian(adler32(raw))
        var header = bigEndian(UInt32(width)) + bigEndian(UInt32(height))
        header += [8, 2, 0, 0, 0]  // 8 bits, RGB, deflate, adaptive filtering, no interlace
        var file: [UInt8] = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]
        file += chunk("IHDR", header) + chunk("IDAT", zlib) + chunk("IEND", [])
        return Data(file)
    }

    private func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
        let typed = Array(type.utf8) + body
        return bigEndian(UInt32(body.count)) + typed + bigEndian(crc32(typed))
    }
}

private func bigEndian(_ value: UInt32) -> [UInt8] { [24, 16, 8, 0].map { UInt8((value >> UInt32($0)) & 0xff) } }

private func adler32(_ bytes: [UInt8]) -> UInt32 {
    var a: UInt32 = 1, b: UInt32 = 0
    for byte in bytes { a = (a + UInt32(byte)) % 65521; b = (b + a) % 65521 }
    return b << 16 | a
}

private let crcTable: [UInt32] = (0..<256).map { n in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0xedb8_8320 ^ (c >> 1) : c >> 1 }
    return c
}

private func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xffff_ffff
    for byte in bytes { c = crcTable[Int((c ^ UInt32(byte)) & 0xff)] ^ (c >> 8) }
    return c ^ 0xffff_ffff
}
