import Foundation

/// A test's edit of a shipped config (or other text) that no longer applies: the text to
/// replace is not there exactly once.
public struct TextEditError: Error, CustomStringConvertible {
    public let old: String
    public let occurrences: Int
    public var description: String {
        "text edit: expected exactly one occurrence of \(String(reflecting: old)), found \(occurrences)"
    }
}

extension String {
    /// This text with `old`, which must occur exactly once, replaced by `new`. Throws
    /// otherwise, so a test whose edit of configs/*.yaml stops matching (the file changed)
    /// fails loudly instead of silently testing the unedited file.
    public func replacingOnce(_ old: String, with new: String) throws -> String {
        let occurrences = components(separatedBy: old).count - 1
        guard occurrences == 1 else { throw TextEditError(old: old, occurrences: occurrences) }
        return replacingOccurrences(of: old, with: new)
    }
}
