import CM3Objective

/// A generation task `launch eval --task` scores on held-out documents: a template whose
/// last field is generated from the rest (the pretraining directions, or a task of
/// `data.tasks`).
public struct GenerationTask: Equatable, Sendable {
    public let name: String
    public let template: TaskTemplate

    public init(name: String, template: TaskTemplate) {
        self.name = name
        self.template = template
    }

    /// The pretraining directions of any corpus of caption-image documents: an image after
    /// its caption, a caption after its image.
    public static func pretrainingDirections(_ corpus: any TemplateCorpus) -> [GenerationTask] {
        // Both templates are fields and `<break>`, which every corpus reads.
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
    /// The fraction generated exactly right (what "exactly" means is the scorer's).
    public var exact: Double
    /// Images only: the fraction of image codes (cells) right.
    public var cellAccuracy: Double?

    public init(task: String, setting: String, documents: Int, exact: Double, cellAccuracy: Double?) {
        self.task = task; self.setting = setting; self.documents = documents; self.exact = exact
        self.cellAccuracy = cellAccuracy
    }
}

/// One held-out document's generation: what a user's own scorer reads.
public struct TaskGeneration: Equatable, Sendable {
    /// The document's index among the held-out documents.
    public let document: Int
    public let prompt: [Int32]
    /// The answer field's tokens, as the document has them.
    public let expected: [Int32]
    /// What was generated, `<eos>` included when it came.
    public let generated: [Int32]
    public let exact: Bool

    public init(document: Int, prompt: [Int32], expected: [Int32], generated: [Int32], exact: Bool) {
        self.document = document; self.prompt = prompt; self.expected = expected; self.generated = generated
        self.exact = exact
    }
}

/// Scores generation on held-out documents of any corpus, token for token: an image is
/// right when every code is the document's, text when it is the answer's tokens and then
/// `<eos>`. Prompts are decoded together, `batch` at a time.
public struct TokenExactScoring {
    public let generator: Generator
    public let corpus: any TemplateCorpus
    /// Codes per image (`data.image_tokens`).
    public let imageTokens: Int
    public let batch: Int

    public init(generator: Generator, corpus: any TemplateCorpus, imageTokens: Int, batch: Int = 64) {
        self.generator = generator
        self.corpus = corpus
        self.imageTokens = imageTokens
        self.batch = batch
    }

    /// The score of `settings` (named `setting`) on the `documents` that have every field
    /// `task` reads, and each one's generation.
    public func score(_ task: GenerationTask, documents: [[Int32]], settings: DecodingSettings, setting: String) throws
        -> (score: TaskScore, generations: [TaskGeneration])
    {
        let template = task.template, eos = generator.vocabulary.eos
        let chosen = documents.enumerated().compactMap { index, document -> (Int, [String: [Int32]])? in
            let fields = corpus.templateFields(of: document, readsPictures: false)
            return template.fields.allSatisfy { fields[$0] != nil } ? (index, fields) : nil
        }
        let isImage = template.answerField == "image"
        let answers = chosen.map { $0.1[template.answerField]! }
        let prompts = chosen.map { template.prompt($0.1)! }
        let mode: GenerationMode =
            isImage
            ? .image(codes: imageTokens)
            : .text(maxTokens: textRoom(prompts, longestAnswer: answers.map(\.count).max() ?? 0))
        var generated: [[Int32]] = []
        for start in stride(from: 0, to: prompts.count, by: batch) {
            let slice = Array(prompts[start..<min(start + batch, prompts.count)])
            generated += try generator.generate(prompts: slice, mode: mode, settings: settings)
        }
        var generations: [TaskGeneration] = [], rightCodes = 0
        for ((index, _), (prompt, (answer, output))) in zip(chosen, zip(prompts, zip(answers, generated))) {
            let exact = isImage ? Array(output.prefix(imageTokens)) == answer : output == answer + [eos]
            if isImage { rightCodes += zip(output.prefix(imageTokens), answer).filter { $0 == $1 }.count }
            generations.append(
                TaskGeneration(document: index, prompt: prompt, expected: answer, generated: output, exact: exact))
        }
        let right = generations.filter(\.exact).count
        let score = TaskScore(
            task: task.name, setting: setting, documents: chosen.count,
            exact: Double(right) / Double(max(1, chosen.count)),
            cellAccuracy: isImage ? Double(rightCodes) / Double(max(1, chosen.count * imageTokens)) : nil)
        return (score, generations)
    }

    /// Text tokens to allow: twice the longest answer and 8 more, as far as seq_len leaves
    /// room after the longest prompt (and its unconditional twin) and `<eos>`.
    func textRoom(_ prompts: [[Int32]], longestAnswer: Int) -> Int {
        let longestPrompt = prompts.map { $0.count + 1 }.max() ?? 0
        return max(1, min(2 * longestAnswer + 8, generator.decoder.config.seqLen - longestPrompt - 1))
    }
}
