import Autograd

/// Decoding: logits of the next token, through a `KVCache` or by a full forward pass. Both
/// run the training forward pass (`CM3LeonDecoder.hiddenStates`) on a tape that records
/// nothing, so the model decoded is the model trained; only attention differs.
extension CM3LeonDecoder {
    /// An empty cache for `sequences` sequences of up to `capacity` tokens on this rank.
    public func makeCache(sequences: Int, capacity: Int) -> KVCache {
        precondition(capacity <= config.seqLen, "a cache of \(capacity) positions exceeds seq_len \(config.seqLen)")
        return KVCache(
            sequences: sequences, capacity: capacity, width: config.dModel / group.size, layers: layers.count)
    }

    /// Feeds `tokens[s]` to sequence s of `cache`, after what it holds, and returns for
    /// every sequence given tokens the logits `[vocab]` of the token after its last one (an
    /// empty array for a sequence given none). Every tensor-parallel rank gets the full
    /// vocabulary's logits.
    public func nextTokenLogits(_ tokens: [[Int32]], cache: KVCache) -> [[Float]] {
        precondition(
            tokens.count == cache.sequences, "\(tokens.count) token lists for a cache of \(cache.sequences) sequences")
        let counts = tokens.map(\.count)
        let ids = tokens.flatMap { $0 }
        guard !ids.isEmpty else { return tokens.map { _ in [] } }
        let positions = (0..<cache.sequences).flatMap { s in
            (cache.lengths[s]..<(cache.lengths[s] + counts[s])).map(Int32.init)
        }
        let hidden = hiddenStates(
            ids, positions: positions, attention: .cached(cache, counts: counts),
            tape: Tape(recording: false))  // [new tokens, d]
        cache.advance(counts)
        var lastRows: [Int] = [], row = 0
        for count in counts {
            row += count
            if count > 0 { lastRows.append(row - 1) }
        }
        var logits = vocabularyLogits(hidden, rows: lastRows)[...]
        return counts.map { $0 > 0 ? logits.removeFirst() : [] }
    }

    /// Logits `[vocab]` at every position of `tokens` by one full forward pass without a
    /// cache: what the cached logits must equal.
    public func fullForwardLogits(_ tokens: [Int32]) -> [[Float]] {
        fullForward([tokens], rows: Array(0..<tokens.count))
    }

    /// The logits after the last token of each of `sequences` (all of one length), by one
    /// batched full forward pass over them: decoding without a cache.
    public func lastTokenLogits(_ sequences: [[Int32]]) -> [[Float]] {
        let length = sequences[0].count
        return fullForward(sequences, rows: sequences.indices.map { ($0 + 1) * length - 1 })
    }

    /// A forward pass over equal-length `sequences` in one batch; logits of the given rows
    /// of the flattened `[sequences · length]` positions.
    func fullForward(_ sequences: [[Int32]], rows: [Int]) -> [[Float]] {
        let length = sequences[0].count
        precondition(length > 0 && length <= config.seqLen && sequences.allSatisfy { $0.count == length })
        let positions = sequences.flatMap { _ in (0..<length).map(Int32.init) }
        let hidden = hiddenStates(
            sequences.flatMap { $0 }, positions: positions,
            attention: .causal(sequences: sequences.count), tape: Tape(recording: false))
        return vocabularyLogits(hidden, rows: rows)
    }

    /// The tied LM head on `rows` of `hidden [tokens, d]`: each rank forms its vocabulary
    /// shard's logits and one all-reduce assembles the full rows on every rank.
    func vocabularyLogits(_ hidden: Tensor, rows: [Int]) -> [[Float]] {
        let d = config.dModel, vocab = config.vocabSize, shard = embedTokens.table.shape[0]
        let selected = Tensor(shape: [rows.count, d])
        for (i, row) in rows.enumerated() {
            (selected.pointer + i * d).update(from: hidden.pointer + row * d, count: d)
        }
        let full = UnsafeMutableBufferPointer<Float>.allocate(capacity: rows.count * vocab)
        defer { full.deallocate() }
        full.initialize(repeating: 0)
        // [rows, shard] = selected [rows, d] · tableᵀ [d, shard], into this shard's columns
        sgemm(
            transposeB: true, m: rows.count, n: shard, k: d, a: selected.pointer, lda: d,
            b: embedTokens.table.pointer, ldb: d, c: full.baseAddress! + embedTokens.offset, ldc: vocab)
        group.allReduce(full, .sum)
        return (0..<rows.count).map { Array(full[($0 * vocab)..<(($0 + 1) * vocab)]) }
    }
}
