import Autograd
import Configuration
import Foundation
import Model
import Optim
import Parallel

/// One optimizer step on any tp × dp layout: forward, backward with data-parallel gradient
/// reduction overlapping it, then AdamW. The training loop and the benchmark both use it.
///
/// The loss is normalised by the global token weight and gradients are summed over dp, so
/// every layout computes the mean loss and the gradients of one process holding the whole
/// global batch.
public final class TrainingStep {
    public let context: ParallelContext
    public let decoder: CM3LeonDecoder
    public let optimizer: AdamW
    let clipping: GradientClipping?
    /// Recompute each block's activations in backward (the memory switch of metaseq and Megatron); with
    /// tp > 1 each rank then keeps only its 1/tp of every block input.
    public var checkpointBlocks = false
    let distributedActivations: DistributedActivations?
    let reducer: DataParallelReducer?
    /// ‖g‖ of the last step, before clipping.
    public private(set) var gradientNorm = 0.0

    public init(model: ModelConfig, seed: UInt64, context: ParallelContext, optim: OptimConfig = OptimConfig()) {
        self.context = context
        decoder = CM3LeonDecoder(config: model, seed: seed, tensorParallel: context.tensorParallel)
        let tensors = decoder.parameters.map(\.tensor)
        optimizer = AdamW(parameters: decoder.parameters.map { ($0.name, $0.tensor, $0.spec.weightDecay) }, settings: optim.adamW)
        clipping = optim.clipNorm > 0 ? GradientClipping(maxNorm: optim.clipNorm) : nil
        reducer = context.grid.flatMap { $0.dp > 1 ? DataParallelReducer(parameters: tensors, group: $0.dataParallel) : nil }
        distributedActivations = context.grid.flatMap { $0.tp > 1 ? DistributedActivations(group: $0.tensorParallel) : nil }
    }

    /// Trains on this rank's micro-batches (gradient accumulation: gradients add up over
    /// them, and the data-parallel reduction runs once, during the last backward) at
    /// learning rate `lr`; returns the global mean loss. `afterBackward` sees the complete
    /// gradients before the optimizer uses them.
    /// `onMicroBatch(k, n)` is called after each of n micro-batches (for progress in long steps).
    /// `shouldContinue`, asked before every micro-batch but the first (and the same on every
    /// rank), can abandon the step: the partial gradients are dropped, nothing is applied,
    /// and the result is nil.
    public func run(_ microBatches: [TokenBatch], lr: Float, afterBackward: ((Double) throws -> Void)? = nil,
                    onMicroBatch: ((Int, Int) -> Void)? = nil, shouldContinue: (() throws -> Bool)? = nil) throws -> Double? {
        let weight = microBatches.reduce(0.0) { $0 + Double($1.weights.reduce(0, +)) }
        let normalizer = Float(max(try context.sumOverDataParallel(weight), 1))
        decoder.zeroGrad()
        var localLoss = 0.0
        for (index, batch) in microBatches.enumerated() {
            // Before the last micro-batch starts its dp reduction, the step can still be dropped.
            if index > 0, let shouldContinue, try !shouldContinue() {
                decoder.zeroGrad()
                return nil
            }
            reducer?.isEnabled = index == microBatches.count - 1
            let loss = StepProfile.measureForwardBackward { () -> Tensor in
                let tape = Tape()
                let loss = decoder.loss(batch, tape: tape, normalizer: normalizer, checkpointBlocks: checkpointBlocks,
                                        stash: distributedActivations?.stash,
                                        gradientsReady: reducer.map { reducer in { reducer.markReady($0) } })
                tape.backward(from: loss)
                return loss
            }
            localLoss += Double(loss.scalar)
            onMicroBatch?(index + 1, microBatches.count)
        }
        try reducer?.finish()
        let globalLoss = try context.sumOverDataParallel(localLoss)
        try afterBackward?(globalLoss)
        // Sharded parameters' squares are summed over tp; replicated ones are counted once.
        let sharded = decoder.parameters.filter { $0.sharding != .replicated }.map(\.tensor)
        let replicated = decoder.parameters.filter { $0.sharding == .replicated }.map(\.tensor)
        try StepProfile.measure(.optimizer) {
            var gradientScale: Float = 1
            if let clipping {
                (gradientNorm, gradientScale) = try clipping.measure(sharded: sharded, replicated: replicated) {
                    try context.sumOverTensorParallel($0)
                }
            } else {
                gradientNorm = try GradientClipping.norm(sharded: sharded, replicated: replicated) {
                    try context.sumOverTensorParallel($0)
                }
            }
            optimizer.step(lr: lr, gradientScale: gradientScale)
        }
        return globalLoss
    }
}
