import Foundation
import Yams

/// A problem with the user's input or the run's files, shown as one line (after `error:`):
/// `launch` reports it and exits non-zero instead of crashing.
public protocol ReportableError: Error, CustomStringConvertible {}

/// A configuration problem, reported as one line naming the file and the key.
public struct ConfigError: ReportableError {
    public let file: String
    public let key: String
    public let message: String
    public var description: String { key.isEmpty ? "\(file): \(message)" : "\(file): \(key): \(message)" }
}

/// Values given on the command line (`--set optim.peak_lr=3e-4`) by dotted key; the
/// readers take them in place of the file's, and any never asked for is an unknown key.
final class ConfigOverrides {
    private var values: [String: String]
    private var used: Set<String> = []

    init(_ values: [String: String]) { self.values = values }

    func take(_ key: String) -> String? {
        guard let value = values[key] else { return nil }
        used.insert(key)
        return value
    }

    /// Whether any override lies under the section `path`.
    func hasKeys(under path: String) -> Bool { values.keys.contains { $0.hasPrefix(path + ".") } }

    func hasValue(_ key: String) -> Bool { values[key] != nil }

    var unused: [String] { values.keys.filter { !used.contains($0) }.sorted() }
}

/// Reads one YAML mapping with strict rules: every key must be known, every value of the
/// expected type. Errors carry the dotted key path (`model.d_model`).
struct ConfigReader {
    let file: String
    let path: String
    let entries: [(key: String, value: Node)]
    let overrides: ConfigOverrides

    /// Parses `text` (the contents of `file`) as a top-level mapping.
    init(file: String, text: String, overrides: ConfigOverrides = ConfigOverrides([:])) throws {
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            let detail = "\(error)".split(separator: "\n").first.map(String.init) ?? "\(error)"
            throw ConfigError(file: file, key: "", message: "not valid YAML: \(detail)")
        }
        guard let root, case .mapping(let mapping) = root else {
            throw ConfigError(file: file, key: "", message: "expected a mapping of sections at the top level")
        }
        try self.init(file: file, path: "", mapping: mapping, overrides: overrides)
    }

    private init(file: String, path: String, mapping: Node.Mapping?, overrides: ConfigOverrides) throws {
        self.file = file
        self.path = path
        self.overrides = overrides
        var entries: [(key: String, value: Node)] = []
        for (key, value) in mapping ?? Node.Mapping([]) {
            guard let name = key.string else {
                throw ConfigError(file: file, key: path, message: "keys must be strings")
            }
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

    /// A nested section, or nil when absent (and nothing is set under it from the command line).
    func section(_ key: String) throws -> ConfigReader? {
        guard let value = node(key) else {
            guard overrides.hasKeys(under: keyPath(key)) else { return nil }
            return try ConfigReader(file: file, path: keyPath(key), mapping: nil, overrides: overrides)
        }
        guard case .mapping(let mapping) = value else { throw error(key, "expected a mapping") }
        return try ConfigReader(file: file, path: keyPath(key), mapping: mapping, overrides: overrides)
    }

    /// Whether the key has a value (in the file or from the command line).
    func has(_ key: String) -> Bool { node(key) != nil || overrides.hasValue(keyPath(key)) }

    /// An integer `>= 1` when present, else nil.
    func optionalInt(_ key: String) throws -> Int? { has(key) ? try int(key) : nil }

    private func scalar(_ key: String, default fallback: String?) throws -> String {
        if let value = overrides.take(keyPath(key)) { return value }
        guard let value = node(key) else {
            if let fallback { return fallback }
            throw error(key, "missing")
        }
        guard case .scalar(let scalar) = value else { throw error(key, "expected a single value") }
        return scalar.string
    }

    /// An integer `>= minimum` (a size is positive: minimum 1).
    func int(_ key: String, minimum: Int = 1, default fallback: Int? = nil) throws -> Int {
        let text = try scalar(key, default: fallback.map(String.init))
        guard let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
            throw error(key, "expected an integer, got '\(text)'")
        }
        guard value >= minimum else {
            throw error(key, minimum == 1 ? "must be positive, got \(value)" : "must be at least \(minimum), got \(value)")
        }
        return value
    }

    /// A finite number in `range`.
    func double(_ key: String, in range: ClosedRange<Double> = -Double.greatestFiniteMagnitude...Double.greatestFiniteMagnitude,
                default fallback: Double? = nil) throws -> Double {
        let text = try scalar(key, default: fallback.map { "\($0)" })
        guard let value = Double(text), value.isFinite else { throw error(key, "expected a number, got '\(text)'") }
        guard range.contains(value) else { throw error(key, "must be in \(range.lowerBound)...\(range.upperBound), got \(text)") }
        return value
    }

    func bool(_ key: String, default fallback: Bool? = nil) throws -> Bool {
        let text = try scalar(key, default: fallback.map { "\($0)" })
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw error(key, "expected true or false, got '\(text)'")
        }
    }

    /// A list of strings (a YAML sequence, or one string).
    func strings(_ key: String, default fallback: [String]) throws -> [String] {
        guard let value = node(key) else { return fallback }
        switch value {
        case .scalar(let scalar): return [scalar.string]
        case .sequence(let sequence):
            return try sequence.map { item in
                guard case .scalar(let scalar) = item else { throw error(key, "expected a list of paths") }
                return scalar.string
            }
        default: throw error(key, "expected a list of paths")
        }
    }

    func string(_ key: String, default fallback: String? = nil) throws -> String {
        try scalar(key, default: fallback)
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
