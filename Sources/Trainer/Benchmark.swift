import Autograd
import Configuration
import Foundation
import Model
import Parallel

/// A named model shape for `launch bench` and `launch bench-generate`. Each is named by
/// its width and depth (`d512-l8`), or as a slice of a config (`350m-slice`: two layers of
/// configs/350m.yaml), so that no name reads as one of configs/*.yaml, whose models differ.
public struct BenchmarkShape: Sendable {
    public let name: String
    public let model: ModelConfig
    public let microBatch: Int

    /// The shapes the README reports.
    public static let all: [BenchmarkShape] = [
        BenchmarkShape(
            name: "d256-l4",
            model: ModelConfig(vocabSize: 1024, dModel: 256, layers: 4, heads: 4, ffn: 1024, seqLen: 256),
            microBatch: 8),
        BenchmarkShape(
            name: "d512-l8",
            model: ModelConfig(vocabSize: 64512, dModel: 512, layers: 8, heads: 8, ffn: 2048, seqLen: 1024),
            microBatch: 4),
        BenchmarkShape(
            name: "350m-slice",
            model: ModelConfig(vocabSize: 64512, dModel: 1024, layers: 2, heads: 16, ffn: 4096, seqLen: 4096),
            microBatch: 1)
    ]

    public static func named(_ name: String) -> BenchmarkShape? { all.first { $0.name == name } }
}

/// What one benchmark run measured.
public struct BenchmarkResult: Sendable {
    public let shape: String
    public let tokensPerStep: Int
    /// Each timed step's seconds (the warm-up step excluded).
    public let stepSeconds: [Double]
    public let flopsPerToken: Double
    public let sgemmGflops: Double
    public let peakResidentBytes: Int
    /// Bytes this rank sent per step in tensor-parallel and data-parallel collectives.
    public let tensorParallelBytesPerStep: Int
    public let dataParallelBytesPerStep: Int

    /// Processes that shared the work.
    public let ranks: Int
    /// Where the timed steps' time went, per step on average (rank 0).
    public let breakdown: StepBreakdown

    /// The fastest step.
    public var bestSeconds: Double { stepSeconds.min() ?? .nan }
    /// The median step (the mean of the middle two for an even count).
    public var medianSeconds: Double {
        let sorted = stepSeconds.sorted(), middle = sorted.count / 2
        return sorted.isEmpty
            ? .nan : sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
    public var bestTokensPerSecond: Double { Double(tokensPerStep) / bestSeconds }
    public var medianTokensPerSecond: Double { Double(tokensPerStep) / medianSeconds }
    /// Model FLOP/s per rank at the median step, comparable with that rank's sgemm rate.
    public var achievedGflops: Double { medianTokensPerSecond * flopsPerToken / 1e9 / Double(ranks) }
    public var fractionOfSgemm: Double { achievedGflops / sgemmGflops }
    /// The same at the best step.
    public var bestFractionOfSgemm: Double { bestTokensPerSecond * flopsPerToken / 1e9 / Double(ranks) / sgemmGflops }
}

/// Times full training steps (forward, backward, AdamW) of a shape, and `cblas_sgemm` on a
/// square product in the same process, so the two numbers share threads and clocks.
public enum Benchmark {
    /// Each data-parallel rank trains `shape.microBatch` sequences per step, so tokens per
    /// step grow with dp.
    public static func run(
        _ shape: BenchmarkShape, steps: Int, context: ParallelContext = .single(),
        distributedOptimizer: Bool = false, log: (String) -> Void
    ) throws -> BenchmarkResult {
        let sgemmBefore = sgemmGflops(size: 2048)
        log(
            String(format: "sgemm 2048³: %.1f GFLOP/s", sgemmBefore)
                + " (OpenBLAS \(BLASRuntime.coreName) × \(BLASRuntime.threads) threads)")
        let trainingStep = TrainingStep(
            model: shape.model, seed: 0, context: context, distributedOptimizer: distributedOptimizer)
        let data = SyntheticTokens(vocabSize: shape.model.vocabSize, seqLen: shape.model.seqLen, seed: 0)
        var seconds: [Double] = []
        var breakdown = StepBreakdown()
        StepProfile.isEnabled = true
        defer { StepProfile.isEnabled = false }
        var bytes = (tensorParallel: 0, dataParallel: 0)
        for step in 0...steps {  // step 0 warms caches and allocations; not timed
            let first = (step * context.dp + context.dpRank) * shape.microBatch
            let batch = data.batch(first..<first + shape.microBatch)
            context.resetCounters()
            try context.grid?.world.barrier()
            StepProfile.reset()
            let start = Date()
            // Without `shouldContinue` a step is never abandoned.
            guard let loss = try trainingStep.run([batch], lr: 1e-4) else {
                preconditionFailure("benchmark step abandoned")
            }
            let elapsed = Date().timeIntervalSince(start)
            bytes = context.bytesSent
            log(String(format: "step %ld: %.3f s, loss %.4f", step, elapsed, loss) + (step == 0 ? " (warm-up)" : ""))
            if step > 0 {
                seconds.append(elapsed)
                breakdown.add(step: elapsed)
            }
        }
        // The machine's sgemm rate drifts (shared host, clocks); comparing against the better
        // of two measurements keeps the reported fraction conservative.
        let sgemmAfter = sgemmGflops(size: 2048)
        log(String(format: "sgemm 2048³ again: %.1f GFLOP/s", sgemmAfter))
        let sgemmRate = max(sgemmBefore, sgemmAfter)
        return BenchmarkResult(
            shape: shape.name, tokensPerStep: shape.microBatch * context.dp * shape.model.seqLen,
            stepSeconds: seconds, flopsPerToken: shape.model.parameterTable.trainingFlopsPerToken,
            sgemmGflops: sgemmRate, peakResidentBytes: peakResidentBytes(),
            tensorParallelBytesPerStep: bytes.tensorParallel, dataParallelBytesPerStep: bytes.dataParallel,
            ranks: context.worldSize,
            breakdown: breakdown.mean)
    }

    /// Best of ten `n×n×n` products, in GFLOP/s.
    public static func sgemmGflops(size n: Int) -> Double {
        let a = Tensor(shape: [n, n]), b = Tensor(shape: [n, n]), c = Tensor(shape: [n, n])
        for i in 0..<a.count { a.data[i] = Float(i % 7) * 0.1; b.data[i] = Float(i % 5) * 0.1 }
        var best = Double.infinity
        for _ in 0..<10 {
            let start = Date()
            sgemm(m: n, n: n, k: n, a: a.pointer, lda: n, b: b.pointer, ldb: n, c: c.pointer, ldc: n)
            best = min(best, Date().timeIntervalSince(start))
        }
        return 2 * Double(n * n * n) / best / 1e9
    }

    /// Peak resident set size of this process (Linux `VmHWM`), in bytes.
    public static func peakResidentBytes() -> Int {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return 0 }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kilobytes = line.split(separator: " ").compactMap { Int($0) }.first ?? 0
            return kilobytes * 1024
        }
        return 0
    }
}

/// A training step's time by kind of work, from `StepProfile`: what `launch bench` prints.
public struct StepBreakdown: Sendable {
    public var step = 0.0, matrixProducts = 0.0, attention = 0.0, communication = 0.0, optimizer = 0.0
    /// Forward and backward less the products, attention and communication inside them:
    /// norms, activations, embedding, loss, residual adds and the tape.
    public var otherOps = 0.0
    var steps = 0

    /// Adds the step just timed (`StepProfile` holds its regions).
    mutating func add(step seconds: Double) {
        let products = StepProfile.seconds(.matrixProducts), attention = StepProfile.seconds(.attention)
        let communication = StepProfile.seconds(.communication)
        step += seconds
        matrixProducts += products
        self.attention += attention
        self.communication += communication
        optimizer += StepProfile.seconds(.optimizer)
        // Communication in forward and backward (tp collectives) is inside their wall time;
        // what the optimizer's clipping sends is inside the optimizer's.
        otherOps += max(0, StepProfile.forwardBackwardSeconds - products - attention - communication)
        steps += 1
    }

    /// Per step.
    var mean: StepBreakdown {
        let n = Double(max(steps, 1))
        return StepBreakdown(
            step: step / n, matrixProducts: matrixProducts / n, attention: attention / n,
            communication: communication / n, optimizer: optimizer / n, otherOps: otherOps / n, steps: steps)
    }

    /// The step's time that no category holds (data, zeroing gradients, Swift overhead).
    public var unaccounted: Double { step - matrixProducts - attention - communication - optimizer - otherOps }

    /// The breakdown as lines: seconds and share of the step.
    public var lines: [String] {
        [
            ("matrix products (cblas_sgemm)", matrixProducts), ("attention (scores, softmax, products)", attention),
            ("other forward and backward ops (norms, activation, embedding, loss, tape)", otherOps),
            ("optimizer (clipping, AdamW)", optimizer), ("communication and waiting", communication),
            ("unaccounted", unaccounted)
        ]
        .map {
            "  " + $0.0.padding(toLength: 76, withPad: " ", startingAt: 0)
                + String(format: "%8.4f s %5.1f%%", $0.1, 100 * $0.1 / max(step, 1e-12))
        }
    }
}
