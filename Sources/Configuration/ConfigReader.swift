import Diagnostics
import Foundation
import Yams

/// One YAML mapping of a config file, with strict rules: every key must be known. Errors
/// carry the dotted key path (`model.d_model`).
struct ConfigReader {
    let file: String
    let path: String
    let entries: [(key: String, value: Node)]

    /// Parses `text` (the contents of `file`) as a top-level mapping.
    init(file: String, text: String) throws {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            let detail = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw ConfigError(file: file, key: "", message: "not valid YAML: \(detail)")
        }
        guard let root, case .mapping(let mapping) = root else {
            throw ConfigError(file: file, key: "", message: "expected a mapping of sections at the top level")
        }
        try self.init(file: file, path: "", mapping: mapping)
    }

    private init(file: String, path: String, mapping: Node.Mapping) throws {
        self.file = file
        self.path = path
        var entries: [(key: String, value: Node)] = []
        var lines: [String: Int] = [:]
        for (key, value) in mapping {
            guard let name = key.string else {
                throw ConfigError(file: file, key: path, message: "keys must be strings")
            }
            // YAML parsers keep either copy of a repeated key; refuse it rather than guess.
            let line = key.mark?.line ?? 0
            if let first = lines[name] {
                throw ConfigError(
                    file: file, key: path.isEmpty ? name : "\(path).\(name)",
                    message: "given twice (lines \(first) and \(line))")
            }
            lines[name] = line
            entries.append((name, value))
        }
        self.entries = entries
    }

    func keyPath(_ key: String) -> String { path.isEmpty ? key : key.isEmpty ? path : "\(path).\(key)" }

    func error(_ key: String, _ message: String) -> ConfigError {
        ConfigError(file: file, key: keyPath(key), message: message)
    }

    /// Fails on the first key not in `known`, suggesting the closest known one.
    func rejectUnknownKeys(_ known: [String]) throws {
        for (key, _) in entries where !known.contains(key) {
            let closest = known.min { editDistance($0, key) < editDistance($1, key) }
            let hint = closest.map { editDistance($0, key) <= 3 ? " (did you mean '\($0)'?)" : "" } ?? ""
            throw error(key, "unknown key\(hint)")
        }
    }

    func node(_ key: String) -> Node? { entries.first { $0.key == key }?.value }

    /// A nested mapping, or nil when the file has none.
    func section(_ key: String) throws -> ConfigReader? {
        guard let value = node(key) else { return nil }
        guard case .mapping(let mapping) = value else { throw error(key, "expected a mapping") }
        return try ConfigReader(file: file, path: keyPath(key), mapping: mapping)
    }
}

/// A config file and the `--set` overrides, read key by key from `ConfigKeys.all`. Each
/// section is opened, and checked for unknown keys, when the first key under it is read, so
/// errors come in the table's order.
final class ConfigFile {
    private let file: String
    private let overrides: [String: String]
    /// Opened sections by dotted path ("" is the top level); nil where the file has none.
    private var sections: [String: ConfigReader?]

    init(file: String, text: String, overrides: [String: String]) throws {
        self.file = file
        self.overrides = overrides
        let root = try ConfigReader(file: file, text: text)
        try root.rejectUnknownKeys(ConfigKeys.children(of: ""))
        sections = ["": root]
    }

    private func section(_ path: String) throws -> ConfigReader? {
        if let opened = sections[path] { return opened }
        let split = path.lastIndex(of: ".")
        let parentPath = split.map { String(path[..<$0]) } ?? ""
        let name = split.map { String(path[path.index(after: $0)...]) } ?? path
        var opened: ConfigReader? = nil
        if let parent = try section(parentPath), let reader = try parent.section(name) {
            try reader.rejectUnknownKeys(ConfigKeys.children(of: path))
            opened = reader
        }
        sections[path] = .some(opened)
        return opened
    }

    /// Stores `key`'s value (from `--set`, else the file) in `config`; an absent key keeps
    /// the default, unless it is required.
    func read(_ key: ConfigKey, into config: inout TesseraConfig) throws {
        let reader = try section(key.section)
        let input: ConfigInput
        if let text = overrides[key.name] {
            input = .text(text)
        } else if let node = reader?.node(key.leaf) {
            input = .node(node)
        } else {
            guard key.requirement == .required else { return }
            throw try missing(key)
        }
        do { try key.read(&config, input) } catch let problem as ConfigProblem {
            throw ConfigError(file: file, key: key.name, message: problem.message)
        }
    }

    /// "missing", named at the outermost section the file lacks and nothing is set under
    /// (`model: missing` for a file without a model), else at the key.
    private func missing(_ key: ConfigKey) throws -> ConfigError {
        let parts = key.parts.dropLast()
        for depth in parts.indices {
            let path = parts[...depth].joined(separator: ".")
            if try section(path) == nil && !overrides.keys.contains(where: { $0.hasPrefix(path + ".") }) {
                return ConfigError(file: file, key: path, message: "missing")
            }
        }
        return ConfigError(file: file, key: key.name, message: "missing")
    }
}

/// Levenshtein distance, for "did you mean" hints.
func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var previous = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var current = [i] + [Int](repeating: 0, count: b.count)
        for j in 1...max(b.count, 1) where !b.isEmpty {
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        previous = current
    }
    return a.isEmpty ? b.count : previous[b.count]
}
