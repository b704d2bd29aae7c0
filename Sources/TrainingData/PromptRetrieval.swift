import CM3Objective

/// Retrieval at inference (`launch generate --retrieve N`): documents of the training bank
/// for a prompt that is in no corpus, chosen by the rules of training (CM3Leon §2.1). The
/// prompt's parts are embedded with the built-in embedding; the 0.9 rule compares with
/// the whole prompt; copies of the prompt are skipped; multimodal documents come first.
public struct PromptRetrieval {
    public let documents: DocumentSource
    public let bank: EmbeddingBank
    public let vocabulary: Vocabulary
    public let embedding = BuiltinEmbedding()
    public let settings = RetrievalSettings()

    /// The bank of `dataset`; nil when its embeddings are stored ones (CLIP vectors cannot
    /// be computed here for a new prompt).
    public init?(dataset: Dataset, vocabulary: Vocabulary) {
        guard dataset.embeddings == nil else { return nil }
        documents = dataset.documents
        self.vocabulary = vocabulary
        bank = EmbeddingBank(builtinFor: dataset.documents, vocabulary: vocabulary, embedding: BuiltinEmbedding())
    }

    /// Up to `count` documents for `prompt`, split evenly between its text and image parts
    /// when it has both, in the order they are prepended.
    public func retrieve(for prompt: [Int32], count: Int) -> [Int] {
        let vectors = embedding.embed(document: prompt, vocabulary: vocabulary)
        let parts = modalities(of: prompt, vocabulary: vocabulary)
        let present = Modality.allCases.filter { !(($0 == .text ? parts.text : parts.image).isEmpty) }
        let isCopy: (Int) -> Bool = { candidate in Array(self.documents.document(candidate)).filter { $0 != self.vocabulary.eos } == prompt.filter { $0 != self.vocabulary.eos } }
        var chosen: [Int] = []
        for (index, modality) in present.enumerated() {
            let wanted = (count - chosen.count) / (present.count - index)
            let candidates = bank.ranked(vectors[modality], limit: min(bank.count, 16 * (count + 1)))
                .map { (document: $0.document, relevance: dot(bank.documentVector($0.document), vectors.document)) }
            chosen += selectRetrieved(candidates, count: wanted, query: -1, taken: Set(chosen), maxRelevance: settings.maxRelevance,
                                      isCopyOfQuery: isCopy) { document in
                let parts = modalities(of: self.documents.document(document), vocabulary: self.vocabulary)
                return !parts.text.isEmpty && !parts.image.isEmpty
            }
        }
        return chosen
    }
}
