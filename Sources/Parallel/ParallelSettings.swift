/// How the run is split over ranks.
public struct ParallelSettings: Equatable, Sendable {
    /// Tensor-parallel size; data-parallel size is world / tp.
    public var tp: Int = 1
    /// Shard AdamW's moments and update over dp (ZeRO-1); nothing changes at dp 1.
    public var distributedOptimizer = true

    public init() {}
}
