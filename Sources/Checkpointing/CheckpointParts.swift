import Autograd
import HDF5
import Model
import Optim
import Parallel

/// Where one parameter's datasets lie on this rank: its shard's place in the full tensor,
/// the rows this rank writes and checks, and the buffers behind each dataset.
///
/// The owned rows are the same split ZeRO-1 uses (`NamedParameter.ownedRows`): every
/// element of a full tensor is owned by exactly one rank, so the ranks write disjoint
/// blocks of each dataset, and the sum of their checksum parts is the whole tensor's.
struct TensorPart {
    /// One dataset's buffer: the local rows it covers and where local row `rows.lowerBound`
    /// starts in memory.
    struct Source {
        let name: String
        let pointer: UnsafeMutablePointer<Float>
        let rows: Range<Int>
    }

    let parameter: NamedParameter
    /// The full-tensor row of local row 0, and the full-tensor columns of this shard.
    let firstRow: Int
    let columns: Range<Int>
    /// Local rows this rank writes and checks (empty on tp ranks other than 0 for a
    /// replicated tensor).
    let owned: Range<Int>
    /// The parameter, then AdamW's moments when there is an optimizer.
    let sources: [Source]

    init(_ parameter: NamedParameter, optimizer: AdamW?, context: ParallelContext) {
        self.parameter = parameter
        let full = parameter.fullShape
        firstRow = parameter.sharding.rowRange(full).lowerBound
        columns = parameter.sharding.columnRange(full)
        let written = parameter.isWritten(byTensorParallelRank: context.tpRank)
        owned = written ? parameter.ownedRows(dpRank: context.dpRank, dp: context.dp) : 0..<0
        let names = Checkpoint.datasetNames(parameter.name)
        var sources = [Source(name: names[0], pointer: parameter.tensor.pointer, rows: 0..<parameter.localShape[0])]
        if let optimizer {
            guard let state = optimizer.state(named: parameter.name) else {
                preconditionFailure("AdamW has no state for \(parameter.name)")
            }
            let width = columns.count
            let rows = (state.elements.lowerBound / width)..<(state.elements.upperBound / width)
            sources.append(Source(name: names[1], pointer: state.expAvg.pointer, rows: rows))
            sources.append(Source(name: names[2], pointer: state.expAvgSq.pointer, rows: rows))
        }
        self.sources = sources
    }

    /// The block of the full tensor that local `rows` are.
    func block(_ rows: Range<Int>) -> HDF5Block {
        HDF5Block(rows: (firstRow + rows.lowerBound)..<(firstRow + rows.upperBound), columns: columns)
    }

    /// Where local row `row` of `source` lies in memory.
    func pointer(_ source: Source, row: Int) -> UnsafeMutablePointer<Float> {
        precondition(source.rows.contains(row), "row \(row) is outside \(source.name)'s buffer")
        return source.pointer + (row - source.rows.lowerBound) * columns.count
    }

    /// The checksum part of the owned rows of `source` (format 3).
    func ownedChecksum(_ source: Source) -> UInt64 {
        guard !owned.isEmpty else { return 0 }
        return Checkpoint.checksumPart(
            UnsafePointer(pointer(source, row: owned.lowerBound)), block: block(owned),
            fullColumns: parameter.fullShape[1])
    }
}
