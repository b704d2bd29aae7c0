import Autograd
import Parallel

extension ParallelContext {
    /// MPI when started by `mpirun` (or when tp > 1 asks for it), otherwise one process;
    /// the layout must fit `model`.
    public static func forLaunch(tp: Int, model: ModelConfig) throws -> ParallelContext {
        if Communicator.launchedByMPI || tp > 1 {
            return try mpi(tp: tp) { worldSize in try validate(worldSize: worldSize, tp: tp, model: model) }
        }
        return single()
    }

    /// The constraints of Megatron's layout: whole heads, MLP columns and vocabulary rows per
    /// tensor-parallel rank, and whole replicas.
    public static func validate(worldSize: Int, tp: Int, model: ModelConfig) throws {
        func require(_ condition: Bool, _ message: String) throws {
            if !condition { throw LayoutError(description: "invalid layout: \(message)") }
        }
        try require(tp >= 1, "tp must be at least 1, got \(tp)")
        try require(worldSize % tp == 0, "world size \(worldSize) is not divisible by tp \(tp)")
        try require(model.heads % tp == 0, "heads \(model.heads) are not divisible by tp \(tp)")
        try require(model.ffn % tp == 0, "ffn \(model.ffn) is not divisible by tp \(tp)")
        try require(model.vocabSize % tp == 0, "vocabulary \(model.vocabSize) is not divisible by tp \(tp)")
        // MPI and BLAS take 32-bit counts: a shard past that would trap in the first step.
        for spec in ParameterTable(model).specs {
            let perRank = spec.split == .replicated ? spec.count : spec.count / tp
            try require(
                perRank <= Int(Int32.max),
                """
                \(spec.name) \(spec.shape) holds \(perRank) elements per rank at tp \(tp), more than a 32-bit MPI or \
                BLAS count (\(Int32.max)) can hold: raise tp
                """
            )
        }
    }

    /// The full tensor of `parameter` (its values, or its gradient), on every tp rank.
    public func fullTensor(_ parameter: NamedParameter, gradient: Bool = false) throws -> [Float] {
        guard let grid else { return gradient ? parameter.tensor.gradValues : parameter.tensor.values }
        return try parameter.sharding.gatherFull(
            parameter.tensor, fullShape: parameter.fullShape,
            group: grid.tensorParallel, gradient: gradient)
    }
}

extension NamedParameter {
    /// This rank's shape of the tensor (its tensor-parallel shard).
    public var localShape: [Int] { sharding.localShape(fullShape) }

    /// The rows of this rank's tensor-parallel shard that data-parallel rank `dpRank` of
    /// `dp` owns. Under ZeRO-1 it keeps their AdamW moments and updates them; under every
    /// layout it writes them to a checkpoint. Whole rows make each owned part one rectangle
    /// of the full tensor, which a rank reads and writes as one HDF5 hyperslab.
    public func ownedRows(dpRank: Int, dp: Int) -> Range<Int> {
        Sharding.part(dpRank, of: dp, splitting: localShape[0])
    }

    /// The same rows as element offsets into this rank's shard (row-major).
    public func ownedElements(dpRank: Int, dp: Int) -> Range<Int> {
        let rows = ownedRows(dpRank: dpRank, dp: dp), width = localShape.dropFirst().reduce(1, *)
        return (rows.lowerBound * width)..<(rows.upperBound * width)
    }

    /// Whether tensor-parallel rank `tpRank` writes and checks its part of this tensor:
    /// every rank its own shard, and tp rank 0 alone for a replicated tensor.
    public func isWritten(byTensorParallelRank tpRank: Int) -> Bool {
        sharding != .replicated || tpRank == 0
    }
}
