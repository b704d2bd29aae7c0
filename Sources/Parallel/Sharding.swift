import Autograd

/// How one rank's tensor relates to the full (unsharded) parameter.
public enum Sharding: Equatable, Sendable {
    /// Every rank holds the whole tensor.
    case replicated
    /// Rank r holds rows `r·n/p ..< (r+1)·n/p` (column-parallel weights, vocab shards).
    case rows(parts: Int, index: Int)
    /// Rank r holds columns `r·n/p ..< (r+1)·n/p` of every row (row-parallel weights).
    case columns(parts: Int, index: Int)

    /// The local shape for a full `[rows, columns]` shape.
    public func localShape(_ full: [Int]) -> [Int] {
        switch self {
        case .replicated: full
        case .rows(let parts, _): [full[0] / parts] + full.dropFirst()
        case .columns(let parts, _): [full[0], full[1] / parts]
        }
    }

    /// The full-tensor rows this rank holds (all of them, for column sharding).
    public func rowRange(_ full: [Int]) -> Range<Int> {
        switch self {
        case .replicated, .columns: 0..<full[0]
        case .rows(let parts, let index): Sharding.part(index, of: parts, splitting: full[0])
        }
    }

    /// Part `index` of `count` items cut into `parts` runs as even as they can be (the
    /// first ones shorter when they do not divide): the one formula for every split.
    public static func part(_ index: Int, of parts: Int, splitting count: Int) -> Range<Int> {
        (index * count / parts)..<((index + 1) * count / parts)
    }

    /// The full-tensor columns this rank holds.
    public func columnRange(_ full: [Int]) -> Range<Int> {
        let columns = full.count > 1 ? full[1] : 1
        switch self {
        case .replicated, .rows: return 0..<columns
        case .columns(let parts, let index): return Sharding.part(index, of: parts, splitting: columns)
        }
    }

    /// Gathers the full tensor from the local shards of every member of `group` (whose
    /// rank r holds shard r); replicated tensors are copied as they are.
    public func gatherFull(_ local: Tensor, fullShape: [Int], group: Communicator, gradient: Bool = false) throws
        -> [Float]
    {
        let source = UnsafeBufferPointer(gradient ? local.grad : local.data)
        if case .replicated = self { return Array(source) }
        let gathered = BufferPool.shared.allocate(local.count * group.size)  // [parts, local…]
        defer { BufferPool.shared.release(gathered) }
        try group.allGather(source, into: gathered)
        guard case .columns(let parts, _) = self else { return Array(gathered) }
        let rows = fullShape[0], columns = fullShape[1], width = columns / parts
        var full = [Float](repeating: 0, count: rows * columns)
        for part in 0..<parts {
            for r in 0..<rows {
                for c in 0..<width { full[r * columns + part * width + c] = gathered[(part * rows + r) * width + c] }
            }
        }
        return full
    }
}
