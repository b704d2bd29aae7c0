import Foundation

/// Writes the safetensors format Hugging Face loads: an 8-byte little-endian header length,
/// a JSON header naming each tensor's dtype, shape and byte range, then the tensors' bytes
/// back to back. Only float32 is written, since that is what Tessera trains in.
public struct SafeTensorsWriter {
    /// One tensor: its name, shape and row-major values.
    public struct Entry {
        public let name: String
        public let shape: [Int]
        public let values: [Float]
        public init(name: String, shape: [Int], values: [Float]) {
            precondition(shape.reduce(1, *) == values.count, "\(name): \(values.count) values for shape \(shape)")
            self.name = name; self.shape = shape; self.values = values
        }
    }

    public var entries: [Entry] = []
    /// String pairs stored under `__metadata__`.
    public var metadata: [String: String] = [:]

    public init() {}

    /// The file's bytes.
    public func encoded() throws -> Data {
        var header: [String: Any] = [:]
        var offset = 0
        for entry in entries {
            let bytes = entry.values.count * MemoryLayout<Float>.size
            header[entry.name] = ["dtype": "F32", "shape": entry.shape, "data_offsets": [offset, offset + bytes]]
            offset += bytes
        }
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        // Readers may memory-map the data; padding the header with spaces keeps it 8-byte aligned.
        while (8 + json.count) % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var file = Data(capacity: 8 + json.count + offset)
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { file.append(contentsOf: $0) }
        file.append(json)
        for entry in entries {
            entry.values.map { $0.bitPattern.littleEndian }.withUnsafeBytes { file.append(contentsOf: $0) }
        }
        return file
    }
}
