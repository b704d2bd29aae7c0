/// Embedding lookup: rows of a table gathered by id; backward scatters into the table.
extension Tape {
    /// `table [vocab, d]`, `ids [n]` → `[n, d]`. Ids outside `0..<vocab` give zero rows, which
    /// is what a vocab-parallel shard needs for ids that another rank owns.
    /// `idOffset` is subtracted from each id first (the shard's first id).
    public func embedding(_ table: Tensor, ids: [Int32], idOffset: Int = 0) -> Tensor {
        precondition(table.shape.count == 2, "embedding table must be [vocab, d], got \(table.shape)")
        let vocab = table.shape[0], d = table.shape[1]
        let y = Tensor(shape: [ids.count, d], requiresGrad: tracks(table))
        let pt = table.pointer, py = y.pointer
        for (i, id) in ids.enumerated() {
            let row = Int(id) - idOffset
            guard row >= 0 && row < vocab else { continue }
            (py + i * d).update(from: pt + row * d, count: d)
        }
        guard y.requiresGrad else { return y }
        record {
            let dy = y.gradPointer, dt = table.gradPointer
            for (i, id) in ids.enumerated() {
                let row = Int(id) - idOffset
                guard row >= 0 && row < vocab else { continue }
                let src = dy + i * d, dst = dt + row * d
                for j in 0..<d { dst[j] += src[j] }
            }
        }
        return y
    }
}
