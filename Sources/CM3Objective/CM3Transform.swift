import Randomness

/// Settings of the CM3 infilling objective (CM3 paper §2; CM3Leon §2.2).
public struct CM3Settings: Equatable, Sendable {
    /// Span count n ~ clamp(Poisson(λ), minSpans, maxSpans).
    public var lambda: Double
    public var minSpans: Int
    public var maxSpans: Int
    /// Loss weight of targets that are `<mask>` placeholders in the source (CM3: 0).
    public var maskWeight: Float

    public init(lambda: Double = 1, minSpans: Int = 1, maxSpans: Int = 16, maskWeight: Float = 0) {
        self.lambda = lambda; self.minSpans = minSpans; self.maxSpans = maxSpans; self.maskWeight = maskWeight
    }

    /// Tokens the transform can add to a block: `<mask>` and `<infill>` per span, one `<eos>`.
    public var reserve: Int { 2 * maxSpans + 1 }
}

/// The result of masking one example.
public struct CM3Example: Equatable, Sendable {
    /// `source-with-masks  <infill> span₁ … <infill> spanₙ  <eos>`.
    public var tokens: [Int32]
    /// The masked spans, as ranges of the original tokens, in order.
    public var spans: [Range<Int>]
}

/// The ranges of `tokens` a span may cover: maximal runs without `<break>`, `<eos>`,
/// `<pad>`, `<mask>` or `<infill>`. A span inside one run never contains or crosses a
/// modality switch or a document boundary (CM3Leon's change to CM3).
public func maskableSegments(_ tokens: [Int32], vocabulary: Vocabulary) -> [Range<Int>] {
    var segments: [Range<Int>] = []
    var start: Int? = nil
    for (index, token) in tokens.enumerated() {
        if vocabulary.isSpecial(token) {
            if let s = start { segments.append(s..<index); start = nil }
        } else if start == nil {
            start = index
        }
    }
    if let s = start { segments.append(s..<tokens.count) }
    return segments
}

/// CM3 masking of one example (a document, or `r1 r2 r3 query`): draws n ~ clamp(Poisson(λ), min, max) spans
/// (fewer only when the block has fewer maskable tokens), non-overlapping, each inside one
/// segment; replaces each by `<mask>` in place and appends `<infill> span` for each in
/// order, then `<eos>`. With one span: `Image of <mask> : <break> [image] <infill> a
/// chameleon <eos>`. Output length is `tokens.count + 2n + 1`.
public func cm3Transform(
    _ tokens: [Int32], vocabulary: Vocabulary, settings: CM3Settings,
    generator: inout SplitMix64
) -> CM3Example {
    let spanCount = cm3SpanCount(settings, generator: &generator)
    return cm3Transform(tokens, spanCount: spanCount, vocabulary: vocabulary, generator: &generator)
}

/// The span count of one example: n ~ clamp(Poisson(λ), min, max).
public func cm3SpanCount(_ settings: CM3Settings, generator: inout SplitMix64) -> Int {
    min(max(generator.nextPoisson(settings.lambda), settings.minSpans), settings.maxSpans)
}

/// CM3 masking with a given span count (fewer only when `tokens` has fewer maskable ones).
public func cm3Transform(
    _ tokens: [Int32], spanCount wanted: Int, vocabulary: Vocabulary,
    generator: inout SplitMix64
) -> CM3Example {
    var free = maskableSegments(tokens, vocabulary: vocabulary)
    var spans: [Range<Int>] = []
    while spans.count < wanted {
        let available = free.reduce(0) { $0 + $1.count }
        guard available > 0 else { break }
        // A run chosen in proportion to its length, then a uniform sub-range of it.
        var pick = generator.nextInt(below: available)
        let runIndex = free.firstIndex { run in
            if pick < run.count { return true }
            pick -= run.count
            return false
        }!
        let run = free[runIndex]
        let a = run.lowerBound + generator.nextInt(below: run.count)
        let b = run.lowerBound + generator.nextInt(below: run.count)
        let span = min(a, b)..<(max(a, b) + 1)
        spans.append(span)
        free.replaceSubrange(
            runIndex...runIndex,
            with: [run.lowerBound..<span.lowerBound, span.upperBound..<run.upperBound].filter { !$0.isEmpty })
    }
    spans.sort { $0.lowerBound < $1.lowerBound }
    var output: [Int32] = []
    output.reserveCapacity(tokens.count + 2 * spans.count + 1)
    var position = 0
    for span in spans {
        output += tokens[position..<span.lowerBound]
        output.append(vocabulary.mask)
        position = span.upperBound
    }
    output += tokens[position...]
    for span in spans {
        output.append(vocabulary.infill)
        output += tokens[span]
    }
    output.append(vocabulary.eos)
    return CM3Example(tokens: output, spans: spans)
}

/// Inverts `cm3Transform`: puts each infilled span back in place of its `<mask>`. Returns
/// nil if `tokens` (trailing `<pad>` allowed) is not a transform's output.
public func cm3Untransform(_ tokens: [Int32], vocabulary: Vocabulary) -> [Int32]? {
    var end = tokens.count
    while end > 0 && tokens[end - 1] == vocabulary.pad { end -= 1 }
    guard end > 0, tokens[end - 1] == vocabulary.eos else { return nil }
    let body = tokens[..<(end - 1)]
    let sourceEnd = body.firstIndex(of: vocabulary.infill) ?? body.endIndex
    let source = body[..<sourceEnd]
    let spans = body[sourceEnd...].split(separator: vocabulary.infill, omittingEmptySubsequences: false).dropFirst()
    guard source.filter({ $0 == vocabulary.mask }).count == spans.count else { return nil }
    var restored: [Int32] = []
    var next = spans.startIndex
    for token in source {
        if token == vocabulary.mask {
            restored += spans[next]
            next = spans.index(after: next)
        } else {
            restored.append(token)
        }
    }
    return restored
}

/// Loss weights of next-token targets: 0 for `<pad>`, `settings.maskWeight` for a `<mask>`
/// placeholder, 1 otherwise.
public func cm3LossWeights(targets: some Sequence<Int32>, vocabulary: Vocabulary, settings: CM3Settings) -> [Float] {
    targets.map { target in
        target == vocabulary.pad ? 0 : target == vocabulary.mask ? settings.maskWeight : 1
    }
}
