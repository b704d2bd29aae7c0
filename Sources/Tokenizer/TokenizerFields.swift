import Foundation

/// Which fields of a tokenizer.json this reader honours. Any other field, or a value of one
/// it does not implement, is refused by name: a file read with a setting ignored would give
/// other ids than `tokenizers` does, silently.
enum TokenizerFields {
    /// Top-level keys. `post_processor` only acts with `add_special_tokens=True`, which
    /// `encode` does not emulate; `version` says nothing about the ids.
    static let topLevel: Set = [
        "version", "truncation", "padding", "added_tokens", "normalizer", "pre_tokenizer", "post_processor",
        "decoder", "model"
    ]
    static let model: Set = [
        "type", "vocab", "merges", "dropout", "unk_token", "continuing_subword_prefix", "end_of_word_suffix",
        "fuse_unk", "byte_fallback", "ignore_merges"
    ]
    static let addedToken: Set = ["id", "content", "single_word", "lstrip", "rstrip", "normalized", "special"]
    static let byteLevel: Set = ["type", "add_prefix_space", "trim_offsets", "use_regex"]

    /// The first problem of `root`: an unknown key, or a setting whose ids this reader
    /// would not reproduce.
    static func check(_ root: [String: Any], path: String) throws {
        func refuse(_ key: String, _ message: String) -> TokenizerError {
            TokenizerError(path: path, key: key, message: message)
        }
        func isSet(_ value: Any?) -> Bool { value != nil && !(value is NSNull) }
        if let unknown = root.keys.sorted().first(where: { !topLevel.contains($0) }) {
            throw refuse(unknown, "unknown field (this reader honours \(topLevel.sorted().joined(separator: ", ")))")
        }
        for key in ["truncation", "padding"] where isSet(root[key]) {
            throw refuse(key, "is not supported: encode gives every id of the text; set it to null")
        }
        guard let model = root["model"] as? [String: Any] else { return }
        if let unknown = model.keys.sorted().first(where: { !self.model.contains($0) }) {
            throw refuse("model.\(unknown)", "unknown field of a BPE model")
        }
        if let dropout = model["dropout"] as? Double, dropout > 0 {
            throw refuse("model.dropout", "BPE dropout (\(dropout)) draws other merges at random; set it to null")
        }
        if model["byte_fallback"] as? Bool == true {
            throw refuse("model.byte_fallback", "is not supported (byte-level BPE needs no fallback); set it to false")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] where isSet(model[key]) {
            if let text = model[key] as? String, text.isEmpty { continue }
            throw refuse("model.\(key)", "is not supported (byte-level BPE has none); set it to null")
        }
        for (index, entry) in (root["added_tokens"] as? [[String: Any]] ?? []).enumerated() {
            if let unknown = entry.keys.sorted().first(where: { !addedToken.contains($0) }) {
                throw refuse("added_tokens[\(index)].\(unknown)", "unknown field of an added token")
            }
        }
        if let decoder = root["decoder"] as? [String: Any], decoder["type"] as? String != "ByteLevel" {
            throw refuse("decoder", "expected ByteLevel or null, got \(decoder["type"] ?? "no type")")
        }
    }
}
