import CM3Objective
import Generation

extension GenerationTask {
    /// The pretraining directions on the built-in corpus.
    public static func builtin(_ corpus: DefaultCorpus) -> [GenerationTask] { pretrainingDirections(corpus) }
}

/// Scores generation on documents of the built-in corpus, where a caption determines its
/// picture exactly, by decoding every prompt at once. An image is right when every cell is
/// the document's picture; a caption when it parses to the document's picture, whatever
/// the order of its shapes; any other field when it is the field's tokens, then `<eos>`.
public struct ExactScoring {
    public let generator: Generator
    public let corpus: DefaultCorpus

    public init(generator: Generator, corpus: DefaultCorpus) {
        self.generator = generator
        self.corpus = corpus
    }

    /// The score of `settings` (named `setting` in reports) on the `documents` that have
    /// the fields `task` reads, and each one's generation.
    public func score(_ task: GenerationTask, documents: [[Int32]], settings: DecodingSettings, setting: String) throws
        -> (score: TaskScore, generations: [TaskGeneration])
    {
        let template = task.template, eos = generator.vocabulary.eos
        let chosen = documents.enumerated().compactMap { index, document -> (Int, [String: [Int32]])? in
            let fields = TemplateFields.of(document, corpus: corpus, readsPictures: true)
            return template.fields.allSatisfy { fields[$0] != nil } ? (index, fields) : nil
        }
        let prompts = chosen.map { template.prompt($0.1)! }
        let answers = chosen.map { $0.1[template.answerField]! }
        let mode: GenerationMode
        switch template.answerField {
        case "image": mode = .image(codes: DefaultCorpus.cells)
        case "caption": mode = .text(maxTokens: DefaultCorpus.longestCaption)
        default: mode = .text(maxTokens: (answers.map(\.count).max() ?? 0) + 1)
        }
        let outputs = try generator.generate(prompts: prompts, mode: mode, settings: settings)
        var cells = 0
        let generations = zip(chosen, zip(prompts, zip(answers, outputs))).map { item, rest in
            let (prompt, (answer, output)) = rest
            let exact: Bool
            switch template.answerField {
            case "image":
                let right = zip(output.prefix(DefaultCorpus.cells), answer).filter { $0 == $1 }.count
                cells += right
                exact = right == DefaultCorpus.cells
            case "caption":
                let shown = item.1["image"].flatMap(corpus.picture(fromImage:))
                let described = corpus.picture(fromCaption: output.filter { $0 != eos })
                exact = shown != nil && described.map { $0.sameContents(as: shown!) } == true
            default:
                exact = output == answer + [eos]
            }
            return TaskGeneration(document: item.0, prompt: prompt, expected: answer, generated: output, exact: exact)
        }
        let score = TaskScore(
            task: task.name, setting: setting, documents: chosen.count,
            exact: Double(generations.filter(\.exact).count) / Double(max(1, chosen.count)),
            cellAccuracy: template.answerField == "image"
                ? Double(cells) / Double(max(1, answers.count * DefaultCorpus.cells)) : nil)
        return (score, generations)
    }
}
