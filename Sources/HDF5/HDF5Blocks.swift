import CHDF5

/// A rectangle of a two-dimensional dataset: the rows and columns one rank holds of a
/// full tensor. Its elements lie row-major and contiguous in memory.
public struct HDF5Block: Equatable, Sendable {
    public var rows: Range<Int>
    public var columns: Range<Int>

    public init(rows: Range<Int>, columns: Range<Int>) {
        self.rows = rows; self.columns = columns
    }

    /// Elements in the block.
    public var count: Int { rows.count * columns.count }
}

extension HDF5File {
    /// Creates dataset `name` of `shape` without writing it: under MPI-IO every rank calls
    /// this for every dataset, in the same order, and then writes its own blocks.
    public func createDataset(_ name: String, type: HDF5ElementType, shape: [Int]) throws {
        H5Dclose(try openNewDataset(name, type: type, shape: shape, filled: false))
    }

    /// Writes `block.count` elements at `data` into `block` of the two-dimensional dataset
    /// `name`. Under MPI-IO this rank writes alone: no other rank takes part.
    public func write(_ name: String, type: HDF5ElementType, block: HDF5Block, data: UnsafeRawPointer) throws {
        guard block.count > 0 else { return }
        let dataset = try openDataset(name)
        defer { H5Dclose(dataset) }
        try transfer(dataset, name, block) { memory, file in
            H5Dwrite(dataset, type.nativeType, memory, file, tessera_h5p_default(), data)
        }
    }

    /// Reads `block` of the two-dimensional dataset `name`, which must hold `type`
    /// elements, into `destination` (exactly `block.count` elements): only those bytes
    /// are read from the file.
    public func read(
        _ name: String, type: HDF5ElementType, block: HDF5Block, into destination: UnsafeMutableRawBufferPointer
    ) throws {
        precondition(
            destination.count == block.count * type.byteSize, "read(block:): the destination must hold the block")
        guard block.count > 0 else { return }
        let dataset = try openDataset(name)
        defer { H5Dclose(dataset) }
        try checkType(of: dataset, name, is: type)
        try transfer(dataset, name, block) { memory, file in
            H5Dread(dataset, type.nativeType, memory, file, tessera_h5p_default(), destination.baseAddress)
        }
    }

    /// Selects `block` in the dataset's file space, describes the contiguous memory beside
    /// it, and runs `body(memorySpace, fileSpace)`.
    private func transfer(_ dataset: hid_t, _ name: String, _ block: HDF5Block, _ body: (hid_t, hid_t) -> herr_t)
        throws
    {
        let shape = datasetShape(dataset)
        guard shape.count == 2, block.rows.lowerBound >= 0, block.rows.upperBound <= shape[0],
            block.columns.lowerBound >= 0, block.columns.upperBound <= shape[1]
        else {
            throw HDF5Error(
                path: path,
                message: "dataset '\(name)' of shape \(shape) has no block \(block.rows) × \(block.columns)")
        }
        let file = H5Dget_space(dataset)
        defer { H5Sclose(file) }
        let start = [hsize_t(block.rows.lowerBound), hsize_t(block.columns.lowerBound)]
        let count = [hsize_t(block.rows.count), hsize_t(block.columns.count)]
        guard H5Sselect_hyperslab(file, H5S_SELECT_SET, start, nil, count, nil) >= 0 else {
            throw HDF5Error(path: path, message: "cannot select a block of dataset '\(name)'")
        }
        let memory = H5Screate_simple(2, count, nil)
        defer { H5Sclose(memory) }
        guard body(memory, file) >= 0 else {
            throw HDF5Error(
                path: path,
                message: "cannot transfer rows \(block.rows), columns \(block.columns) of dataset '\(name)'")
        }
    }
}
