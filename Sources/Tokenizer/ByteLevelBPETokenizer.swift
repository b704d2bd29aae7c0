import Diagnostics
import Foundation

/// A Hugging Face `tokenizer.json` with a byte-level BPE model, as GPT-2 and OPT use (and
/// CM3Leon, which follows OPT's recipe): added tokens are split out first, the rest is split
/// by GPT-2's pattern, each piece's UTF-8 bytes are mapped to characters, and BPE merges
/// them by rank. `encode` gives the ids Hugging Face's `tokenizers` gives with
/// `add_special_tokens=False` (no post-processor).
public final class ByteLevelBPETokenizer {
    /// Largest id + 1, added tokens included.
    public let vocabularySize: Int
    private let idsByToken: [String: Int32]
    private let tokensById: [Int32: String]
    private let merges: BPEMerges
    /// `model.unk_token`'s id: what a character outside the vocabulary becomes (consecutive
    /// ones fused into one with `fuse_unk`); without it such characters are dropped.
    private let unknown: (id: Int32, fused: Bool)?
    /// `model.ignore_merges`: a piece that is a token of the vocabulary is that token.
    private let ignoresMerges: Bool
    private let added: AddedTokens
    private let addPrefixSpace: Bool, usesPattern: Bool
    /// Pieces already merged (mapped characters → ids): text repeats its words.
    private var cache: [String: [Int32]] = [:]

    /// Reads `path`; a problem is a `TokenizerError` naming the file and the key.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenizerError(path: path, key: "", message: "cannot be read")
        }
        guard let root = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw TokenizerError(path: path, key: "", message: "not a JSON object")
        }
        try TokenizerFields.check(root, path: path)
        let file = TokenizerFile(path: path, root: root)
        let model = try file.object("model")
        let type = model["type"] as? String ?? "BPE"
        guard type == "BPE" else {
            throw TokenizerError(path: path, key: "model.type", message: "expected BPE, got \(type)")
        }
        guard let vocabulary = model["vocab"] as? [String: Int] else {
            throw TokenizerError(path: path, key: "model.vocab", message: "expected an object of token ids")
        }
        var idsByToken = vocabulary.mapValues { Int32($0) }
        var addedTokens: [AddedTokens.Token] = []
        for (index, entry) in (root["added_tokens"] as? [[String: Any]] ?? []).enumerated() {
            guard let content = entry["content"] as? String, let id = entry["id"] as? Int else {
                throw TokenizerError(path: path, key: "added_tokens[\(index)]", message: "expected content and id")
            }
            addedTokens.append(
                AddedTokens.Token(
                    content: content, id: Int32(id), stripsLeft: entry["lstrip"] as? Bool ?? false,
                    stripsRight: entry["rstrip"] as? Bool ?? false, singleWord: entry["single_word"] as? Bool ?? false)
            )
            idsByToken[content] = Int32(id)
        }
        var merges: [UInt64: (rank: Int32, merged: Int32)] = [:]
        for (rank, entry) in (model["merges"] as? [Any] ?? []).enumerated() {
            let pair: [String]
            if let text = entry as? String {
                pair = text.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false).map(String.init)
            } else {
                pair = entry as? [String] ?? []
            }
            guard pair.count == 2, let left = vocabulary[pair[0]], let right = vocabulary[pair[1]],
                let merged = vocabulary[pair[0] + pair[1]]
            else {
                throw TokenizerError(
                    path: path, key: "model.merges[\(rank)]",
                    message: "\(entry) does not merge two tokens of the vocabulary into one")
            }
            let key = BPEMerges.key(Int32(left), Int32(right))
            if merges[key] == nil { merges[key] = (Int32(rank), Int32(merged)) }
        }
        if let normalizer = root["normalizer"], !(normalizer is NSNull) {
            throw TokenizerError(
                path: path, key: "normalizer",
                message: "normalizers are not supported (byte-level BPE files have none)")
        }
        let byteLevel = try file.byteLevelPreTokenizer()
        self.idsByToken = idsByToken
        tokensById = Dictionary(idsByToken.map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        self.merges = BPEMerges(merges: merges)
        if let name = model["unk_token"] as? String {
            guard let id = idsByToken[name] else {
                throw TokenizerError(path: path, key: "model.unk_token", message: "'\(name)' is not in the vocabulary")
            }
            unknown = (id, model["fuse_unk"] as? Bool ?? false)
        } else {
            unknown = nil
        }
        ignoresMerges = model["ignore_merges"] as? Bool ?? false
        added = AddedTokens(addedTokens)
        addPrefixSpace = byteLevel["add_prefix_space"] as? Bool ?? false
        usesPattern = byteLevel["use_regex"] as? Bool ?? true
        vocabularySize = Int(idsByToken.values.max() ?? -1) + 1
    }

    /// The ids of `text`.
    public func encode(_ text: String) -> [Int32] {
        var ids: [Int32] = []
        for part in added.split(text) {
            switch part {
            case .added(let id): ids.append(id)
            case .text(let segment):
                let prefixed = addPrefixSpace && !segment.hasPrefix(" ") ? Substring(" " + segment) : segment
                for piece in usesPattern ? ByteLevelSplitter.split(prefixed) : [prefixed] {
                    ids += mergedIds(ByteMapping.mapped(piece.utf8))
                }
            }
        }
        return ids
    }

    /// The text of `ids` (added tokens as written); bytes that are not UTF-8 become U+FFFD.
    public func decode(_ ids: [Int32]) -> String {
        var bytes: [UInt8] = []
        for id in ids {
            guard let token = tokensById[id] else { continue }
            // A token with a character outside the byte map (an added token) is its own bytes.
            let mapped = token.compactMap { ByteMapping.bytes[$0] }
            bytes += mapped.count == token.count ? mapped : Array(token.utf8)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// A vocabulary or added token's id.
    public func id(of token: String) -> Int32? { idsByToken[token] }

    /// BPE of one piece: start from its characters and apply the lowest-ranked merge, the
    /// leftmost where ranks tie, until none applies (`BPEMerges`).
    private func mergedIds(_ piece: String) -> [Int32] {
        if let cached = cache[piece] { return cached }
        if ignoresMerges, let id = idsByToken[piece] { return [id] }
        var symbols: [Int32] = []
        for character in piece {
            if let id = idsByToken[String(character)] {
                symbols.append(id)
            } else if let unknown, !(unknown.fused && symbols.last == unknown.id) {
                symbols.append(unknown.id)
            }
        }
        let merged = merges.apply(symbols)
        cache[piece] = merged
        return merged
    }
}

/// A tokenizer.json that cannot be used, naming the file and the key.
public struct TokenizerError: ReportableError, Equatable {
    public let path: String, key: String, message: String
    public var description: String { key.isEmpty ? "\(path): \(message)" : "\(path): \(key): \(message)" }
}

/// Reading the parts of a tokenizer.json.
private struct TokenizerFile {
    let path: String
    let root: [String: Any]

    func object(_ key: String) throws -> [String: Any] {
        guard let object = root[key] as? [String: Any] else {
            throw TokenizerError(path: path, key: key, message: "expected an object")
        }
        return object
    }

    /// The ByteLevel pre-tokenizer, alone or in a Sequence.
    func byteLevelPreTokenizer() throws -> [String: Any] {
        let preTokenizer = try object("pre_tokenizer")
        let candidates =
            preTokenizer["type"] as? String == "Sequence"
            ? preTokenizer["pretokenizers"] as? [[String: Any]] ?? [] : [preTokenizer]
        guard candidates.count == 1, candidates[0]["type"] as? String == "ByteLevel" else {
            throw TokenizerError(
                path: path, key: "pre_tokenizer",
                message: "expected ByteLevel (alone or as the only step of a Sequence)")
        }
        if let unknown = candidates[0].keys.sorted().first(where: { !TokenizerFields.byteLevel.contains($0) }) {
            throw TokenizerError(path: path, key: "pre_tokenizer.\(unknown)", message: "unknown field of ByteLevel")
        }
        return candidates[0]
    }
}
