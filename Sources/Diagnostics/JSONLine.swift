import Foundation

/// The JSON lines the commands print and write: one `Encodable` value per line, keys in
/// snake_case and sorted, slashes unescaped, and non-finite numbers as the strings
/// "inf", "-inf" and "nan" (JSON has no such numbers).
public enum JSONLine {
    public static func encode(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(
            positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }
}
