import Foundation

/// Bytes this process has moved through read and write system calls so far (Linux's
/// `/proc/self/io`, `rchar` and `wchar`): what a checkpoint load read on one rank, for
/// example, whether from disk or the page cache.
public struct ProcessIO: Sendable {
    public let bytesRead: Int
    public let bytesWritten: Int

    /// The counters now; zero where `/proc/self/io` cannot be read (not Linux).
    public static func current() -> ProcessIO {
        guard let text = try? String(contentsOfFile: "/proc/self/io", encoding: .utf8) else {
            return ProcessIO(bytesRead: 0, bytesWritten: 0)
        }
        var fields: [String: Int] = [:]
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":").map { $0.trimmingCharacters(in: .whitespaces) }
            if parts.count == 2, let value = Int(parts[1]) { fields[parts[0]] = value }
        }
        return ProcessIO(bytesRead: fields["rchar"] ?? 0, bytesWritten: fields["wchar"] ?? 0)
    }
}
