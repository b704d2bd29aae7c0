import Configuration
import Diagnostics
import Foundation
import Glibc
import Parallel
import Storage

/// What one rank sees before a run starts. Across hosts, ranks must see the same build,
/// config and data, and share the run directory, or the run goes wrong in ways no step
/// names: another build computes other numbers, an older copy of a shard trains on other
/// documents, a directory that is not shared keeps each host's checkpoints apart.
public struct RankView: Codable, Equatable, Sendable {
    public var rank: Int
    public var host: String
    /// `FileFingerprint` of the running executable.
    public var binary: String
    /// Fingerprint of the resolved config (its YAML), so `--set` and defaults count too.
    public var config: String
    /// `path size:hash` of every data file the config names (unreadable: `path missing`).
    public var data: [String]
    /// Whether the token rank 0 wrote into the run directory reads back here.
    public var seesRunDirectory: Bool?
    /// Whether rank 0's `flock` on the run directory's lock file holds against this rank
    /// (nil on rank 0's own host, where it always does).
    public var sharesLock: Bool?
}

/// Why ranks may not start together: what differs from rank 0's view, on which rank and
/// host.
public struct PreflightProblem: ReportableError, Equatable {
    public enum Kind: String, Sendable { case binary, config, data, runDirectory, lock }
    public let kind: Kind
    public let rank: Int
    public let host: String
    public let detail: String

    public var description: String { "rank \(rank) on \(host): \(detail)" }
}

/// Checks, before any work, that every rank sees what rank 0 sees (`launch doctor`, and the
/// build and config part at the start of `launch train`).
public enum Preflight {
    /// The host name this process reports.
    public static var hostName: String {
        var buffer = [CChar](repeating: 0, count: 256)
        gethostname(&buffer, buffer.count)
        return String(cString: buffer)
    }

    /// Every rank's view, on every rank. With `data`, the config's data files are read;
    /// with `runDirectory`, rank 0 writes a token there and holds a lock that the other
    /// hosts' ranks try to take.
    public static func views(
        of config: TesseraConfig, context: ParallelContext, data: Bool, runDirectory: String?
    ) throws -> [RankView] {
        let binary = FileFingerprint.of("/proc/self/exe") ?? "unreadable"
        let configPrint = FileFingerprint.of(text: config.yaml)
        var view = RankView(
            rank: context.worldRank, host: hostName, binary: binary, config: configPrint,
            data: data ? dataFiles(config).map { "\($0) \(FileFingerprint.of($0) ?? "missing")" } : [])
        if let runDirectory {
            let hosts = try context.allGather(view.host)
            let probe = try RunDirectoryProbe(path: runDirectory, context: context, leaderHost: hosts[0])
            view.seesRunDirectory = probe.seesToken
            view.sharesLock = probe.sharesLock
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        let lines = try context.allGather(String(decoding: try encoder.encode(view), as: UTF8.self))
        return try lines.map { try JSONDecoder().decode(RankView.self, from: Data($0.utf8)) }
    }

    /// What differs from rank 0's view, rank by rank.
    public static func problems(_ views: [RankView]) -> [PreflightProblem] {
        guard let leader = views.first else { return [] }
        var problems: [PreflightProblem] = []
        for view in views.dropFirst() {
            func add(_ kind: PreflightProblem.Kind, _ detail: String) {
                problems.append(PreflightProblem(kind: kind, rank: view.rank, host: view.host, detail: detail))
            }
            if view.binary != leader.binary {
                add(
                    .binary,
                    "runs another build of launch (\(view.binary), rank 0 \(leader.binary)): install the same one")
            }
            if view.config != leader.config {
                add(.config, "reads another config (\(view.config), rank 0 \(leader.config)): share the same file")
            }
            if let differing = zip(view.data, leader.data).first(where: { $0 != $1 }) {
                add(.data, "sees \(differing.0), rank 0 \(differing.1.split(separator: " ").last ?? "")")
            }
            if view.seesRunDirectory == false {
                add(.runDirectory, "does not see the run directory rank 0 writes: put it on storage every host shares")
            }
            if view.sharesLock == false {
                add(
                    .lock,
                    """
                    took the run directory's lock while rank 0 held it: this filesystem does not honour flock across \
                    hosts, so nothing stops a second trainer from writing there
                    """)
            }
        }
        return problems
    }

    /// The data files a config reads.
    static func dataFiles(_ config: TesseraConfig) -> [String] {
        config.data.train + config.data.validation + [config.data.tokenizer, config.data.tasks].compactMap { $0 }
    }
}

/// Rank 0 writes a token into the run directory and locks a file there; each rank reads the
/// token, and ranks on other hosts try the lock. Both files are removed afterwards (and the
/// directory, if the probe created it).
struct RunDirectoryProbe {
    var seesToken = false
    var sharesLock: Bool?

    init(path: String, context: ParallelContext, leaderHost: String) throws {
        let manager = FileManager.default
        let tokenPath = (path as NSString).appendingPathComponent(".preflight")
        let lockPath = (path as NSString).appendingPathComponent(".preflight.lock")
        let token = try context.broadcastFromLeader(UUID().uuidString)
        var created = false, lock: Int32 = -1
        if context.isLeader {
            created = !manager.fileExists(atPath: path)
            try? manager.createDirectory(atPath: path, withIntermediateDirectories: true)
            try? token.write(toFile: tokenPath, atomically: true, encoding: .utf8)
            lock = open(lockPath, O_RDWR | O_CREAT, 0o644)
            if lock >= 0 { _ = flock(lock, LOCK_EX | LOCK_NB) }
        }
        try context.barrier()
        seesToken = (try? String(contentsOfFile: tokenPath, encoding: .utf8)) == token
        if !context.isLeader && Preflight.hostName != leaderHost {
            let mine = open(lockPath, O_RDWR)
            if mine >= 0 {
                let taken = flock(mine, LOCK_EX | LOCK_NB) == 0
                sharesLock = !taken
                close(mine)
            } else {
                sharesLock = nil  // no lock file to try: the missing token already says why
            }
        }
        try context.barrier()
        if context.isLeader {
            if lock >= 0 { close(lock) }
            try? manager.removeItem(atPath: tokenPath)
            try? manager.removeItem(atPath: lockPath)
            if created { try? manager.removeItem(atPath: path) }
        }
    }
}
