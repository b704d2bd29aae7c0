/// The tp × dp layout of the world (Megatron's order: tensor-parallel peers are adjacent).
/// Rank r has tp_rank = r % tp and dp_rank = r / tp.
public struct ProcessGrid {
    public let world: Communicator
    public let tp: Int
    public let dp: Int
    /// The ranks holding the other shards of this rank's tensors (size tp).
    public let tensorParallel: Communicator
    /// The ranks holding replicas of this rank's shards (size dp).
    public let dataParallel: Communicator

    public var tpRank: Int { world.rank % tp }
    public var dpRank: Int { world.rank / tp }

    /// Splits `world` into tp and dp groups; `tp` must divide the world size.
    public init(world: Communicator, tp: Int) throws {
        precondition(tp > 0 && world.size % tp == 0, "tp must divide the world size")
        self.world = world
        self.tp = tp
        self.dp = world.size / tp
        tensorParallel = try world.split(color: world.rank / tp, key: world.rank % tp)
        dataParallel = try world.split(color: world.rank % tp, key: world.rank / tp)
    }

    /// Bytes this rank has sent in collectives, tensor-parallel and data-parallel.
    public var bytesSent: (tensorParallel: Int, dataParallel: Int) {
        (tensorParallel.bytesSent, dataParallel.bytesSent)
    }

    public func resetCounters() {
        tensorParallel.resetCounters()
        dataParallel.resetCounters()
    }
}
