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
    let reducer: GradientReduction?
    /// ‖g‖ of the last step, before clipping.
    public private(set) var gradientNorm = 0.0

    /// Whether AdamW's moments and update are sharded over dp (ZeRO-1).
    public let distributedOptimizer: Bool

    /// With `distributedOptimizer` and dp > 1, each data-parallel rank keeps the moments of
    /// and updates only the rows it owns (`NamedParameter.ownedRows`): gradients are
    /// reduce-scattered, and the updated parameters all-gathered.
    public init(
        model: ModelConfig, seed: UInt64, context: ParallelContext, optim: OptimizerSettings = OptimizerSettings(),
        distributedOptimizer: Bool = false
    ) {
        self.context = context
        self.distributedOptimizer = distributedOptimizer && context.dp > 1
        decoder = CM3LeonDecoder(config: model, seed: seed, tensorParallel: context.tensorParallel)
        let tensors = decoder.parameters.map(\.tensor)
        let dp = context.dp
        let ownedRows =
            self.distributedOptimizer ? decoder.parameters.map { $0.ownedRows(dpRank: context.dpRank, dp: dp) } : nil
        optimizer = AdamW(
            parameters: decoder.parameters.map { ($0.name, $0.tensor, $0.spec.weightDecay) }, settings: optim.adamW,
            ownedRows: ownedRows)
        clipping = optim.clipNorm > 0 ? GradientClipping(maxNorm: optim.clipNorm) : nil
        let partition =
            !self.distributedOptimizer
            ? nil
            : decoder.parameters.map { parameter in
                (0..<dp).map { parameter.ownedElements(dpRank: $0, dp: dp) }
            }
        reducer = context.grid.flatMap { grid -> GradientReduction? in
            guard grid.dp > 1 else { return nil }
            guard let partition else { return DataParallelReducer(parameters: tensors, group: grid.dataParallel) }
            return ShardedGradientReducer(parameters: tensors, group: grid.dataParallel, partition: partition)
        }
        distributedActivations = context.grid.flatMap {
            $0.tp > 1 ? DistributedActivations(group: $0.tensorParallel) : nil
        }
    }

    /// Trains on this rank's micro-batches (gradient accumulation: gradients add up over
    /// them, and the data-parallel reduction runs once, during the last backward) at
    /// learning rate `lr`; returns the global mean loss. `afterBackward` sees the complete
    /// gradients before the optimizer uses them.
    /// `onMicroBatch(k, n)` is called after each of n micro-batches (for progress in long steps).
    /// `shouldContinue`, asked before every micro-batch but the first (and the same on every
    /// rank), can abandon the step: the partial gradients are dropped, nothing is applied,
    /// and the result is nil.
    public func run(
        _ microBatches: [TokenBatch], lr: Float, afterBackward: ((Double) throws -> Void)? = nil,
        onMicroBatch: ((Int, Int) -> Void)? = nil, shouldContinue: (() throws -> Bool)? = nil
    ) throws -> Double? {
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
                let loss = decoder.loss(
                    batch, tape: tape, normalizer: normalizer, checkpointBlocks: checkpointBlocks,
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
        if let afterBackward {
            try reducer?.gatherGradients()  // nothing to do unless ZeRO-1 scattered them
            try afterBackward(globalLoss)
        }
        try StepProfile.measure(.optimizer) {
            gradientNorm = try measureGradientNorm()
            optimizer.step(lr: lr, gradientScale: clipping?.scale(norm: gradientNorm) ?? 1)
        }
        try reducer?.gatherParameters()  // nothing to do unless ZeRO-1 updated shares
        return globalLoss
    }

    /// ‖g‖ over the whole model. Sharded parameters' squares are summed over tp and
    /// replicated ones counted once; under ZeRO-1 each rank adds its owned slices and the
    /// sum runs over every rank.
    private func measureGradientNorm() throws -> Double {
        let parameters = decoder.parameters
        guard distributedOptimizer else {
            let sharded = parameters.filter { $0.sharding != .replicated }.map(\.tensor)
            let replicated = parameters.filter { $0.sharding == .replicated }.map(\.tensor)
            return try GradientClipping.norm(sharded: sharded, replicated: replicated) {
                try context.sumOverTensorParallel($0)
            }
        }
        let owned = zip(parameters, optimizer.states).filter { $0.0.isWritten(byTensorParallelRank: context.tpRank) }
            .map { UnsafeBufferPointer(rebasing: $0.1.parameter.grad[$0.1.elements]) }
        return try context.sumOverWorld(GradientClipping.sumOfSquares(owned)).squareRoot()
    }
}
