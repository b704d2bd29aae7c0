import Autograd
import Foundation
import Parallel

/// What one rank needs in memory for a config and layout, in bytes (fp32 everywhere).
///
/// Weights, gradients and AdamW's two moments are 4 copies of the rank's parameters: its
/// 1/tp of every sharded matrix plus the replicated positions. Activations count what the
/// tape keeps per micro-batch of T = micro_batch × seq tokens: per block six [T, d] tensors
/// of the residual stream (two LayerNorm outputs, two all-reduced partial sums, two sums)
/// and the [T, d/tp] and [T, ffn/tp] tensors of the rank's heads and MLP slice; with
/// activation checkpointing only each block's input (1/tp of it per rank when tp > 1),
/// plus one block recomputed. Backward holds about one more block's worth of gradients.
///
/// Under ZeRO-1 (`distributedOptimizer` at dp > 1) a rank keeps the moments of 1/dp of its
/// rows, and its collectives need no bucket buffers: Megatron's fp32 table, 16 → 8 + 8/dp
/// bytes per parameter for weights, gradients and moments.
public struct MemoryPlan: Sendable {
    public let parametersPerRank: Int
    public let weights: Int
    public let gradients: Int
    public let optimizer: Int
    public let dataParallelBuffers: Int
    public let activations: Int
    public let lmHead: Int
    /// Runtime, MPI and BLAS buffers: measured at about 150 MiB per process here.
    public let baseline = 150 << 20

    public var total: Int { weights + gradients + optimizer + dataParallelBuffers + activations + lmHead + baseline }

    /// Whether the plan shards the optimizer over dp (ZeRO-1).
    public let distributedOptimizer: Bool

    public init(model: ModelConfig, microBatch: Int, tp: Int, dp: Int, checkpointing: Bool, distributedOptimizer: Bool)
    {
        let d = model.dModel, tokens = microBatch * model.seqLen
        parametersPerRank = ParameterTable(model).parametersPerRank(tp: tp)
        weights = 4 * parametersPerRank
        gradients = weights
        self.distributedOptimizer = distributedOptimizer && dp > 1
        // Whole rows are split, so a rank's share can be a row more than 1/dp; ignored here.
        let share = self.distributedOptimizer ? dp : 1
        optimizer = 2 * weights / share
        // The all-reduce copies gradients into buckets; ZeRO-1's collectives run in place.
        dataParallelBuffers = dp > 1 && !self.distributedOptimizer ? weights : 0
        let replicatedPerBlock = 6 * tokens * d
        let shardedPerBlock = 4 * tokens * d / tp + 2 * tokens * model.ffn / tp
        let block = 4 * (replicatedPerBlock + shardedPerBlock)
        let embeddings = 4 * 4 * tokens * d  // token + position lookups, their sum, final LayerNorm
        activations =
            embeddings + (checkpointing ? model.layers * 4 * tokens * d / tp + 2 * block : (model.layers + 1) * block)
        let shard = model.vocabSize / tp
        let chunkRows = Tape.lmHeadChunkRows(tokens: tokens, vocabulary: shard)
        // A chunk of logits, and hidden's gradient with its copy; the table's gradient goes
        // straight into `gradients`.
        lmHead = 4 * (chunkRows * shard + 2 * tokens * d)
    }

    /// One line per item, for `launch plan`.
    public func describe(ranks: Int) -> String {
        func gib(_ bytes: Int) -> String { String(format: "%.2f GiB", Double(bytes) / 1_073_741_824) }
        return """
            memory per rank: weights \(gib(weights)), gradients \(gib(gradients)), \
            optimizer \(gib(optimizer))\(distributedOptimizer ? " (ZeRO-1)" : ""), \
            dp buffers \(gib(dataParallelBuffers)), activations \(gib(activations)), LM head \(gib(lmHead)), \
            runtime \(gib(baseline)) = \(gib(total))
            all \(ranks) ranks: \(String(format: "%.2f GiB", Double(total) * Double(ranks) / 1_073_741_824))
            """
    }

    /// Memory this machine can give (MemAvailable from /proc/meminfo), in bytes.
    public static func availableBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("MemAvailable:") }),
            let kilobytes = line.split(separator: " ").compactMap({ Int($0) }).first
        else { return nil }
        return kilobytes * 1024
    }

    /// Fails fast, before anything is allocated, when a run cannot fit: this rank's plan
    /// times the ranks on this machine (OpenMPI's local size) against what is available.
    public func checkFits() throws {
        guard let available = MemoryPlan.availableBytes() else { return }
        let localRanks = Int(ProcessInfo.processInfo.environment["OMPI_COMM_WORLD_LOCAL_SIZE"] ?? "") ?? 1
        let needed = total * localRanks
        guard needed > available else { return }
        func gib(_ bytes: Int) -> String { String(format: "%.1f GiB", Double(bytes) / 1_073_741_824) }
        throw LayoutError(
            description:
                """
                out of memory: this run needs about \(gib(total)) per rank × \(localRanks) ranks on this machine = \
                \(gib(needed)), but only \(gib(available)) is available (see launch plan --world)
                """
        )
    }
}
