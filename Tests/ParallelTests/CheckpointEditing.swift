import Checkpointing
import Foundation
import HDF5
import XCTest

/// A checkpoint attribute's value, for rewriting files in tests.
enum AttributeValue {
    case integer(Int64)
    case text(String)
    case number(Double)
}

/// Rewrites the checkpoint at `path` as a damaged or older writer would have left it:
/// without the datasets in `dropped`, with the attributes in `changed` set (nil: left out),
/// and every other dataset and attribute as it was. With `resealing`, `attributes_checksum`
/// is recomputed (docs/checkpoint-format.md), as a writer of those attributes would have.
func rewriteCheckpoint(
    _ path: String, dropping dropped: Set<String> = [], changing changed: [String: AttributeValue?] = [:],
    resealing: Bool = false
) throws {
    let source = try HDF5File.open(path)
    var attributes: [String: AttributeValue] = [:]
    for name in ["format_version", "step", "tokens", "optimizer_step", "global_batch", "seed"] {
        if let value = try source.integerAttribute(name) { attributes[name] = .integer(value) }
    }
    for name in ["cursor", "config", "checksums", "attributes_checksum"] {
        if let value = try source.stringAttribute(name) { attributes[name] = .text(value) }
    }
    if let lr = try source.doubleAttribute("lr") { attributes["lr"] = .number(lr) }
    for (name, value) in changed { attributes[name] = value }
    if resealing { attributes["attributes_checksum"] = .text(attributesChecksum(attributes)) }

    let copyPath = path + ".copy"
    let copy = try HDF5File.create(copyPath)
    for name in source.datasetNames() where !dropped.contains(name) {
        try copy.write(name, floats: try source.readFloats(name), shape: try source.shape(of: name))
    }
    for (name, value) in attributes {
        switch value {
        case .integer(let value): try copy.setAttribute(name, value)
        case .text(let value): try copy.setAttribute(name, value)
        case .number(let value): try copy.setAttribute(name, value)
        }
    }
    try copy.flush()
    try FileManager.default.removeItem(atPath: path)
    try FileManager.default.moveItem(atPath: copyPath, toPath: path)
}

/// The hash of every attribute, one `name=value` line each in the documented order, `lr` by
/// its IEEE bits (docs/checkpoint-format.md).
func attributesChecksum(_ attributes: [String: AttributeValue]) -> String {
    let order = [
        "format_version", "step", "tokens", "optimizer_step", "cursor", "global_batch", "seed", "lr", "config",
        "checksums"
    ]
    let text = order.map { name -> String in
        switch attributes[name] {
        case .integer(let value): "\(name)=\(value)"
        case .text(let value): "\(name)=\(value)"
        case .number(let value): "\(name)=\(String(value.bitPattern, radix: 16))"
        case nil: "\(name)="
        }
    }.joined(separator: "\n")
    return String(Checkpoint.checksum(bytes: Array(text.utf8)), radix: 16)
}

/// The `checksums` attribute as formats 1 and 2 wrote it: one FNV hash of each whole
/// tensor's bytes per line (docs/checkpoint-format.md), for rewriting a file as an older one.
func wholeTensorChecksums(_ path: String) throws -> String {
    let file = try HDF5File.open(path)
    return try file.datasetNames().map { "\($0) \(String(Checkpoint.checksum(try file.readFloats($0)), radix: 16))" }
        .joined(separator: "\n")
}
