import CM3Objective

/// The generation tasks `launch eval --task` scores on the built-in corpus, where a caption
/// determines its picture exactly.
public enum GenerationTask: String, CaseIterable, Sendable {
    case textToImage = "text-to-image"
    case imageToText = "image-to-text"
}

/// How well one decoding setting did on one task.
public struct TaskScore: Equatable, Sendable {
    public var task: GenerationTask
    public var setting: String
    public var documents: Int
    /// Text→image: images whose every cell is the caption's picture. Image→text: captions
    /// that parse to the image's picture, whatever the order of its shapes.
    public var exact: Double
    /// Text→image only: the fraction of cells right.
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

    /// The score of `settings` (named `setting` in reports) on `documents` for `task`.
    public func score(_ task: GenerationTask, documents: [[Int32]], settings: DecodingSettings, setting: String) throws -> TaskScore {
        let vocabulary = generator.vocabulary
        let parts = documents.compactMap { corpus.parts(of: $0) }
        precondition(parts.count == documents.count, "documents of the built-in corpus have a caption and an image")
        switch task {
        case .textToImage:
            let prompts = parts.map { $0.caption + [vocabulary.breakToken] }
            let images = try generator.generate(prompts: prompts, mode: .image(codes: DefaultCorpus.cells), settings: settings)
            var exact = 0, cells = 0
            for (part, image) in zip(parts, images) {
                let right = zip(image.prefix(DefaultCorpus.cells), part.image).filter { $0 == $1 }.count
                cells += right
                if right == DefaultCorpus.cells { exact += 1 }
            }
            return TaskScore(task: task, setting: setting, documents: documents.count, exact: Double(exact) / Double(documents.count),
                             cellAccuracy: Double(cells) / Double(documents.count * DefaultCorpus.cells))
        case .imageToText:
            let prompts = parts.map { $0.image + [vocabulary.breakToken] }
            let captions = try generator.generate(prompts: prompts, mode: .text(maxTokens: 48), settings: settings)
            let exact = zip(parts, captions).filter { part, caption in
                guard let shown = corpus.picture(fromImage: part.image),
                      let described = corpus.picture(fromCaption: caption.filter { $0 != vocabulary.eos }) else { return false }
                return described.sameContents(as: shown)
            }.count
            return TaskScore(task: task, setting: setting, documents: documents.count, exact: Double(exact) / Double(documents.count))
        }
    }
}
