import CM3Objective

/// Retrieval at inference (`launch generate --retrieve N`): documents of the training bank
/// for a prompt that is in no corpus, chosen by the search and rules of training
/// (`RetrievalExamples.search`). The prompt's parts are embedded with the built-in
/// embedding, and the 0.9 rule compares with the whole prompt.
public struct PromptRetrieval {
    let examples: RetrievalExamples
    let embedding = BuiltinEmbedding()

    /// The bank of `dataset`; nil when its embeddings are stored ones (CLIP vectors cannot
    /// be computed here for a new prompt).
    public init?(dataset: Dataset, vocabulary: Vocabulary) {
        guard dataset.embeddings == nil else { return nil }
        let bank = EmbeddingBank(builtinFor: dataset.documents, vocabulary: vocabulary, embedding: embedding)
        examples = RetrievalExamples(
            documents: dataset.documents, vocabulary: vocabulary, settings: RetrievalSettings(), seed: 0, bank: bank)
    }

    /// Up to `count` documents for `prompt`, split evenly between its text and image parts
    /// when it has both, in the order they are prepended.
    public func retrieve(for prompt: [Int32], count: Int) -> [Int] {
        let vocabulary = examples.vocabulary, documents = examples.documents
        let vectors = embedding.embed(document: prompt, vocabulary: vocabulary)
        let parts = modalities(of: prompt, vocabulary: vocabulary)
        let present = Modality.allCases.filter { !($0 == .text ? parts.text : parts.image).isEmpty }
        let withoutEnd = prompt.filter { $0 != vocabulary.eos }
        var chosen: [RetrievedDocument] = []
        for (index, modality) in present.enumerated() {
            chosen += examples.search(
                vectors[modality], modality: modality, count: (count - chosen.count) / (present.count - index),
                full: vectors.document, excluding: nil,
                isCopyOfQuery: { documents.document($0).filter { $0 != vocabulary.eos } == withoutEnd },
                taken: chosen)
        }
        return chosen.map(\.document)
    }
}
