extension ConfigKeys {
    /// The key list of docs/configuration.md, generated from the table (`launch config-keys`
    /// prints it; a test checks the doc holds exactly this).
    public static var markdownTable: String {
        let defaults = TesseraConfig.defaults(source: "")
        var lines = ["| key | value | default | meaning |", "|---|---|---|---|"]
        for key in all {
            let fallback: String
            switch key.requirement {
            case .required: fallback = "required"
            case .optional: fallback = "unset"
            case .defaulted: fallback = key.yamlValue(defaults).map { "`\($0)`" } ?? "unset"
            }
            lines.append("| `\(key.name)` | \(key.kind.summary) | \(fallback) | \(key.doc) |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

extension ConfigValueKind {
    /// The kind in a few words, for the docs: "integer ≥ 1", "number in 0.0...1.0".
    var summary: String {
        switch self {
        case .integer(let minimum, Int.max): return "integer ≥ \(minimum)"
        case .integer(let minimum, let maximum): return "integer in \(minimum)...\(maximum)"
        case .number(let range): return "number in \(range.lowerBound)...\(range.upperBound)"
        case .boolean: return "true or false"
        case .choice(let words): return ConfigValueKind.phrase(words)
        case .paths: return "list of paths"
        case .path: return "path"
        }
    }
}
