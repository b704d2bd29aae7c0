/// GPT-2's reversible map from bytes to printable characters, which byte-level BPE
/// vocabularies are written in: printable Latin-1 bytes stand for themselves, and the other
/// 68 bytes (controls, space, soft hyphen…) take the characters from U+0100 on, in order.
enum ByteMapping {
    /// The character of each byte.
    static let characters: [Character] = {
        var table = [Character](repeating: " ", count: 256)
        var next: UInt32 = 256
        for byte in 0..<256 {
            let printable = (33...126).contains(byte) || (161...172).contains(byte) || (174...255).contains(byte)
            table[byte] = Character(Unicode.Scalar(printable ? UInt32(byte) : next)!)
            if !printable { next += 1 }
        }
        return table
    }()

    /// The byte of each character of the map.
    static let bytes: [Character: UInt8] = Dictionary(
        uniqueKeysWithValues: characters.enumerated().map { ($1, UInt8($0)) })

    /// `text`'s UTF-8 bytes as mapped characters.
    static func mapped(_ text: Substring.UTF8View) -> String {
        var result = ""
        result.reserveCapacity(text.count)
        for byte in text { result.append(characters[Int(byte)]) }
        return result
    }
}
