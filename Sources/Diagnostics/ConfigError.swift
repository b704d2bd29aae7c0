/// A problem with a setting, reported as one line naming the file (or `--set`) and the key:
/// config keys, task files, and the settings each component checks for itself.
public struct ConfigError: ReportableError {
    public let file: String
    public let key: String
    public let message: String
    public var description: String { key.isEmpty ? "\(file): \(message)" : "\(file): \(key): \(message)" }

    public init(file: String, key: String, message: String) {
        self.file = file
        self.key = key
        self.message = message
    }
}
