import Autograd
import Foundation
import Parallel
import Randomness

// Checks every collective and every tensor-parallel layer on the ranks it is started on
// (`mpirun -n 2|4 parallel-checks`) against the same math done by one rank on full tensors.
// Rank 0 prints one line per check and "N passed, M failed"; the exit status is non-zero
// on any failure. Started by ParallelTests.

let world = try Communicator.world()
let rank = world.rank, size = world.size
var failures: [String] = []
var passed = 0

/// Records a check: `error` is the largest relative difference found on any rank.
func check(_ name: String, _ localError: Double, tolerance: Double = 1e-5) throws {
    var worst = [Float(localError.isNaN ? .infinity : localError)]
    try worst.withUnsafeMutableBufferPointer { try world.allReduce($0, operation: .max) }
    if Double(worst[0]) <= tolerance { passed += 1 } else { failures.append("\(name): error \(worst[0])") }
    if rank == 0 {
        print("\(Double(worst[0]) <= tolerance ? "ok  " : "FAIL") \(name) (max relative error \(worst[0]))")
    }
}

func values(_ count: Int, _ name: String) -> [Float] {
    var generator = SplitMix64(seed: 11, name: name)
    return (0..<count).map { _ in Float(generator.nextNormal()) }
}

/// Columns `part·width ..< (part+1)·width` of a row-major `[rows, width·parts]` matrix.
func columns(_ full: [Float], rows: Int, parts: Int, part: Int) -> [Float] {
    let width = full.count / rows / parts
    var result: [Float] = []
    for r in 0..<rows {
        let start = r * width * parts + part * width
        result += full[start..<(start + width)]
    }
    return result
}

/// Rows `part·n/parts ..< (part+1)·n/parts` of a row-major matrix with `rowLength` columns.
func rows(_ full: [Float], rowLength: Int, parts: Int, part: Int) -> [Float] {
    let n = full.count / rowLength / parts
    return Array(full[(part * n * rowLength)..<((part + 1) * n * rowLength)])
}

// MARK: Collectives

do {
    var buffer = (0..<10).map { Float($0 + rank) }
    try buffer.withUnsafeMutableBufferPointer { try world.allReduce($0, operation: .sum) }
    let expected = (0..<10).map { i in Float((0..<size).map { i + $0 }.reduce(0, +)) }
    try check("allReduce sum", maxRelativeDifference(buffer, expected))

    var maxima = (0..<7).map { Float(($0 * 3 + rank * 5) % 11) }
    try maxima.withUnsafeMutableBufferPointer { try world.allReduce($0, operation: .max) }
    try check(
        "allReduce max",
        maxRelativeDifference(maxima, (0..<7).map { i in Float((0..<size).map { (i * 3 + $0 * 5) % 11 }.max()!) }))

    var doubles = [Double(rank) + 0.25, 1]
    try doubles.withUnsafeMutableBufferPointer { try world.allReduce($0) }
    try check(
        "allReduce doubles",
        abs(doubles[0] - (Double(size * (size - 1) / 2) + 0.25 * Double(size))) + abs(doubles[1] - Double(size)))

    var broadcast = rank == 1 ? [Float](repeating: 7, count: 5) : [Float](repeating: 0, count: 5)
    try broadcast.withUnsafeMutableBufferPointer { try world.broadcast($0, root: 1) }
    try check("broadcast", maxRelativeDifference(broadcast, [Float](repeating: 7, count: 5)))

    let mine = (0..<3).map { Float(rank * 10 + $0) }
    var gathered = [Float](repeating: 0, count: 3 * size)
    try mine.withUnsafeBufferPointer { input in
        try gathered.withUnsafeMutableBufferPointer { try world.allGather(input, into: $0) }
    }
    try check(
        "allGather", maxRelativeDifference(gathered, (0..<size).flatMap { r in (0..<3).map { Float(r * 10 + $0) } }))

    let contribution = (0..<(2 * size)).map { Float($0 * (rank + 1)) }
    var block = [Float](repeating: 0, count: 2)
    try contribution.withUnsafeBufferPointer { input in
        try block.withUnsafeMutableBufferPointer { try world.reduceScatter(input, into: $0) }
    }
    let total = Float((1...size).reduce(0, +))
    try check("reduceScatter", maxRelativeDifference(block, [Float(2 * rank) * total, Float(2 * rank + 1) * total]))

    let pendingBuffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: 1000)
    for i in 0..<1000 { pendingBuffer[i] = Float(i % 13) * Float(rank + 1) }
    let pending = try world.allReduceStart(pendingBuffer)
    try pending.wait()
    try check(
        "allReduceStart + wait", maxRelativeDifference(Array(pendingBuffer), (0..<1000).map { Float($0 % 13) * total })
    )
    pendingBuffer.deallocate()

    let grid = try ProcessGrid(world: world, tp: 2)
    let layoutError = Double(
        abs(grid.tensorParallel.size - 2) + abs(grid.dataParallel.size - size / 2)
            + abs(grid.tensorParallel.rank - rank % 2) + abs(grid.dataParallel.rank - rank / 2))
    try check("split into tp 2 × dp \(size / 2) groups", layoutError)
    try world.barrier()
    try check("barrier", 0)
}

// MARK: Differentiable collectives and tensor-parallel layers, over the whole world

let group = world
let tokens = 6, d = 8, out = 4 * size, hiddenSize = 2 * size

/// Runs `forward`, seeds its output's gradient with `upstream`, runs backward.
func forwardBackward(_ forward: (Tape) -> Tensor, upstream: [Float]) -> Tensor {
    let tape = Tape()
    let y = forward(tape)
    for i in 0..<y.count { y.grad[i] = upstream[i] }
    tape.backward()
    return y
}

do {  // f: forward identity, backward sum of the ranks' gradients
    let x = Tensor(shape: [tokens, d], values: values(tokens * d, "x"), requiresGrad: true)
    let y = forwardBackward({ $0.copyToTensorParallel(x, group: group) }, upstream: values(tokens * d, "dy\(rank)"))
    let expected = (0..<size).map { values(tokens * d, "dy\($0)") }.reduce([Float](repeating: 0, count: tokens * d)) {
        zip($0, $1).map(+)
    }
    try check("f forward", maxRelativeDifference(y.values, x.values))
    try check("f backward", maxRelativeDifference(x.gradValues, expected))
}

do {  // g: forward sum, backward identity
    let x = Tensor(shape: [tokens, d], values: values(tokens * d, "x\(rank)"), requiresGrad: true)
    let upstream = values(tokens * d, "dy")
    let y = forwardBackward({ $0.reduceFromTensorParallel(x, group: group) }, upstream: upstream)
    let expected = (0..<size).map { values(tokens * d, "x\($0)") }.reduce([Float](repeating: 0, count: tokens * d)) {
        zip($0, $1).map(+)
    }
    try check("g forward", maxRelativeDifference(y.values, expected))
    try check("g backward", maxRelativeDifference(x.gradValues, upstream))
}

do {  // gather / scatter along the last dimension
    let full = values(tokens * d * size, "full")  // [tokens, d·size]
    let local = Tensor(
        shape: [tokens, d], values: columns(full, rows: tokens, parts: size, part: rank), requiresGrad: true)
    let upstream = values(tokens * d * size, "dfull")
    let gathered = forwardBackward({ $0.gatherFromTensorParallel(local, group: group) }, upstream: upstream)
    try check("gather forward", maxRelativeDifference(gathered.values, full))
    try check(
        "gather backward",
        maxRelativeDifference(local.gradValues, columns(upstream, rows: tokens, parts: size, part: rank)))

    let whole = Tensor(shape: [tokens, d * size], values: full, requiresGrad: true)
    let localUpstream = columns(upstream, rows: tokens, parts: size, part: rank)
    let scattered = forwardBackward({ $0.scatterToTensorParallel(whole, group: group) }, upstream: localUpstream)
    try check(
        "scatter forward",
        maxRelativeDifference(scattered.values, columns(full, rows: tokens, parts: size, part: rank)))
    try check("scatter backward", maxRelativeDifference(whole.gradValues, upstream))
}

do {  // ColumnParallelLinear: rank holds rows of W; outputs are column blocks of x·Wᵀ
    let xValues = values(tokens * d, "x"), wValues = values(out * d, "w"), upstream = values(tokens * out, "dy")
    let referenceX = Tensor(shape: [tokens, d], values: xValues, requiresGrad: true)
    let referenceW = Tensor(shape: [out, d], values: wValues, requiresGrad: true)
    let reference = forwardBackward({ $0.linear(referenceX, referenceW) }, upstream: upstream)

    let x = Tensor(shape: [tokens, d], values: xValues, requiresGrad: true)
    let w = Tensor(
        shape: [out / size, d], values: rows(wValues, rowLength: d, parts: size, part: rank), requiresGrad: true)
    let layer = ColumnParallelLinear(weights: [w], group: group)
    let localUpstream = columns(upstream, rows: tokens, parts: size, part: rank)
    let y = forwardBackward({ layer(x, tape: $0)[0] }, upstream: localUpstream)
    try check(
        "ColumnParallelLinear forward",
        maxRelativeDifference(y.values, columns(reference.values, rows: tokens, parts: size, part: rank)))
    try check("ColumnParallelLinear backward (input)", maxRelativeDifference(x.gradValues, referenceX.gradValues))
    try check(
        "ColumnParallelLinear backward (weight)",
        maxRelativeDifference(w.gradValues, rows(referenceW.gradValues, rowLength: d, parts: size, part: rank)))
}

do {  // RowParallelLinear: rank holds columns of W and of x; output is the full x·Wᵀ
    let inFeatures = hiddenSize * 2
    let xValues = values(tokens * inFeatures, "x"), wValues = values(d * inFeatures, "w"),
        upstream = values(tokens * d, "dy")
    let referenceX = Tensor(shape: [tokens, inFeatures], values: xValues, requiresGrad: true)
    let referenceW = Tensor(shape: [d, inFeatures], values: wValues, requiresGrad: true)
    let reference = forwardBackward({ $0.linear(referenceX, referenceW) }, upstream: upstream)

    let x = Tensor(
        shape: [tokens, inFeatures / size], values: columns(xValues, rows: tokens, parts: size, part: rank),
        requiresGrad: true)
    let w = Tensor(
        shape: [d, inFeatures / size], values: columns(wValues, rows: d, parts: size, part: rank), requiresGrad: true)
    let layer = RowParallelLinear(weight: w, group: group)
    let y = forwardBackward({ layer(x, tape: $0) }, upstream: upstream)
    try check("RowParallelLinear forward", maxRelativeDifference(y.values, reference.values))
    try check(
        "RowParallelLinear backward (input)",
        maxRelativeDifference(x.gradValues, columns(referenceX.gradValues, rows: tokens, parts: size, part: rank)))
    try check(
        "RowParallelLinear backward (weight)",
        maxRelativeDifference(w.gradValues, columns(referenceW.gradValues, rows: d, parts: size, part: rank)))
}

do {  // VocabParallelEmbedding and the vocab-parallel LM-head loss, against the full table
    let vocab = 5 * size
    let tableValues = values(vocab * d, "table")
    let ids: [Int32] = (0..<tokens).map { Int32(($0 * 7 + 3) % vocab) }
    let targets: [Int32] = (0..<tokens).map { $0 == 2 ? -1 : Int32(($0 * 5 + 1) % vocab) }
    let weights: [Float] = (0..<tokens).map { $0 == 4 ? 0 : 1 + Float($0) / 4 }
    let upstream = values(tokens * d, "dy")

    let referenceTable = Tensor(shape: [vocab, d], values: tableValues, requiresGrad: true)
    let reference = forwardBackward({ $0.embedding(referenceTable, ids: ids) }, upstream: upstream)
    let shard = Tensor(
        shape: [vocab / size, d], values: rows(tableValues, rowLength: d, parts: size, part: rank), requiresGrad: true)
    let embedding = VocabParallelEmbedding(table: shard, offset: rank * vocab / size, group: group)
    let y = forwardBackward({ embedding(ids, tape: $0) }, upstream: upstream)
    try check("VocabParallelEmbedding forward", maxRelativeDifference(y.values, reference.values))
    try check(
        "VocabParallelEmbedding backward",
        maxRelativeDifference(shard.gradValues, rows(referenceTable.gradValues, rowLength: d, parts: size, part: rank))
    )

    let hiddenValues = values(tokens * d, "hidden")
    referenceTable.zeroGrad()
    let referenceHidden = Tensor(shape: [tokens, d], values: hiddenValues, requiresGrad: true)
    let referenceTape = Tape()
    let referenceLoss = referenceTape.lmHeadCrossEntropy(
        referenceHidden, table: referenceTable, targets: targets, weights: weights, chunkRows: 4)
    referenceTape.backward(from: referenceLoss)
    shard.zeroGrad()
    let hidden = Tensor(shape: [tokens, d], values: hiddenValues, requiresGrad: true)
    let tape = Tape()
    let loss = embedding.lmHeadLoss(hidden, targets: targets, weights: weights, normalizer: nil, tape: tape)
    tape.backward(from: loss)
    try check("vocab-parallel cross-entropy forward", maxRelativeDifference(loss.values, referenceLoss.values))
    try check(
        "vocab-parallel cross-entropy backward (hidden)",
        maxRelativeDifference(hidden.gradValues, referenceHidden.gradValues))
    try check(
        "vocab-parallel cross-entropy backward (table)",
        maxRelativeDifference(shard.gradValues, rows(referenceTable.gradValues, rowLength: d, parts: size, part: rank))
    )
}

do {  // DataParallelReducer: small buckets, readiness in backward order, sums every gradient
    let parameters = (0..<5).map { Tensor(shape: [3 + $0, 4], requiresGrad: true) }
    for (index, parameter) in parameters.enumerated() {
        for i in 0..<parameter.count { parameter.grad[i] = Float(i + index) * Float(rank + 1) }
    }
    let reducer = DataParallelReducer(parameters: parameters, group: world, bucketBytes: 100)
    reducer.markReady([parameters[4], parameters[3]])
    reducer.markReady([parameters[2]])
    try reducer.finish()  // 0 and 1 were never marked: finish starts them
    let total = Float((1...size).reduce(0, +))
    let error = parameters.enumerated().map { index, parameter in
        maxRelativeDifference(parameter.gradValues, (0..<parameter.count).map { Float($0 + index) * total })
    }.max()!
    try check("DataParallelReducer sums gradients (\(reducer.bucketCount) buckets)", error)
}

if rank == 0 {
    for failure in failures { print("failed: \(failure)") }
    print("\(passed) passed, \(failures.count) failed")
}
Communicator.finalize()
exit(failures.isEmpty ? 0 : 1)
