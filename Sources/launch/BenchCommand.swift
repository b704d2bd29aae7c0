import ArgumentParser
import Autograd
import Diagnostics
import Foundation
import Trainer

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Time training steps of a model shape against this machine's sgemm.",
        discussion: "Under mpirun, --tp splits each replica and the remaining ranks are data-parallel.")

    @Option(name: .long, help: "Shape: \(BenchmarkShape.all.map(\.name).joined(separator: ", ")).")
    var shape: String = "d256-l4"

    @Option(name: .long, help: "Timed steps after one warm-up step.")
    var steps: Int = 5

    @Option(name: .long, help: "Tensor-parallel size (under mpirun).")
    var tp: Int = 1

    @Option(name: .long, help: "Data-parallel size: must equal ranks / tp when given.")
    var dp: Int?

    @Flag(
        name: .long, help: "Shard the optimizer over dp (ZeRO-1, as parallel.distributed_optimizer does in training).")
    var distributedOptimizer = false

    @Flag(
        name: .long,
        help: "Also print the result as one JSON line (per-step seconds, median and best tokens/s, peak memory).")
    var json = false

    func validate() throws {
        _ = try benchmarkShape(shape)
        guard steps > 0 else { throw ValidationError("--steps must be positive") }
        guard tp > 0 else { throw ValidationError("--tp must be positive, got \(tp)") }
        if let dp, dp < 1 { throw ValidationError("--dp must be positive, got \(dp)") }
    }

    func run() throws {
        let chosen = try benchmarkShape(shape)
        try withParallelContext(tp: tp, model: chosen.model) { context in
            if let dp, dp != context.dp {
                if context.isLeader {
                    report(
                        "invalid layout: --dp \(dp) but \(context.worldSize) ranks / tp \(context.tp) = \(context.dp)")
                }
                throw ExitCode(2)
            }
            let log: (String) -> Void =
                context.isLeader
                ? {
                    print($0); fflush(stdout)
                } : { _ in }
            let result = try Benchmark.run(
                chosen, steps: steps, context: context, distributedOptimizer: distributedOptimizer, log: log)
            log(
                "shape \(result.shape), tp \(context.tp) × dp \(context.dp): "
                    + String(
                        format:
                            """
                            %ld tokens/step; median %.3f s/step = %.0f tokens/s = %.0f%% of sgemm %.1f GFLOP/s; best \
                            %.3f s/step = %.0f tokens/s = %.0f%%; peak RSS %.2f GiB
                            """,
                        result.tokensPerStep, result.medianSeconds, result.medianTokensPerSecond,
                        100 * result.fractionOfSgemm, result.sgemmGflops,
                        result.bestSeconds, result.bestTokensPerSecond, 100 * result.bestFractionOfSgemm,
                        Double(result.peakResidentBytes) / 1_073_741_824))
            log(
                String(
                    format: "where a step goes (rank 0, mean of %ld timed steps, %.4f s):", result.stepSeconds.count,
                    result.breakdown.step))
            result.breakdown.lines.forEach(log)
            if json {
                log(try JSONLine.encode(BenchLine(result, tp: context.tp, dp: context.dp)))
            }
            log(
                """
                collectives per step, rank 0: tensor-parallel \(result.tensorParallelBytesPerStep) bytes sent, \
                data-parallel \(result.dataParallelBytesPerStep) bytes sent
                """
            )
        }
    }
}

/// The benchmark shape `--shape` names, or the one-line refusal the bench commands give.
func benchmarkShape(_ name: String) throws -> BenchmarkShape {
    guard let shape = BenchmarkShape.named(name) else {
        throw ValidationError(
            "unknown shape '\(name)'; choose one of \(BenchmarkShape.all.map(\.name).joined(separator: ", "))")
    }
    return shape
}

/// `launch bench --json`'s line, in the keys benchmarks/compare_training.py reads.
struct BenchLine: Encodable {
    let engine = "Tessera"
    let shape: String
    let tp: Int, dp: Int
    let tokensPerStep: Int
    let flopsPerToken: Double
    let seconds: [Double]
    let medianTokensPerS: Double, bestTokensPerS: Double
    let sgemmGflops: Double
    let medianFractionOfSgemm: Double, bestFractionOfSgemm: Double
    let peakRssBytes: Int
    let kernel: String

    init(_ result: BenchmarkResult, tp: Int, dp: Int) {
        shape = result.shape
        self.tp = tp
        self.dp = dp
        tokensPerStep = result.tokensPerStep
        flopsPerToken = result.flopsPerToken
        seconds = result.stepSeconds
        medianTokensPerS = result.medianTokensPerSecond
        bestTokensPerS = result.bestTokensPerSecond
        sgemmGflops = result.sgemmGflops
        medianFractionOfSgemm = result.fractionOfSgemm
        bestFractionOfSgemm = result.bestFractionOfSgemm
        peakRssBytes = result.peakResidentBytes
        kernel = BLASRuntime.coreName
    }
}
