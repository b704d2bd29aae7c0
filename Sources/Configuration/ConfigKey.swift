import Foundation
import Model
import Optim
import Parallel
import TrainingData
import Yams

/// What a config key holds and the rule its values follow; the reader checks it and the
/// docs print it.
public enum ConfigValueKind: Equatable, Sendable {
    /// A whole number in `minimum...maximum` (underscores allowed: `20_000`).
    case integer(minimum: Int, maximum: Int = Int.max)
    /// A finite number in the range.
    case number(ClosedRange<Double>)
    /// `true` or `false` (also yes/no, on/off).
    case boolean
    /// One of these words.
    case choice([String])
    /// A list of file paths, or one path.
    case paths
    /// One file path.
    case path

    /// The message for an integer under its minimum; sizes (minimum 1) read "must be positive".
    static func belowMinimum(_ value: Int, _ minimum: Int) -> String {
        minimum == 1 ? "must be positive, got \(value)" : "must be at least \(minimum), got \(value)"
    }

    /// The choices as a phrase: "linear or cosine", "a, b or c".
    public static func phrase(_ words: [String]) -> String {
        words.count < 2 ? words.joined() : words.dropLast().joined(separator: ", ") + " or " + words.last!
    }
}

/// Whether a key must be given.
public enum ConfigRequirement: Equatable, Sendable {
    /// Every config gives it: the reader fails with "missing" otherwise.
    case required
    /// Has a default value, written out with the resolved config.
    case defaulted
    /// Unset unless given (something else derives the value); omitted from written YAML.
    case optional
}

/// A value as the reader gets it: text from `--set`, or the file's YAML node.
enum ConfigInput {
    case text(String)
    case node(Node)
}

/// Why a value was refused; the reader adds the file and the key.
struct ConfigProblem: Error {
    let message: String
}

/// One config key: its dotted name, kind, requirement and doc line, and where it lives in
/// `TesseraConfig`. Built only through the typed constructors below, so the kind that
/// validates a value and the property that stores it cannot disagree.
public struct ConfigKey {
    /// Dotted name, as in the file and in `--set`: `optim.peak_lr`.
    public let name: String
    public let kind: ConfigValueKind
    public let requirement: ConfigRequirement
    /// One line for the docs.
    public let doc: String
    /// Parses a value and stores it in the config.
    let read: (inout TesseraConfig, ConfigInput) throws -> Void
    /// The config's value as YAML; nil when unset (only optional keys are ever unset).
    let yamlValue: (TesseraConfig) -> String?
    /// For a data path: rewrites the config's relative paths through the function given
    /// (`TesseraConfig.load` resolves them from the config file's folder).
    private(set) var rebase: ((inout TesseraConfig, (String) -> String) -> Void)? = nil

    private init<Value>(
        _ name: String, _ kind: ConfigValueKind, _ requirement: ConfigRequirement, _ doc: String,
        _ path: WritableKeyPath<TesseraConfig, Value>,
        parse: @escaping (ConfigInput) throws -> Value, render: @escaping (Value) -> String?
    ) {
        self.name = name
        self.kind = kind
        self.requirement = requirement
        self.doc = doc
        self.read = { config, input in config[keyPath: path] = try parse(input) }
        self.yamlValue = { render($0[keyPath: path]) }
    }

    /// The name's parts: `["data", "cm3", "lambda"]`.
    var parts: [String] { name.split(separator: ".").map(String.init) }

    /// The dotted path of the section holding the key: `data.cm3`.
    var section: String { parts.dropLast().joined(separator: ".") }

    /// The key's own name inside its section: `lambda`.
    var leaf: String { parts.last! }
}

// The typed constructors the table is written with, one per kind of property.
extension ConfigKey {
    /// `maximum` bounds sizes that are multiplied together (parameters, activations, batch
    /// tokens), so every product the trainer forms fits in `Int` and an absurd value is
    /// refused by name instead of overflowing later.
    static func integer(
        _ name: String, _ path: WritableKeyPath<TesseraConfig, Int>, minimum: Int = 1,
        maximum: Int = Int.max, required: Bool = false, _ doc: String
    ) -> ConfigKey {
        ConfigKey(
            name, .integer(minimum: minimum, maximum: maximum), required ? .required : .defaulted, doc, path,
            parse: { try integer($0, minimum: minimum, maximum: maximum) }, render: { "\($0)" })
    }

    static func integer(
        _ name: String, _ path: WritableKeyPath<TesseraConfig, Int?>, minimum: Int = 1,
        maximum: Int = Int.max, _ doc: String
    ) -> ConfigKey {
        ConfigKey(
            name, .integer(minimum: minimum, maximum: maximum), .optional, doc, path,
            parse: { try integer($0, minimum: minimum, maximum: maximum) }, render: { $0.map { "\($0)" } })
    }

    /// A token id: at least 0 and within `Int32`.
    static func token(_ name: String, _ path: WritableKeyPath<TesseraConfig, Int32>, _ doc: String) -> ConfigKey {
        let maximum = Int(Int32.max)
        return ConfigKey(
            name, .integer(minimum: 0, maximum: maximum), .defaulted, doc, path,
            parse: { Int32(try integer($0, minimum: 0, maximum: maximum)) }, render: { "\($0)" })
    }

    static func number(
        _ name: String, _ path: WritableKeyPath<TesseraConfig, Double>, in range: ClosedRange<Double>,
        _ doc: String
    ) -> ConfigKey {
        ConfigKey(
            name, .number(range), .defaulted, doc, path,
            parse: { try number($0, in: range) }, render: { "\($0)" })
    }

    static func number(
        _ name: String, _ path: WritableKeyPath<TesseraConfig, Double?>, in range: ClosedRange<Double>,
        _ doc: String
    ) -> ConfigKey {
        ConfigKey(
            name, .number(range), .optional, doc, path,
            parse: { try number($0, in: range) }, render: { $0.map { "\($0)" } })
    }

    /// A number stored as `Float`, written as the `Float` prints (`0.9`, not `0.8999999761581421`).
    static func number(
        _ name: String, _ path: WritableKeyPath<TesseraConfig, Float>, in range: ClosedRange<Double>,
        _ doc: String
    ) -> ConfigKey {
        ConfigKey(
            name, .number(range), .defaulted, doc, path,
            parse: { Float(try number($0, in: range)) }, render: { "\($0)" })
    }

    static func boolean(_ name: String, _ path: WritableKeyPath<TesseraConfig, Bool>, _ doc: String) -> ConfigKey {
        ConfigKey(name, .boolean, .defaulted, doc, path, parse: { try boolean($0) }, render: { "\($0)" })
    }

    static func choice<Word: RawRepresentable>(
        _ name: String, _ path: WritableKeyPath<TesseraConfig, Word>,
        _ options: [Word], _ doc: String
    ) -> ConfigKey where Word.RawValue == String {
        let words = options.map(\.rawValue)
        return ConfigKey(
            name, .choice(words), .defaulted, doc, path,
            parse: { input in
                let text = try scalar(input)
                guard let word = Word(rawValue: text), words.contains(text) else {
                    throw ConfigProblem(message: "expected \(ConfigValueKind.phrase(words)), got '\(text)'")
                }
                return word
            }, render: { $0.rawValue })
    }

    /// A list of data paths, which a config file gives relative to its own folder.
    static func paths(_ name: String, _ path: WritableKeyPath<TesseraConfig, [String]>, _ doc: String) -> ConfigKey {
        var key = ConfigKey(
            name, .paths, .defaulted, doc, path, parse: { try paths($0) },
            render: { list in
                "[" + list.map(quoted).joined(separator: ", ") + "]"
            })
        key.rebase = { config, rebased in config[keyPath: path] = config[keyPath: path].map(rebased) }
        return key
    }

    /// One path, unset unless given.
    /// `dataPath`: a config file gives it relative to its own folder (data files); otherwise
    /// relative to the working directory, like `--run` (a checkpoint of `runs/`).
    static func path(
        _ name: String, _ path: WritableKeyPath<TesseraConfig, String?>, dataPath: Bool = true, _ doc: String
    ) -> ConfigKey {
        var key = ConfigKey(
            name, .path, .optional, doc, path,
            parse: { input in
                let text = try scalar(input)
                guard !text.isEmpty else { throw ConfigProblem(message: "expected a path") }
                return text
            }, render: { $0.map(quoted) })
        if dataPath { key.rebase = { config, rebased in config[keyPath: path] = config[keyPath: path].map(rebased) } }
        return key
    }

    /// A path as a double-quoted YAML string.
    private static func quoted(_ path: String) -> String {
        "\"" + path.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"") + "\""
    }
}

// Parsing, shared by the constructors; the messages are the ones users and tests see.
extension ConfigKey {
    private static func scalar(_ input: ConfigInput) throws -> String {
        switch input {
        case .text(let text): return text
        case .node(.scalar(let scalar)): return scalar.string
        case .node: throw ConfigProblem(message: "expected a single value")
        }
    }

    private static func integer(_ input: ConfigInput, minimum: Int, maximum: Int = Int.max) throws -> Int {
        let text = try scalar(input)
        guard let value = Int(text.replacingOccurrences(of: "_", with: "")) else {
            throw ConfigProblem(message: "expected an integer, got '\(text)'")
        }
        guard value >= minimum else { throw ConfigProblem(message: ConfigValueKind.belowMinimum(value, minimum)) }
        guard value <= maximum else { throw ConfigProblem(message: "must be at most \(maximum), got \(value)") }
        return value
    }

    private static func number(_ input: ConfigInput, in range: ClosedRange<Double>) throws -> Double {
        let text = try scalar(input)
        guard let value = Double(text), value.isFinite else {
            throw ConfigProblem(message: "expected a number, got '\(text)'")
        }
        guard range.contains(value) else {
            throw ConfigProblem(message: "must be in \(range.lowerBound)...\(range.upperBound), got \(text)")
        }
        return value
    }

    private static func boolean(_ input: ConfigInput) throws -> Bool {
        let text = try scalar(input)
        switch text.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: throw ConfigProblem(message: "expected true or false, got '\(text)'")
        }
    }

    /// A YAML sequence of strings or one string; `--set` text is read as YAML, so
    /// `--set 'data.train=[a.h5, b.h5]'` gives two paths.
    private static func paths(_ input: ConfigInput) throws -> [String] {
        let problem = ConfigProblem(message: "expected a list of paths")
        let node: Node
        switch input {
        case .node(let given): node = given
        case .text(let text):
            guard let parsed = try? Yams.compose(yaml: text) else { throw problem }
            node = parsed
        }
        switch node {
        case .scalar(let scalar): return [scalar.string]
        case .sequence(let sequence):
            return try sequence.map { item in
                guard case .scalar(let scalar) = item else { throw problem }
                return scalar.string
            }
        default: throw problem
        }
    }
}
