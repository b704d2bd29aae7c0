import CHDF5
import Diagnostics
import Foundation

/// An HDF5 failure, naming the file and what could not be done.
public struct HDF5Error: ReportableError {
    public let path: String
    public let message: String
    public var description: String { "\(path): \(message)" }
}

/// The element types Tessera stores.
public enum HDF5ElementType: String, Sendable {
    case float32, int32, int64

    var nativeType: hid_t {
        switch self {
        case .float32: tessera_h5t_native_float()
        case .int32: tessera_h5t_native_int32()
        case .int64: tessera_h5t_native_int64()
        }
    }

    var typeClass: H5T_class_t { self == .float32 ? H5T_FLOAT : H5T_INTEGER }
    var byteSize: Int { self == .int64 ? 8 : 4 }
}

/// One open HDF5 file: datasets of float32/int32/int64 with shapes, and scalar attributes
/// on the root. Paths like `optimizer/exp_avg/x` create their groups as needed.
public final class HDF5File {
    public let path: String
    let handle: hid_t
    private var isOpen = true

    /// Creates (truncating) a file for writing. With `communicator` (an `MPI_Comm`), every
    /// rank of it opens the one file through MPI-IO: creating datasets, setting attributes
    /// and `close` are then collective (every rank calls them, in the same order, with the
    /// same values), while `write(_:block:…)` is each rank's own.
    public static func create(_ path: String, communicator: OpaquePointer? = nil) throws -> HDF5File {
        tessera_h5_silence_errors()
        var access = tessera_h5p_default()
        if let communicator {
            access = tessera_h5p_file_access_mpio(UnsafeMutableRawPointer(communicator))
            guard access >= 0 else { throw HDF5Error(path: path, message: "cannot set up MPI-IO for the file") }
        }
        defer { if communicator != nil { H5Pclose(access) } }
        let id = H5Fcreate(path, tessera_h5f_acc_trunc(), tessera_h5p_default(), access)
        guard id >= 0 else { throw HDF5Error(path: path, message: "cannot create the file") }
        return HDF5File(path: path, handle: id)
    }

    /// Opens an existing file read-only.
    public static func open(_ path: String) throws -> HDF5File {
        tessera_h5_silence_errors()
        guard FileManager.default.fileExists(atPath: path) else {
            throw HDF5Error(path: path, message: "no such file")
        }
        let access = tessera_h5p_file_access_unsieved()
        defer { H5Pclose(access) }
        let id = H5Fopen(path, tessera_h5f_acc_rdonly(), access)
        guard id >= 0 else { throw HDF5Error(path: path, message: "not a readable HDF5 file") }
        return HDF5File(path: path, handle: id)
    }

    private init(path: String, handle: hid_t) {
        self.path = path
        self.handle = handle
    }

    deinit { if isOpen { H5Fclose(handle) } }

    /// Closes the file, writing out what HDF5 still buffers (collective for a file created
    /// with a communicator). Nothing may be called on it afterwards.
    public func close() throws {
        guard isOpen else { return }
        isOpen = false
        guard H5Fclose(handle) >= 0 else { throw HDF5Error(path: path, message: "close failed") }
    }

    /// Flushes HDF5's buffers to the operating system.
    public func flush() throws {
        guard H5Fflush(handle, H5F_SCOPE_GLOBAL) >= 0 else { throw HDF5Error(path: path, message: "flush failed") }
    }

    // MARK: Datasets

    /// Writes `count` elements at `data` as dataset `name` with `shape`.
    public func write(_ name: String, type: HDF5ElementType, shape: [Int], data: UnsafeRawPointer) throws {
        let dataset = try openNewDataset(name, type: type, shape: shape, filled: true)
        defer { H5Dclose(dataset) }
        guard
            H5Dwrite(dataset, type.nativeType, tessera_h5s_all(), tessera_h5s_all(), tessera_h5p_default(), data) >= 0
        else {
            throw HDF5Error(path: path, message: "cannot write dataset '\(name)'")
        }
    }

    public func write(_ name: String, floats: UnsafeBufferPointer<Float>, shape: [Int]) throws {
        try write(name, type: .float32, shape: shape, data: UnsafeRawPointer(floats.baseAddress!))
    }

    public func write(_ name: String, floats: [Float], shape: [Int]) throws {
        try floats.withUnsafeBufferPointer { try write(name, floats: $0, shape: shape) }
    }

    public func write(_ name: String, int32: [Int32], shape: [Int]) throws {
        try int32.withUnsafeBytes { try write(name, type: .int32, shape: shape, data: $0.baseAddress!) }
    }

    public func write(_ name: String, int64: [Int64], shape: [Int]) throws {
        try int64.withUnsafeBytes { try write(name, type: .int64, shape: shape, data: $0.baseAddress!) }
    }

    /// Whether a dataset (or group) called `name` exists.
    public func contains(_ name: String) -> Bool {
        var start = name.startIndex
        while let slash = name[start...].firstIndex(of: "/") {  // each parent must exist first
            if H5Lexists(handle, String(name[..<slash]), tessera_h5p_default()) <= 0 { return false }
            start = name.index(after: slash)
        }
        return H5Lexists(handle, name, tessera_h5p_default()) > 0
    }

    /// Shape of dataset `name`.
    public func shape(of name: String) throws -> [Int] {
        let dataset = try openDataset(name)
        defer { H5Dclose(dataset) }
        return datasetShape(dataset)
    }

    /// Reads dataset `name`, which must hold `type` elements, into `destination` (whose count
    /// must equal the dataset's element count).
    public func read(_ name: String, type: HDF5ElementType, into destination: UnsafeMutableRawBufferPointer) throws {
        let dataset = try openDataset(name)
        defer { H5Dclose(dataset) }
        try checkType(of: dataset, name, is: type)
        let count = datasetShape(dataset).reduce(1, *)
        guard count * type.byteSize == destination.count else {
            throw HDF5Error(
                path: path,
                message: "dataset '\(name)' has \(count) elements, expected \(destination.count / type.byteSize)")
        }
        guard
            count == 0
                || H5Dread(
                    dataset, type.nativeType, tessera_h5s_all(), tessera_h5s_all(), tessera_h5p_default(),
                    destination.baseAddress) >= 0
        else {
            throw HDF5Error(path: path, message: "cannot read dataset '\(name)'")
        }
    }

    public func readFloats(_ name: String) throws -> [Float] {
        var values = [Float](repeating: 0, count: try shape(of: name).reduce(1, *))
        try values.withUnsafeMutableBytes { try read(name, type: .float32, into: $0) }
        return values
    }

    public func readInt32(_ name: String) throws -> [Int32] {
        var values = [Int32](repeating: 0, count: try shape(of: name).reduce(1, *))
        try values.withUnsafeMutableBytes { try read(name, type: .int32, into: $0) }
        return values
    }

    public func readInt64(_ name: String) throws -> [Int64] {
        var values = [Int64](repeating: 0, count: try shape(of: name).reduce(1, *))
        try values.withUnsafeMutableBytes { try read(name, type: .int64, into: $0) }
        return values
    }

    /// Names of every dataset in the file, as full paths without the leading slash, sorted.
    public func datasetNames() -> [String] {
        final class Collector { var names: [String] = [] }
        let collector = Collector()
        let callback: H5O_iterate_t = { _, name, info, context in
            guard let name, let info, let context else { return 0 }
            if info.pointee.type.rawValue == UInt32(tessera_h5o_type_dataset()) {
                Unmanaged<Collector>.fromOpaque(context).takeUnretainedValue().names.append(String(cString: name))
            }
            return 0
        }
        H5Ovisit2(
            handle, H5_INDEX_NAME, H5_ITER_INC, callback, Unmanaged.passUnretained(collector).toOpaque(),
            UInt32(H5O_INFO_BASIC))
        return collector.names.sorted()
    }

    /// Creates dataset `name` (and its groups) and returns it open. Unfilled datasets hold
    /// whatever the disk held until every element is written.
    func openNewDataset(_ name: String, type: HDF5ElementType, shape: [Int], filled: Bool) throws -> hid_t {
        precondition(shape.allSatisfy { $0 >= 0 })
        let dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dims.count), dims, nil)
        defer { H5Sclose(space) }
        let linkProperties = H5Pcreate(tessera_h5p_link_create())
        defer { H5Pclose(linkProperties) }
        H5Pset_create_intermediate_group(linkProperties, 1)
        let creation = filled ? tessera_h5p_default() : tessera_h5p_dataset_create_unfilled()
        defer { if !filled { H5Pclose(creation) } }
        let dataset = H5Dcreate2(handle, name, type.nativeType, space, linkProperties, creation, tessera_h5p_default())
        guard dataset >= 0 else { throw HDF5Error(path: path, message: "cannot create dataset '\(name)'") }
        return dataset
    }

    func openDataset(_ name: String) throws -> hid_t {
        guard contains(name) else { throw HDF5Error(path: path, message: "missing dataset '\(name)'") }
        let dataset = H5Dopen2(handle, name, tessera_h5p_default())
        guard dataset >= 0 else { throw HDF5Error(path: path, message: "'\(name)' is not a dataset") }
        return dataset
    }

    func checkType(of dataset: hid_t, _ name: String, is type: HDF5ElementType) throws {
        let fileType = H5Dget_type(dataset)
        defer { H5Tclose(fileType) }
        guard H5Tget_class(fileType) == type.typeClass, H5Tget_size(fileType) == type.byteSize else {
            throw HDF5Error(path: path, message: "dataset '\(name)' has the wrong dtype (expected \(type.rawValue))")
        }
    }

    func datasetShape(_ dataset: hid_t) -> [Int] {
        let space = H5Dget_space(dataset)
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        var dims = [hsize_t](repeating: 0, count: rank)
        H5Sget_simple_extent_dims(space, &dims, nil)
        return dims.map { Int($0) }
    }

    // MARK: Attributes (on the root group)

    /// Sets a string attribute on the root group.
    public func setAttribute(_ name: String, _ value: String) throws {
        let type = H5Tcopy(tessera_h5t_c_s1())
        defer { H5Tclose(type) }
        H5Tset_size(type, max(value.utf8.count, 1))
        try writeAttribute(name, type: type) { attribute in
            value.withCString { H5Awrite(attribute, type, $0) }
        }
    }

    /// Sets a 64-bit integer attribute on the root group.
    public func setAttribute(_ name: String, _ value: Int64) throws {
        var copy = value
        try writeAttribute(name, type: tessera_h5t_native_int64()) { H5Awrite($0, tessera_h5t_native_int64(), &copy) }
    }

    /// Sets a double attribute on the root group.
    public func setAttribute(_ name: String, _ value: Double) throws {
        var copy = value
        try writeAttribute(name, type: tessera_h5t_native_double()) {
            H5Awrite($0, tessera_h5t_native_double(), &copy)
        }
    }

    private func writeAttribute(_ name: String, type: hid_t, _ write: (hid_t) -> herr_t) throws {
        if H5Aexists(handle, name) > 0 { H5Adelete(handle, name) }
        let space = tessera_h5s_scalar_space()
        defer { H5Sclose(space) }
        let attribute = H5Acreate2(handle, name, type, space, tessera_h5p_default(), tessera_h5p_default())
        guard attribute >= 0 else { throw HDF5Error(path: path, message: "cannot create attribute '\(name)'") }
        defer { H5Aclose(attribute) }
        guard write(attribute) >= 0 else { throw HDF5Error(path: path, message: "cannot write attribute '\(name)'") }
    }

    /// A string attribute of the root group, or nil when absent.
    public func stringAttribute(_ name: String) throws -> String? {
        guard H5Aexists(handle, name) > 0 else { return nil }
        let attribute = H5Aopen(handle, name, tessera_h5p_default())
        defer { H5Aclose(attribute) }
        let type = H5Aget_type(attribute)
        defer { H5Tclose(type) }
        guard H5Tget_class(type) == H5T_STRING else {
            throw HDF5Error(path: path, message: "attribute '\(name)' is not a string")
        }
        let size = H5Tget_size(type)
        var buffer = [CChar](repeating: 0, count: size + 1)
        guard H5Aread(attribute, type, &buffer) >= 0 else {
            throw HDF5Error(path: path, message: "cannot read attribute '\(name)'")
        }
        return String(cString: buffer)
    }

    /// A numeric attribute of the root group as Int64, or nil when absent.
    public func integerAttribute(_ name: String) throws -> Int64? {
        try numericAttribute(name, as: Int64.self, type: tessera_h5t_native_int64(), description: "an integer")
    }

    /// A numeric attribute of the root group as Double, or nil when absent.
    public func doubleAttribute(_ name: String) throws -> Double? {
        try numericAttribute(name, as: Double.self, type: tessera_h5t_native_double(), description: "a number")
    }

    /// Reads a scalar attribute converted by HDF5 to the memory `type`.
    private func numericAttribute<T: Numeric & BitwiseCopyable>(
        _ name: String, as _: T.Type, type: hid_t, description: String
    ) throws -> T? {
        guard H5Aexists(handle, name) > 0 else { return nil }
        let attribute = H5Aopen(handle, name, tessera_h5p_default())
        defer { H5Aclose(attribute) }
        var value: T = 0
        guard withUnsafeMutableBytes(of: &value, { H5Aread(attribute, type, $0.baseAddress) }) >= 0 else {
            throw HDF5Error(path: path, message: "cannot read attribute '\(name)' as \(description)")
        }
        return value
    }
}
