import Foundation

/// Where the package's own files are, for tests that read configs or run the built binary.
public enum ProjectPaths {
    /// The package root (two levels above Tests/TestSupport).
    public static let root = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    public static func config(_ name: String) -> String {
        root.appendingPathComponent("configs/\(name).yaml").path
    }

    /// The `launch` binary built alongside the running test bundle (same configuration).
    public static var launch: String { executable("launch") }

    /// A product of this package built alongside the running test bundle.
    public static func executable(_ name: String) -> String {
        let besideTests = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            .appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: besideTests) { return besideTests }
        for configuration in ["release", "debug"] {
            let path = root.appendingPathComponent(".build/\(configuration)/\(name)").path
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return besideTests
    }
}

/// What a finished subprocess printed and returned.
public struct ProcessResult {
    public let status: Int32
    public let stdout: String
    public let stderr: String
}

/// Runs `executable` with `arguments`; `environment` replaces this process's when given.
public func runProcess(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws
    -> ProcessResult
{
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    if let environment { process.environment = environment }
    let out = Pipe(), err = Pipe()
    process.standardOutput = out
    process.standardError = err
    try process.run()
    // Drain stderr on another thread while reading stdout, so a chatty child never blocks
    // on a full pipe.
    let errors = PipeReader(err)
    let outData = out.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return ProcessResult(
        status: process.terminationStatus,
        stdout: String(decoding: outData, as: UTF8.self),
        stderr: String(decoding: errors.wait(), as: UTF8.self))
}

/// Reads a pipe to its end on a background thread.
final class PipeReader: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        Thread { [self] in
            data = pipe.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }.start()
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}

/// Starting real MPI jobs from tests.
public enum MPI {
    /// The `mpirun` on this machine, if any.
    public static var mpirun: String? {
        ["/usr/bin/mpirun", "/usr/local/bin/mpirun"].first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    /// Runs `executable arguments` on `ranks` ranks, one BLAS thread each (ranks may
    /// outnumber the cores), with the OpenBLAS core type passed through. With `timeLimit`,
    /// a job still running after that many seconds is ended (`timeout`: status 124), so a
    /// hang fails the test instead of stalling the suite.
    public static func run(
        ranks: Int, _ executable: String, _ arguments: [String],
        environment: [String: String]? = nil, timeLimit: Int? = nil
    ) throws -> ProcessResult {
        let job = try command(ranks: ranks) + [executable] + arguments
        guard let timeLimit else { return try runProcess(job[0], Array(job.dropFirst()), environment: environment) }
        return try runProcess("/usr/bin/timeout", ["\(timeLimit)"] + job, environment: environment)
    }

    /// Starts `executable arguments` on `ranks` ranks without waiting for it, for tests that
    /// signal or kill ranks; standard output is discarded.
    public static func start(
        ranks: Int, _ executable: String, _ arguments: [String],
        standardError: Any = FileHandle.nullDevice
    ) throws -> Process {
        let command = try command(ranks: ranks)
        let job = Process()
        job.executableURL = URL(fileURLWithPath: command[0])
        job.arguments = Array(command.dropFirst()) + [executable] + arguments
        job.standardOutput = FileHandle.nullDevice
        job.standardError = standardError
        try job.run()
        return job
    }

    /// `mpirun` with one BLAS thread per rank and as many ranks as asked, whatever the cores;
    /// the program and its arguments follow.
    public static func command(ranks: Int) throws -> [String] {
        guard let mpirun else { throw MPIUnavailable() }
        return [mpirun, "--allow-run-as-root", "--oversubscribe", "-x", "OPENBLAS_NUM_THREADS=1", "-n", "\(ranks)"]
    }

    public struct MPIUnavailable: Error {}

    /// The processes whose parent is `pid` (the ranks `mpirun` started on this machine).
    public static func children(of pid: Int32) -> [Int32] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.compactMap { Int32($0) }.filter { candidate in
            guard let stat = try? String(contentsOfFile: "/proc/\(candidate)/stat", encoding: .utf8),
                let close = stat.lastIndex(of: ")")
            else { return false }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            return fields.count > 2 && Int32(fields[1]) == pid
        }.sorted()
    }
}

/// Training losses from a run directory's metrics.jsonl, by step, as written (17
/// significant digits), for bit-for-bit comparisons of runs.
public func trainingLosses(inRun run: String) throws -> [Int: String] {
    let text = try String(contentsOfFile: run + "/metrics.jsonl", encoding: .utf8)
    var result: [Int: String] = [:]
    for line in text.split(separator: "\n") where line.contains("\"loss\"") {
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
        result[object["step"] as! Int] = "\(object["loss"]!)"
    }
    return result
}
