import Foundation

/// A short identity of a file's contents for comparing what several hosts see: its size and
/// a 64-bit FNV-1a hash of its bytes (of its first and last 16 MiB past 256 MiB, where
/// reading all of a large shard on every rank would cost minutes). Not a cryptographic hash:
/// it tells a different build or an older copy apart, not a forgery.
public enum FileFingerprint {
    static let wholeLimit = 256 << 20
    static let edge = 16 << 20

    /// `size:hash` in hex, or nil when the file cannot be read.
    public static func of(_ path: String) -> String? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let size = try? handle.seekToEnd() else { return nil }
        var hash = offsetBasis
        func mix(_ data: Data) { data.withUnsafeBytes { hash = fnv1a($0, from: hash) } }
        let ranges: [(offset: UInt64, count: Int)] =
            size <= UInt64(wholeLimit)
            ? [(UInt64(0), Int(size))] : [(UInt64(0), edge), (size - UInt64(edge), edge)]
        for range in ranges {
            guard (try? handle.seek(toOffset: range.offset)) != nil,
                let data = try? handle.read(upToCount: range.count)
            else { return nil }
            mix(data)
        }
        return String(size) + ":" + String(hash, radix: 16)
    }

    /// The same identity for text held in memory (its UTF-8 bytes).
    public static func of(text: String) -> String {
        let bytes = Array(text.utf8)
        return String(bytes.count) + ":" + String(bytes.withUnsafeBytes { fnv1a($0, from: offsetBasis) }, radix: 16)
    }

    static let offsetBasis: UInt64 = 0xcbf2_9ce4_8422_2325

    /// FNV-1a over `bytes`, continuing from `hash`.
    static func fnv1a(_ bytes: UnsafeRawBufferPointer, from hash: UInt64) -> UInt64 {
        var hash = hash
        for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return hash
    }
}
