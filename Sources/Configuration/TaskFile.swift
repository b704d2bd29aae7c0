import CM3Objective
import Diagnostics
import Foundation
import ShapesCorpus
import Yams

/// A fine-tuning task file (docs/fine-tuning.md): a `tasks:` list, each task with a `name`,
/// a `template` in the form of CM3Leon's Table 5, a `weight`, and optionally `examples`
/// (the most documents it draws from).
public enum TaskFile {
    static let keys = ["name", "template", "weight", "examples"]

    /// The tasks of `path`; a problem is one line naming the file, line and key.
    public static func load(path: String, corpus: any TemplateCorpus) throws -> [FineTuningTask] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
            throw ConfigError(file: path, key: "", message: "cannot be read")
        }
        let root: Node?
        do { root = try Yams.compose(yaml: text) } catch {
            throw ConfigError(
                file: path, key: "", message: "not valid YAML: \("\(error)".split(separator: "\n").first ?? "")")
        }
        guard case .mapping(let top)? = root, top.count == 1, case .sequence(let list)? = top["tasks"], !list.isEmpty
        else {
            throw ConfigError(file: path, key: "", message: "expected `tasks:` and a list of tasks under it")
        }
        var tasks: [FineTuningTask] = []
        for (index, node) in list.enumerated() {
            let key = "tasks[\(index)]", line = node.mark.map { "line \($0.line): " } ?? ""
            func failure(_ field: String, _ message: String) -> ConfigError {
                ConfigError(file: path, key: line + (field.isEmpty ? key : "\(key).\(field)"), message: message)
            }
            guard case .mapping(let task) = node else {
                throw failure("", "expected a mapping with name, template and weight")
            }
            if let unknown = task.keys.compactMap(\.string).first(where: { !keys.contains($0) }) {
                throw failure(unknown, "unknown key")
            }
            guard let name = task["name"]?.string, !name.isEmpty else { throw failure("name", "missing") }
            if tasks.contains(where: { $0.name == name }) { throw failure("name", "'\(name)' is given twice") }
            guard let text = task["template"]?.string else { throw failure("template", "missing") }
            let template: TaskTemplate
            do { template = try TaskTemplate(text, corpus: corpus) } catch let error as TemplateError {
                throw failure("template", error.description)
            }
            guard let weight = task["weight"]?.float, weight.isFinite, weight > 0 else {
                throw failure("weight", "expected a positive number")
            }
            var examples: Int?
            if let node = task["examples"] {
                guard let count = node.int, count > 0 else { throw failure("examples", "expected a positive integer") }
                examples = count
            }
            tasks.append(FineTuningTask(name: name, template: template, weight: weight, examples: examples))
        }
        return tasks
    }
}
