import CM3Objective
import Generation

/// A task `launch eval --task` scores on the built-in corpus, where a caption determines its
/// picture exactly: a template whose last field is generated from the rest.
public struct GenerationTask: Equatable, Sendable {
    public let name: String
    public let template: TaskTemplate

    public init(name: String, template: TaskTemplate) {
        self.name = name
        self.template = template
    }

    /// The pretraining directions: an image after its caption, a caption after its image.
    public static func builtin(_ corpus: DefaultCorpus) -> [GenerationTask] {
        // Both templates are fixed and valid for every vocabulary the corpus fits.
        [
            GenerationTask(
                name: "text-to-image", template: try! TaskTemplate("{caption} <break> {image}", corpus: corpus)),
            GenerationTask(
                name: "image-to-text", template: try! TaskTemplate("{image} <break> {caption}", corpus: corpus))
        ]
    }
}

/// How well one decoding setting did on one task.
public struct TaskScore: Equatable, Sendable {
    public var task: String
    public var setting: String
    /// Documents scored: those with every field the task's template reads.
    public var documents: Int
    /// An image: images whose every cell is the document's picture. A caption: captions that
    /// parse to the document's picture, whatever the order of its shapes. Anything else: the
    /// field's tokens exactly, then `<eos>`.
    public var exact: Double
    /// Images only: the fraction of cells right.
    public var cellAccuracy: Double?
}

/// Scores generation on documents of the built-in corpus by decoding every prompt at once.
public struct ExactScoring {
    public let generator: Generator
    public let corpus: DefaultCorpus

    public init(generator: Generator, corpus: DefaultCorpus) {
        self.generator = generator
        self.corpus = corpus
    }

    /// The score of `settings` (named `setting` in reports) on the `documents` that have
    /// the fields `task` reads.
    public func score(_ task: GenerationTask, documents: [[Int32]], settings: DecodingSettings, setting: String) throws
        -> TaskScore
    {
        let template = task.template, eos = generator.vocabulary.eos
        let fields = documents.map { TemplateFields.of($0, corpus: corpus, readsPictures: true) }.filter { fields in
            template.fields.allSatisfy { fields[$0] != nil }
        }
        let prompts = fields.map { template.prompt($0)! }
        let answers = fields.map { $0[template.answerField]! }
        var exact = 0
        var cellAccuracy: Double?
        switch template.answerField {
        case "image":
            let images = try generator.generate(
                prompts: prompts, mode: .image(codes: DefaultCorpus.cells), settings: settings)
            var cells = 0
            for (image, answer) in zip(images, answers) {
                let right = zip(image.prefix(DefaultCorpus.cells), answer).filter { $0 == $1 }.count
                cells += right
                if right == DefaultCorpus.cells { exact += 1 }
            }
            cellAccuracy = Double(cells) / Double(max(1, answers.count * DefaultCorpus.cells))
        case "caption":
            let captions = try generator.generate(
                prompts: prompts, mode: .text(maxTokens: DefaultCorpus.longestCaption), settings: settings)
            exact =
                zip(fields, captions).filter { fields, caption in
                    guard let shown = fields["image"].flatMap(corpus.picture(fromImage:)),
                        let described = corpus.picture(fromCaption: caption.filter { $0 != eos })
                    else { return false }
                    return described.sameContents(as: shown)
                }.count
        default:
            let longest = answers.map(\.count).max() ?? 0
            let texts = try generator.generate(
                prompts: prompts, mode: .text(maxTokens: longest + 1), settings: settings)
            exact = zip(texts, answers).filter { text, answer in text == answer + [eos] }.count
        }
        return TaskScore(
            task: task.name, setting: setting, documents: fields.count,
            exact: Double(exact) / Double(max(1, fields.count)), cellAccuracy: cellAccuracy)
    }
}
