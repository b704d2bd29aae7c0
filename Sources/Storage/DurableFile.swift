import Foundation
#if canImport(Glibc)
    import Glibc
#endif

/// Writes that a crash or a failure cannot leave half done: the bytes go to a temporary
/// beside the target, are fsynced, renamed over the target, and the directory is fsynced.
/// After a crash the target holds the old file or the whole new one; after a failure the
/// temporary is gone and the target is untouched. Checkpoints, data shards, run
/// directories' config and metrics, and exports are all written through it.
public enum DurableFile {
    /// A step of a durable write that failed, with the system's reason.
    public struct Failure: Error, Equatable, CustomStringConvertible {
        /// The file being written (not the temporary).
        public let path: String
        public let reason: String
        public var description: String { "\(path): \(reason)" }
    }

    /// The temporary a write of `path` goes through.
    public static func temporaryPath(for path: String) -> String { path + ".tmp" }

    /// Writes `path` durably: `produce` writes the temporary path it is handed (bytes, or a
    /// whole HDF5 file); then it is synced and moved into place. The temporary is removed on
    /// every failure, `produce`'s included, and the error rethrown.
    public static func write(_ path: String, _ produce: (_ temporary: String) throws -> Void) throws {
        let temporary = temporaryPath(for: path)
        do {
            try produce(temporary)
            try sync(temporary, for: path)
            try moveIntoPlace(temporary, path)
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw error
        }
    }

    /// Writes `data` to `path` durably.
    public static func write(_ data: Data, to path: String) throws {
        try write(path) { temporary in
            guard FileManager.default.createFile(atPath: temporary, contents: data) else {
                throw Failure(path: path, reason: "cannot create \(temporary) (\(String(cString: strerror(errno))))")
            }
        }
    }

    /// Writes `text` as UTF-8 to `path` durably.
    public static func write(_ text: String, to path: String) throws { try write(Data(text.utf8), to: path) }

    /// fsyncs `file`: its bytes are on disk once this returns. Under MPI every rank that
    /// wrote part of a shared file calls it, since each one's writes may sit in its own page
    /// cache. `path` is the target named in errors.
    public static func sync(_ file: String, for path: String) throws {
        let descriptor = open(file, O_RDONLY)
        guard descriptor >= 0 else { throw Failure(path: path, reason: "cannot reopen \(file) to sync it") }
        let synced = fsync(descriptor)
        close(descriptor)
        guard synced == 0 else { throw Failure(path: path, reason: "fsync failed (errno \(errno))") }
    }

    /// Renames the synced `temporary` over `path` and fsyncs the directory, so the new name
    /// survives a crash too.
    public static func moveIntoPlace(_ temporary: String, _ path: String) throws {
        guard rename(temporary, path) == 0 else {
            throw Failure(path: path, reason: "cannot rename into place (errno \(errno))")
        }
        let directory = open(
            (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent,
            O_RDONLY)
        if directory >= 0 { fsync(directory); close(directory) }
    }
}
