import Diagnostics
import Foundation
import Storage
import Glibc

/// A run's directory, `runs/NAME/`: the resolved `config.yaml`, `metrics.jsonl` (one JSON
/// object per line), and `checkpoints/step-00000040.h5`. Only rank 0 writes here.
public final class RunDirectory {
    public let path: String
    public var checkpointsPath: String { (path as NSString).appendingPathComponent("checkpoints") }
    public var metricsPath: String { (path as NSString).appendingPathComponent("metrics.jsonl") }
    public var configPath: String { (path as NSString).appendingPathComponent("config.yaml") }

    /// Held while this process trains here: a `flock`, which the kernel drops when the
    /// process dies, so a crashed trainer never leaves the directory locked.
    private var lockDescriptor: Int32 = -1

    /// A run directory at `path`; nothing is created until `open()`.
    public init(path: String) {
        self.path = path
    }

    deinit {
        if lockDescriptor >= 0 { close(lockDescriptor) }
    }

    /// Creates the directory, checks it can be written, and takes its lock, so that one
    /// trainer at a time writes here. Fails with one line naming the holder when another
    /// process has it.
    public func open() throws {
        let manager = FileManager.default
        do {
            try manager.createDirectory(atPath: checkpointsPath, withIntermediateDirectories: true)
        } catch {
            throw RunDirectoryError(
                message: "cannot create run directory \(path): \((error as NSError).localizedDescription)")
        }
        let probe = (path as NSString).appendingPathComponent(".write-test")
        guard manager.createFile(atPath: probe, contents: Data("ok".utf8)) else {
            throw RunDirectoryError(message: "run directory \(path) is not writable")
        }
        try? manager.removeItem(atPath: probe)
        try lock()
    }

    private func lock() throws {
        guard lockDescriptor < 0 else { return }
        let lockPath = (path as NSString).appendingPathComponent(".lock")
        let descriptor = Glibc.open(lockPath, O_RDWR | O_CREAT, 0o644)
        guard descriptor >= 0 else { throw RunDirectoryError(message: "cannot open \(lockPath) (errno \(errno))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let holder = (try? String(contentsOfFile: lockPath, encoding: .utf8))?.trimmingCharacters(
                in: .whitespacesAndNewlines)
            close(descriptor)
            throw RunDirectoryError(
                message:
                    """
                    run directory \(path) is in use by another trainer \
                    (\(holder.map { $0.isEmpty ? "unknown" : $0 } ?? "unknown")); stop it first, or pass another \
                    --run
                    """
            )
        }
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        let holder = "pid \(getpid()) on host \(String(cString: host))\n"
        ftruncate(descriptor, 0)
        _ = holder.withCString { write(descriptor, $0, strlen($0)) }
        lockDescriptor = descriptor
    }

    /// Writes the resolved config (durably).
    public func writeConfig(_ yaml: String) throws {
        do { try DurableFile.write(yaml, to: configPath) } catch let failure as DurableFile.Failure {
            throw RunDirectoryError(message: "cannot write \(configPath): \(failure.reason)")
        }
    }

    public func checkpointPath(step: Int) -> String {
        (checkpointsPath as NSString).appendingPathComponent(String(format: "step-%08ld.h5", step))
    }

    /// Finished checkpoints, newest first (temporary files are ignored).
    public func checkpoints() -> [(step: Int, path: String)] {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: checkpointsPath)) ?? []
        return names.compactMap { name -> (Int, String)? in
            guard name.hasPrefix("step-"), name.hasSuffix(".h5"), let step = Int(name.dropFirst(5).dropLast(3)) else {
                return nil
            }
            return (step, (checkpointsPath as NSString).appendingPathComponent(name))
        }.sorted { $0.0 > $1.0 }.map { (step: $0.0, path: $0.1) }
    }

    /// Deletes all but the newest `keep` checkpoints, and stale temporary files.
    public func prune(keep: Int) {
        for old in checkpoints().dropFirst(keep) { try? FileManager.default.removeItem(atPath: old.path) }
    }

    /// Appends one record to metrics.jsonl, as a line of JSON.
    public func appendMetrics(_ record: some Encodable) throws {
        let line = try JSONLine.encode(record)
        let bytes = Array((line + "\n").utf8)
        let descriptor = Glibc.open(metricsPath, O_WRONLY | O_APPEND | O_CREAT, 0o644)
        guard descriptor >= 0 else { throw RunDirectoryError(message: "cannot write \(metricsPath)") }
        defer { close(descriptor) }
        // On a full disk, what did get written of the line is cut off again, so the file
        // never ends in half a line.
        let end = lseek(descriptor, 0, SEEK_END)
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { write(descriptor, $0.baseAddress! + offset, $0.count - offset) }
            guard written > 0 else {
                let reason = written < 0 ? String(cString: strerror(errno)) : "no space left"
                if end >= 0 { ftruncate(descriptor, end) }
                throw RunDirectoryError(message: "cannot write \(metricsPath): \(reason)")
            }
            offset += written
        }
    }

    /// Moves the checkpoints of steps after `step` into `checkpoints/abandoned-<time>/`, where
    /// resuming never looks: a run resumed from an older checkpoint starts a new timeline.
    /// Returns the folder and the steps moved, or nil when there were none.
    public func setAsideCheckpoints(after step: Int) throws -> (folder: String, steps: [Int])? {
        let newer = checkpoints().filter { $0.step > step }
        guard !newer.isEmpty else { return nil }
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        let folder = (checkpointsPath as NSString).appendingPathComponent(
            "abandoned-\(formatter.string(from: Date()))-\(getpid())")
        do {
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            for checkpoint in newer {
                try FileManager.default.moveItem(
                    atPath: checkpoint.path,
                    toPath: (folder as NSString).appendingPathComponent(
                        (checkpoint.path as NSString).lastPathComponent))
            }
        } catch {
            throw RunDirectoryError(
                message:
                    "cannot move newer checkpoints aside into \(folder): \((error as NSError).localizedDescription)")
        }
        return (folder, newer.map(\.step).sorted())
    }

    /// Drops metric lines of steps at or after `step` (a resumed run writes them again), and
    /// any line a crash left half-written.
    public func truncateMetrics(fromStep step: Int) throws {
        guard let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let object = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                let lineStep = object["step"] as? Int
            else { return false }
            return lineStep < step
        }
        do {
            try DurableFile.write(kept.joined(separator: "\n") + (kept.isEmpty ? "" : "\n"), to: metricsPath)
        } catch let failure as DurableFile.Failure {
            throw RunDirectoryError(message: "cannot write \(metricsPath): \(failure.reason)")
        }
    }
}

public struct RunDirectoryError: ReportableError {
    public let message: String
    public var description: String { message }
}
