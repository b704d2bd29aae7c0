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
            if parts.count == 3 {
                nested?.entries.append("\(parts[2]): \(value)")
            } else {
                lines.append("  \(parts[1]): \(value)")
            }
        }
        closeNested()
        return lines.joined(separator: "\n") + "\n"
    }
}
