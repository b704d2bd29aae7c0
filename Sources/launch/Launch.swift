import ArgumentParser
import Autograd
import Checkpointing
import Configuration
import Diagnostics
import Foundation
import HDF5
import Model
import Parallel
import Storage
import Trainer
import TrainingData

/// The `launch` command line: parsing, wiring and exit codes only.
@main
struct Launch: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "launch",
        abstract: "Pretrain CM3Leon-style multimodal decoders.",
        subcommands: [
            Train.self, Generate.self, Eval.self, Plan.self, Bench.self, BenchGenerate.self, Trace.self, Prepare.self,
            InspectData.self, BenchData.self, Tokenize.self, ExportCommand.self, OpenBLAS.self, ConfigKeysCommand.self,
            Doctor.self, Retrieve.self
        ],
        defaultSubcommand: Train.self)

    static func main() {
        OpenBLASEnvironment.reexecIfNeeded()
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            if exitCode(for: error) != .success { leaveTheReportToTheFirstRank() }  // not for --help
            exit(withError: error)
        }
        do {
            try command.run()
        } catch {
            exit(withError: error)
        }
    }
}

/// Prints one line to standard error. `fputs`, not `FileHandle.write`, which traps when
/// the write fails (standard error on a full disk): the exit status must still say why.
func report(_ message: String) {
    fputs("error: \(message)\n", stderr)
}

/// For errors in what every rank reads alike (the arguments, the config), found before MPI
/// is up: under mpirun each rank would print the same line, so every rank but 0 waits
/// first. When rank 0 exits with the error, mpirun ends the others during that wait, and
/// one line is printed; a rank still running after it (rank 0 read something else) prints
/// its own. Without mpirun this returns at once.
func leaveTheReportToTheFirstRank() {
    if let rank = Communicator.launcherRank, rank != 0 { Thread.sleep(forTimeInterval: 5) }
}

/// The options of every command that runs a config: the file, `--tp` and `--set`.
struct RunOptions: ParsableArguments {
    @Option(name: .long, help: "Path to the YAML config.")
    var config: String

    @Option(name: .long, help: "Tensor-parallel size (overrides parallel.tp); dp = ranks / tp.")
    var tp: Int?

    @Option(name: .customLong("set"), help: "Override a config value, e.g. --set optim.peak_lr=3e-4 (repeatable).")
    var overrides: [String] = []

    func validate() throws {
        if let tp, tp < 1 { throw ValidationError("--tp must be positive, got \(tp)") }
    }

    /// The resolved config, or exit 2 with one line.
    func load() throws -> TesseraConfig { try loadConfig(config, set: overrides) }

    /// `--tp`, else the config's `parallel.tp`.
    func tensorParallel(_ resolved: TesseraConfig) -> Int { tp ?? resolved.parallel.tp }
}

/// Loads a config with `--set key=value` overrides, or exits with status 2 and one line
/// naming the file (or `--set`) and the key.
func loadConfig(_ path: String, set overrides: [String] = []) throws -> TesseraConfig {
    var pairs: [String: String] = [:]
    for item in overrides {
        guard let equals = item.firstIndex(of: "="), equals != item.startIndex else {
            leaveTheReportToTheFirstRank()
            report("--set \(item): expected key=value, e.g. --set optim.peak_lr=3e-4")
            throw ExitCode(2)
        }
        pairs[String(item[..<equals])] = String(item[item.index(after: equals)...])
    }
    return try withReportedErrors { try TesseraConfig.load(path: path, overrides: pairs) }
}

/// Sets up the run's ranks (MPI under mpirun), runs `body`, and shuts MPI down. A bad layout
/// exits 2 on every rank, with one line from rank 0; other failures exit 1.
func withParallelContext(tp: Int, model: ModelConfig, _ body: (ParallelContext) throws -> Void) throws {
    let context: ParallelContext
    do {
        context = try ParallelContext.forLaunch(tp: tp, model: model)
    } catch let error as LayoutError {
        if error.rank == 0 { report("\(error)") }
        ParallelContext.finishAfterFailure()
        throw ExitCode(2)
    }
    defer { context.finish() }
    try body(context)
}

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a model described by a YAML config.",
        discussion: """
            Writes runs/NAME/ (config.yaml, metrics.jsonl, checkpoints/). Running the same command \
            again resumes from the newest checkpoint that verifies. \(StopSignals.phrase) finishes the \
            current step, saves a checkpoint and exits 0.
            """)

    @OptionGroup var options: RunOptions

    @Option(name: .customLong("run"), help: "Run directory (default: runs/<config name>).")
    var runPath: String?

    @Option(name: .long, help: "auto (newest checkpoint that verifies), none, or a checkpoint file.")
    var resume: String = "auto"

    @Option(name: .long, help: "Save and stop after this many steps of this invocation.")
    var stopAfter: Int?

    @Option(
        name: .long,
        help:
            """
            Start a fresh run from this checkpoint's weights (fine-tuning; sets train.init_from). A run with \
            checkpoints of its own resumes from them instead.
            """
    )
    var initFrom: String?

    func validate() throws {
        if let stopAfter, stopAfter < 1 { throw ValidationError("--stop-after must be positive, got \(stopAfter)") }
    }

    func run() throws {
        var resolved = try options.load()
        if let initFrom { resolved.train.initFrom = initFrom }
        let name = ((options.config as NSString).lastPathComponent as NSString).deletingPathExtension
        StopSignal.install()
        try withParallelContext(tp: options.tensorParallel(resolved), model: resolved.model) { context in
            try withReportedErrors(context: context) {
                try context.agreeing { try MemoryPlan.checkFits(resolved, tp: context.tp, dp: context.dp) }
                // Ranks on other hosts must run the same build on the same config (launch doctor
                // checks the data and run directory too).
                if context.worldSize > 1 {
                    let problem = Preflight.problems(
                        try Preflight.views(of: resolved, context: context, data: false, runDirectory: nil)
                    ).first
                    try context.agreeing { if context.isLeader, let problem { throw problem } }
                }
                let directory = RunDirectory(path: runPath ?? "runs/\(name)")
                var loop = TrainingLoop(config: resolved, context: context, runDirectory: directory)
                loop.resume = resume == "auto" ? .auto : resume == "none" ? .none : .path(resume)
                loop.stopAfter = stopAfter
                _ = try loop.run()
            }
        }
    }
}

/// Runs `body`; a `ReportableError` (bad config, data, layout, run directory or
/// checkpoint) becomes one line on standard error and exit status 2. Without a context
/// (before MPI is up, where every rank reads the same inputs) the line is left to rank 0. A failure every rank
/// agreed on (`CollectiveFailure`) is printed by one rank and every rank leaves normally.
/// Any other failure under MPI was seen by this rank alone, while the others may wait in a
/// collective: it is printed here and the whole job is aborted.
func withReportedErrors<T>(context: ParallelContext? = nil, _ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let failure as CollectiveFailure {
        guard failure.reports, let underlying = failure.underlying else { throw ExitCode(2) }
        reportFailure(underlying)
    } catch let error as ReportableError {
        if context == nil { leaveTheReportToTheFirstRank() }
        reportFailure(error)
        context?.abortJob(code: 2)
    }
    throw ExitCode(2)
}

/// Prints `error`, and leaves at once after a failed checkpoint write.
private func reportFailure(_ error: any ReportableError) {
    report("\(error)")
    if let failed = error as? CheckpointError, case .unwritable = failed.problem {
        // HDF5's exit handlers crash on a file whose close already failed (disk full):
        // the partial file is gone and older checkpoints are intact, so leave now.
        _exit(1)
    }
}

struct Plan: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print parameter count, FLOPs per token, and memory per rank for a layout.")

    @OptionGroup var options: RunOptions

    @Option(name: .long, help: "Ranks in the run (default: the tensor-parallel size).")
    var world: Int?

    func validate() throws {
        // Bounded like parallel.tp: the memory figures multiply by the world size.
        if let world, !(1...(1 << 16)).contains(world) {
            throw ValidationError("--world must be in 1...\(1 << 16), got \(world)")
        }
    }

    func run() throws {
        let resolved = try options.load()
        let model = resolved.model, tp = options.tensorParallel(resolved), world = world ?? tp
        let table = model.parameterTable
        print("parameters: \(table.parameterCount)")
        print(String(format: "training FLOPs per token: %.4e", table.trainingFlopsPerToken))
        print(
            """
            layers \(model.layers), d_model \(model.dModel), heads \(model.heads), ffn \(model.ffn), seq \
            \(model.seqLen), vocab \(model.vocabSize)
            """
        )
        try withReportedErrors {
            try ParallelContext.validate(worldSize: world, tp: tp, model: model)
            let dp = world / tp
            let steps = try resolved.train.totalSteps(seqLen: model.seqLen, dp: dp)
            let accumulation = try resolved.train.accumulation(seqLen: model.seqLen, dp: dp)
            print(
                """
                layout: tp \(tp) × dp \(dp), micro-batch \(resolved.train.microBatch) × \(accumulation) \
                accumulation, \(steps) steps
                """
            )
            let plan = MemoryPlan(config: resolved, tp: tp, dp: dp)
            print(plan.describe(ranks: world))
            if dp > 1 {
                // The other setting of parallel.distributed_optimizer, for comparison.
                let other = MemoryPlan(
                    config: resolved, tp: tp, dp: dp, distributedOptimizer: !plan.distributedOptimizer)
                let (zero, replicated) = plan.distributedOptimizer ? (plan, other) : (other, plan)
                print(
                    String(
                        format:
                            """
                            ZeRO-1 (parallel.distributed_optimizer): weights, gradients and moments %.0f → %.2f \
                            bytes per parameter (8 + 8/dp), %.2f → %.2f GiB per rank in all
                            """,
                        16.0, 8 + 8 / Double(dp), Double(replicated.total) / 1_073_741_824,
                        Double(zero.total) / 1_073_741_824))
            }
            let cache = KVCache.bytesPerSequence(model, positions: model.seqLen)
            print(
                String(
                    format:
                        """
                        KV cache for decoding (fp32 keys and values of every layer): %.1f MiB per sequence of %ld \
                        tokens, %.1f MiB of it on each of the tp %ld ranks; CFG doubles the sequences
                        """,
                    Double(cache) / 1_048_576, model.seqLen, Double(cache / tp) / 1_048_576, tp))
        }
    }
}

/// `"1, 8,64"` as `[1, 8, 64]`; nil when any item is not an integer (or the list is empty).
func commaSeparatedIntegers(_ text: String) -> [Int]? {
    let items = text.split(separator: ",", omittingEmptySubsequences: false).map {
        Int($0.trimmingCharacters(in: .whitespaces))
    }
    return items.isEmpty || items.contains(nil) ? nil : items.compactMap { $0 }
}

/// Writes `data` to `path` durably (`DurableFile`), so a reader never sees a partial file;
/// a failure is one line naming the path.
func writeAtomically(_ data: Data, to path: String) throws {
    do { try DurableFile.write(data, to: path) } catch is DurableFile.Failure { throw OutputError(path: path) }
}

/// A file the command could not write.
struct OutputError: ReportableError {
    let path: String
    var description: String { "\(path): cannot be written" }
}
