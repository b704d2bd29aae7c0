import Randomness

/// One fine-tuning task: a template, the documents it draws from, and the share of the
/// mixture it asks for.
public struct FineTuningTask: Equatable, Sendable {
    public var name: String
    public var template: TaskTemplate
    /// The share of the mixture asked for, relative to the other tasks' weights.
    public var weight: Double
    /// The most documents the task draws from (the size of its dataset); nil: every
    /// document that has the template's fields.
    public var examples: Int?

    public init(name: String, template: TaskTemplate, weight: Double, examples: Int? = nil) {
        self.name = name; self.template = template; self.weight = weight; self.examples = examples
    }
}

/// CM3Leon's up/down-sampling (appendix E.1, "a threshold of 3/0.3"): a task is sampled at
/// its weight's share, but never more than `upsampleLimit` times nor less than
/// `downsampleLimit` times its natural share (its examples over all tasks' examples).
public struct TaskSampling: Equatable, Sendable {
    public var upsampleLimit: Double
    public var downsampleLimit: Double
    public init(upsampleLimit: Double = 3, downsampleLimit: Double = 0.3) {
        self.upsampleLimit = upsampleLimit; self.downsampleLimit = downsampleLimit
    }
}

/// How often each task is drawn.
public struct TaskMixture: Equatable, Sendable {
    public let tasks: [FineTuningTask]
    /// Each task's examples: the documents it draws from.
    public let sizes: [Int]
    /// Each task's share of the examples as it is sampled.
    public let probabilities: [Double]

    /// The shares are `natural · clamp(asked / natural, down, up)`, normalised: a small task
    /// asked for much is upsampled at most `up` times, a large one asked for little is
    /// downsampled at most to `down` times its natural share (before normalisation).
    public init(tasks: [FineTuningTask], sizes: [Int], sampling: TaskSampling) {
        precondition(tasks.count == sizes.count && !tasks.isEmpty && sizes.allSatisfy { $0 > 0 })
        let totalSize = Double(sizes.reduce(0, +)), totalWeight = tasks.map(\.weight).reduce(0, +)
        let shares = zip(tasks, sizes).map { task, size -> Double in
            let natural = Double(size) / totalSize, asked = task.weight / totalWeight
            return natural * min(max(asked / natural, sampling.downsampleLimit), sampling.upsampleLimit)
        }
        let total = shares.reduce(0, +)
        self.tasks = tasks
        self.sizes = sizes
        probabilities = shares.map { $0 / total }
    }

    /// The task a uniform draw `unit` in [0, 1) picks.
    public func task(at unit: Double) -> Int {
        var cumulative = 0.0
        for (index, probability) in probabilities.enumerated() {
            cumulative += probability
            if unit < cumulative { return index }
        }
        return probabilities.count - 1
    }
}

/// Fine-tuning examples: each slot of an epoch draws a task from the mixture and one of the
/// task's documents, and fills in the task's template (then `<eos>`), to be masked with CM3
/// like any document (paper §4: "the same CM3 objective").
public struct TemplatedExamples: ExampleBuilder {
    public let mixture: TaskMixture
    /// Each task's documents: those with every field its template reads, at most `examples`.
    public let pools: [[Int]]
    public let startsAtBlockBoundary: Bool
    let documents: DocumentSource
    let corpus: any TemplateCorpus
    let readsPictures: Bool
    let seed: UInt64

    /// Throws `EmptyTask` when a task has no document with its fields.
    public init(
        tasks: [FineTuningTask], sampling: TaskSampling, documents: DocumentSource, corpus: any TemplateCorpus,
        readsPictures: Bool, seed: UInt64, oneExamplePerBlock: Bool = false
    ) throws {
        var pools = [[Int]](repeating: [], count: tasks.count)
        for index in 0..<documents.count {
            let fields = TemplateFields.of(
                Array(documents.document(index)), corpus: corpus, readsPictures: readsPictures)
            for (k, task) in tasks.enumerated() where pools[k].count < (task.examples ?? Int.max) {
                if task.template.fields.allSatisfy({ fields[$0] != nil }) { pools[k].append(index) }
            }
        }
        if let empty = pools.firstIndex(where: \.isEmpty) {
            throw EmptyTask(task: tasks[empty].name, fields: tasks[empty].template.fields)
        }
        mixture = TaskMixture(tasks: tasks, sizes: pools.map(\.count), sampling: sampling)
        self.pools = pools
        self.documents = documents
        self.corpus = corpus
        self.readsPictures = readsPictures
        self.seed = seed
        startsAtBlockBoundary = oneExamplePerBlock
    }

    public func example(for slot: Int, epoch: Int) -> Example {
        var generator = SplitMix64(seed: seed, name: "sft/\(epoch)/\(slot)")
        let task = mixture.task(at: generator.nextUnit())
        let document = pools[task][generator.nextInt(below: pools[task].count)]
        let fields = TemplateFields.of(
            Array(documents.document(document)), corpus: corpus, readsPictures: readsPictures)
        // The pool holds only documents with every field, so the template fills in.
        let tokens = mixture.tasks[task].template.render(fields)! + [corpus.vocabulary.eos]
        return Example(query: document, queryTokens: tokens, task: mixture.tasks[task].name)
    }

    /// A task that no document can fill in.
    public struct EmptyTask: Error, Equatable, CustomStringConvertible {
        public let task: String
        public let fields: [String]
        public var description: String {
            """
            task '\(task)': no document has every field its template reads \
            (\(fields.map { "{\($0)}" }.joined(separator: ", ")))
            """
        }
    }
}
