import Yams

extension TesseraConfig {
    /// The resolved config (file values, defaults and `--set` overrides) as YAML that
    /// `TesseraConfig.parse` reads back to the same config: saved in run directories and
    /// checkpoints. Written from `ConfigKeys.all`: a section per top-level name, a line per
    /// key, and a subsection (`data.cm3`) as one flow mapping; unset optional keys are left out.
    public var yaml: String {
        var lines: [String] = []
        var section = ""
        var nested: (name: String, entries: [String])? = nil
        func closeNested() {
            if let open = nested { lines.append("  \(open.name): {\(open.entries.joined(separator: ", "))}") }
            nested = nil
        }
        for key in ConfigKeys.all {
            let parts = key.parts
            if parts[0] != section {
                closeNested()
                section = parts[0]
                lines.append("\(section):")
            }
            if parts.count == 3, nested?.name != parts[1] {
                closeNested()
                nested = (parts[1], [])
            } else if parts.count == 2 {
                closeNested()
            }
            guard let value = key.yamlValue(self) else { continue }
            if parts.count == 3 { nested?.entries.append("\(parts[2]): \(value)") } else { lines.append("  \(parts[1]): \(value)") }
        }
        closeNested()
        return lines.joined(separator: "\n") + "\n"
    }
}

extension TesseraConfig {
    /// The text of the dotted key `name` (`model.activation`) in YAML this build or an
    /// earlier one wrote (a checkpoint's `config` attribute); nil when the key is absent, as
    /// in files written before it existed, or when the text is not such YAML. Reads only
    /// that key, so a file with keys this build no longer knows still answers.
    public static func recordedValue(_ name: String, inYAML text: String) -> String? {
        guard var node = try? Yams.compose(yaml: text) else { return nil }
        for part in name.split(separator: ".") {
            guard case .mapping(let mapping) = node, let child = mapping[String(part)] else { return nil }
            node = child
        }
        guard case .scalar(let scalar) = node else { return nil }
        return scalar.string
    }
}
