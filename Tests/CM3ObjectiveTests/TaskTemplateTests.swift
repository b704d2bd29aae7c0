import CM3Objective
import ShapesCorpus
import XCTest

/// Fine-tuning examples: templates filled in with a document's fields, and the task mixture
/// with CM3Leon's up/down-sampling limits.
final class TaskTemplateTests: XCTestCase {
    let vocabulary = Vocabulary(textVocabulary: 256, imageCodes: 256)
    var corpus: DefaultCorpus { DefaultCorpus(vocabulary: vocabulary) }

    func template(_ text: String) throws -> TaskTemplate { try TaskTemplate(text, corpus: corpus) }

    /// A captioning template renders the image, the instruction and the caption; its prompt
    /// stops before the caption; either document order gives the same fields.
    func testTemplateRendersFieldsAndPrompt() throws {
        let captioning = try template("{image} <break> describe the given picture . {caption}")
        XCTAssertEqual(captioning.fields, ["image", "caption"])
        XCTAssertEqual(captioning.answerField, "caption")
        let picture = Picture(items: [Picture.Item(shape: 1, colour: 2, region: 4)])
        let caption = corpus.caption(of: picture), image = corpus.image(of: picture)
        for document in [
            caption + [vocabulary.breakToken] + image + [vocabulary.eos],
            image + [vocabulary.breakToken] + caption + [vocabulary.eos]
        ] {
            let fields = TemplateFields.of(document, corpus: corpus, readsPictures: true)
            let instruction = try corpus.parse("<break> describe the given picture .")
            XCTAssertEqual(captioning.render(fields), image + instruction + caption)
            XCTAssertEqual(captioning.prompt(fields), image + instruction)
        }
    }

    /// The colour question asks about the first shape drawn once, so it has one answer; a
    /// picture with every shape drawn twice or more has no such field.
    func testQuestionFieldsNameAShapeDrawnOnce() throws {
        let question = try template("{image} <break> question : what colour is the {shape} ? answer : {colour}")
        let twice = Picture(items: [
            Picture.Item(shape: 0, colour: 0, region: 0), Picture.Item(shape: 0, colour: 1, region: 1),
            Picture.Item(shape: 2, colour: 3, region: 8)
        ])
        let fields = TemplateFields.of(
            corpus.image(of: twice) + [vocabulary.breakToken] + corpus.caption(of: twice), corpus: corpus,
            readsPictures: true)
        XCTAssertEqual(corpus.render(fields["shape"]!), "triangle")
        XCTAssertEqual(corpus.render(fields["colour"]!), "yellow")
        XCTAssertEqual(corpus.render(fields["region"]!), "bottom right")
        XCTAssertTrue(
            corpus.render(question.render(fields)!).hasSuffix(
                "<break> question : what colour is the triangle ? answer : yellow"))
        let none = Picture(items: [
            Picture.Item(shape: 0, colour: 0, region: 0), Picture.Item(shape: 0, colour: 1, region: 1)
        ])
        let without = TemplateFields.of(
            corpus.caption(of: none) + [vocabulary.breakToken] + corpus.image(of: none), corpus: corpus,
            readsPictures: true)
        XCTAssertNil(without["colour"])
        XCTAssertNil(question.render(without))
    }

    func testBadTemplatesAreRefused() {
        XCTAssertThrowsError(try template("{picture} <break> {caption}")) {
            XCTAssertEqual($0 as? TemplateError, .unknownField("picture", known: TemplateFields.names))
        }
        XCTAssertThrowsError(try template("{image} <break> describe it")) {
            XCTAssertEqual(
                "\($0)",
                "'it' is not a word of the built-in corpus, a special token, img:K or a token id of this vocabulary")
        }
        XCTAssertThrowsError(try template("{image} <break> describe")) {
            XCTAssertEqual($0 as? TemplateError, .noAnswerField)
        }
    }

    /// Shares follow the weights, clamped to 3× and 0.3× the natural share before
    /// normalising (CM3Leon E.1).
    func testMixtureClampsToTheUpAndDownSamplingLimits() throws {
        let anyTemplate = try template("{caption} <break> {image}")
        func tasks(_ weights: [Double]) -> [FineTuningTask] {
            weights.enumerated().map {
                FineTuningTask(name: "t\($0.offset)", template: anyTemplate, weight: $0.element)
            }
        }
        // Natural shares 10/21, 10/21, 1/21; asked a third each: the small task is capped at 3/21.
        let up = TaskMixture(tasks: tasks([1, 1, 1]), sizes: [10_000, 10_000, 1_000], sampling: TaskSampling())
        let shares = [1.0 / 3, 1.0 / 3, 3.0 / 21]
        for (probability, share) in zip(up.probabilities, shares) {
            XCTAssertEqual(probability, share / shares.reduce(0, +), accuracy: 1e-12)
        }
        // Natural shares 0.9 and 0.1; asked 1% for the first: it keeps 0.3 × 0.9 before normalising.
        let down = TaskMixture(tasks: tasks([1, 99]), sizes: [9_000, 1_000], sampling: TaskSampling())
        XCTAssertEqual(down.probabilities[0], 0.27 / (0.27 + 0.3), accuracy: 1e-12)
        // Without limits the weights are the shares.
        let free = TaskMixture(
            tasks: tasks([1, 3]), sizes: [9_000, 1_000], sampling: TaskSampling(upsampleLimit: 1e6, downsampleLimit: 0)
        )
        XCTAssertEqual(free.probabilities[0], 0.25, accuracy: 1e-12)
    }

    /// Over 30,000 slots the tasks are drawn at the mixture's shares, each example is its
    /// document's fields in the task's template, and a task draws only from its pool.
    func testTemplatedExamplesFollowTheMixture() throws {
        let documents = FlatDocuments(documents: corpus.documents(3_000))
        let tasks = [
            FineTuningTask(
                name: "captioning", template: try template("{image} <break> describe the given picture . {caption}"),
                weight: 1),
            FineTuningTask(
                name: "colour-question",
                template: try template("{image} <break> question : what colour is the {shape} ? answer : {colour}"),
                weight: 1, examples: 300)
        ]
        let examples = try TemplatedExamples(
            tasks: tasks, sampling: TaskSampling(), documents: documents, corpus: corpus,
            readsPictures: true, seed: 7)
        XCTAssertEqual(examples.pools.map(\.count), [3_000, 300])
        var counts = [String: Int]()
        for slot in 0..<30_000 {
            let example = examples.example(for: slot, epoch: slot % 3)
            let task = try XCTUnwrap(tasks.first { $0.name == example.task })
            counts[task.name, default: 0] += 1
            let fields = TemplateFields.of(
                Array(documents.document(example.query)), corpus: corpus, readsPictures: true)
            XCTAssertEqual(example.queryTokens, task.template.render(fields)! + [vocabulary.eos])
            if task.name == "colour-question" { XCTAssertTrue(examples.pools[1].contains(example.query)) }
        }
        let expected = examples.mixture.probabilities[1] * 30_000  // 3 × 300/3300, normalised
        XCTAssertEqual(
            examples.mixture.probabilities[1], (3.0 * 300 / 3300) / (0.5 + 3.0 * 300 / 3300), accuracy: 1e-12)
        XCTAssertEqual(
            Double(counts["colour-question"]!), expected,
            accuracy: 4 * (expected * (1 - expected / 30_000)).squareRoot())
        XCTAssertEqual(examples.example(for: 5, epoch: 1), examples.example(for: 5, epoch: 1))
    }

    /// A task no document can fill in is named.
    func testTaskWithoutDocumentsIsNamed() throws {
        let documents = FlatDocuments(documents: [corpus.caption(of: Picture(items: [])) + [vocabulary.eos]])
        let task = FineTuningTask(name: "captioning", template: try template("{image} <break> {caption}"), weight: 1)
        XCTAssertThrowsError(
            try TemplatedExamples(
                tasks: [task], sampling: TaskSampling(), documents: documents, corpus: corpus,
                readsPictures: true, seed: 0)
        ) {
            XCTAssertEqual(
                "\($0)", "task 'captioning': no document has every field its template reads ({image}, {caption})")
        }
    }
}
