import Diagnostics
import Foundation

/// A run's directory, `runs/NAME/`: the resolved `config.yaml`, `metrics.jsonl` (one JSON
/// object per line), and `checkpoints/step-00000040.h5`. Only rank 0 writes here.
public final class RunDirectory {
    public let path: String
    public var checkpointsPath: String { (path as NSString).appendingPathComponent("checkpoints") }
    public var metricsPath: String { (path as NSString).appendingPathComponent("metrics.jsonl") }
    public var configPath: String { (path as NSString).appendingPathComponent("config.yaml") }

    /// Opens (creating) the directory; fails with one line when it cannot be written.
    public init(path: String) throws {
        self.path = path
        let manager = FileManager.default
        do {
            try manager.createDirectory(atPath: (path as NSString).appendingPathComponent("checkpoints"), withIntermediateDirectories: true)
        } catch {
            throw RunDirectoryError(message: "cannot create run directory \(path): \((error as NSError).localizedDescription)")
        }
        let probe = (path as NSString).appendingPathComponent(".write-test")
        guard manager.createFile(atPath: probe, contents: Data("ok".utf8)) else {
            throw RunDirectoryError(message: "run directory \(path) is not writable")
        }
        try? manager.removeItem(atPath: probe)
    }

    /// Writes the resolved config (atomically).
    public func writeConfig(_ yaml: String) throws {
        do { try yaml.write(toFile: configPath, atomically: true, encoding: .utf8) } catch {
            throw RunDirectoryError(message: "cannot write \(configPath): \((error as NSError).localizedDescription)")
        }
    }

    public func checkpointPath(step: Int) -> String {
        (checkpointsPath as NSString).appendingPathComponent(String(format: "step-%08d.h5", step))
    }

    /// Finished checkpoints, newest first (temporary files are ignored).
    public func checkpoints() -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpointsPath)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("step-"), name.hasSuffix(".h5"), let step = Int(name.dropFirst(5).dropLast(3)) else { return nil }
            return (step, (checkpointsPath as NSString).appendingPathComponent(name))
        }.sorted { $0.0 > $1.0 }.map { (step: $0.0, path: $0.1) }
    }

    /// Deletes all but the newest `keep` checkpoints, and stale temporary files.
    public func prune(keep: Int) {
        for old in checkpoints().dropFirst(keep) { try? FileManager.default.removeItem(atPath: old.path) }
    }

    /// Appends one record to metrics.jsonl, as a line of JSON.
    public func appendMetrics(_ record: some Encodable) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = String(decoding: try encoder.encode(record), as: UTF8.self)
        let manager = FileManager.default
        // A file that cannot be created shows up as the failed open below.
        if !manager.fileExists(atPath: metricsPath) { _ = manager.createFile(atPath: metricsPath, contents: nil) }
        guard let handle = FileHandle(forWritingAtPath: metricsPath) else {
            throw RunDirectoryError(message: "cannot write \(metricsPath)")
        }
        defer { try? handle.close() }
        handle.seekToEndOfFile()
        handle.write(Data((line + "\n").utf8))
    }

    /// Drops metric lines of steps at or after `step` (a resumed run writes them again).
    public func truncateMetrics(fromStep step: Int) throws {
        guard let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let lineStep = object["step"] as? Int else { return false }
            return lineStep < step
        }
        try (kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n")).write(toFile: metricsPath, atomically: true, encoding: .utf8)
    }
}

public struct RunDirectoryError: ReportableError {
    public let message: String
    public var description: String { message }
}
