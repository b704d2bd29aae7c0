/// BPE over one piece in O(n log n): the symbols form a linked list and candidate merges
/// wait in a min-heap ordered by (rank, position), so each step takes the lowest-ranked
/// merge, the leftmost where ranks tie, as the quadratic scan did and `tokenizers` does.
/// A candidate whose symbols changed since it was queued is dropped when it comes up.
struct BPEMerges {
    /// Merge rank and merged id by the pair's ids (`left << 32 | right`).
    let merges: [UInt64: (rank: Int32, merged: Int32)]

    static func key(_ left: Int32, _ right: Int32) -> UInt64 { UInt64(UInt32(left)) << 32 | UInt64(UInt32(right)) }

    func apply(_ initial: [Int32]) -> [Int32] {
        guard initial.count > 1 else { return initial }
        var symbols = initial
        var next = Array(1...initial.count), previous = Array(-1..<(initial.count - 1))
        var alive = [Bool](repeating: true, count: initial.count)
        var heap = CandidateHeap()
        func queue(_ left: Int) {
            let right = next[left]
            guard right < symbols.count, let merge = merges[BPEMerges.key(symbols[left], symbols[right])] else {
                return
            }
            heap.push(Candidate(rank: merge.rank, left: left, leftId: symbols[left], rightId: symbols[right]))
        }
        for index in 0..<(symbols.count - 1) { queue(index) }
        while let candidate = heap.pop() {
            let left = candidate.left, right = next[left]
            guard alive[left], right < symbols.count, symbols[left] == candidate.leftId,
                symbols[right] == candidate.rightId
            else { continue }
            symbols[left] = merges[BPEMerges.key(candidate.leftId, candidate.rightId)]!.merged
            alive[right] = false
            next[left] = next[right]
            if next[right] < symbols.count { previous[next[right]] = left }
            if previous[left] >= 0 { queue(previous[left]) }
            queue(left)
        }
        return symbols.indices.filter { alive[$0] }.map { symbols[$0] }
    }
}

/// A merge waiting in the heap: its rank, the position of its left symbol, and both
/// symbols' ids when it was queued.
struct Candidate {
    let rank: Int32
    let left: Int
    let leftId: Int32, rightId: Int32

    func precedes(_ other: Candidate) -> Bool { rank != other.rank ? rank < other.rank : left < other.left }
}

/// A binary min-heap of candidates.
struct CandidateHeap {
    private var items: [Candidate] = []

    mutating func push(_ candidate: Candidate) {
        items.append(candidate)
        var child = items.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard items[child].precedes(items[parent]) else { break }
            items.swapAt(child, parent)
            child = parent
        }
    }

    mutating func pop() -> Candidate? {
        guard let first = items.first else { return nil }
        let last = items.removeLast()
        guard !items.isEmpty else { return first }
        items[0] = last
        var parent = 0
        while true {
            let left = 2 * parent + 1, right = left + 1
            var smallest = parent
            if left < items.count && items[left].precedes(items[smallest]) { smallest = left }
            if right < items.count && items[right].precedes(items[smallest]) { smallest = right }
            guard smallest != parent else { return first }
            items.swapAt(parent, smallest)
            parent = smallest
        }
    }
}
