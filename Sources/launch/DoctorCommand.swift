import ArgumentParser
import Configuration
import Foundation
import Parallel
import Trainer

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Check that every rank sees the same build, config, data and run directory, before a run.",
        discussion: """
            Run it with the same mpirun line (hostfile, ranks) and config as the training run. Each rank \
            fingerprints the launch binary it runs, the resolved config and every data file the config names; \
            rank 0 writes a token into the run directory, which every rank must read back, and holds a lock on \
            it, which ranks on other hosts must fail to take. Prints what each rank sees; exits 2 with one line \
            per difference, naming the rank and host.
            """)

    @OptionGroup var options: RunOptions

    @Option(name: .customLong("run"), help: "Run directory (default: runs/<config name>).")
    var runPath: String?

    func run() throws {
        let resolved = try options.load()
        let name = ((options.config as NSString).lastPathComponent as NSString).deletingPathExtension
        try withParallelContext(tp: options.tensorParallel(resolved), model: resolved.model) { context in
            try withReportedErrors(context: context) {
                let views = try Preflight.views(
                    of: resolved, context: context, data: true, runDirectory: runPath ?? "runs/\(name)")
                let problems = Preflight.problems(views)
                if context.isLeader {
                    show(views)
                    for problem in problems { report("\(problem)") }
                    if problems.isEmpty {
                        let hosts = Set(views.map(\.host)).count
                        print(
                            """
                            all \(views.count) ranks on \(hosts) host\(hosts == 1 ? "" : "s") agree: the same build, \
                            config and \(views[0].data.count) data files, and a shared run directory
                            """)
                    }
                }
                if !problems.isEmpty { throw ExitCode(2) }
            }
        }
    }

    func show(_ views: [RankView]) {
        let header = ["rank", "host", "binary", "config", "data", "run directory", "lock"]
        print(row(header))
        let leader = views[0]
        for view in views {
            func same(_ value: String, _ reference: String) -> String {
                view.rank == 0 || value == reference ? value : "DIFFERS " + value
            }
            let data =
                view.data == leader.data ? "\(view.data.count) ok" : "\(view.data.count) DIFFER"
            let directory = view.seesRunDirectory.map { $0 ? (view.rank == 0 ? "writes" : "sees") : "MISSING" } ?? "-"
            let lock = view.sharesLock.map { $0 ? "holds" : "NOT SHARED" } ?? (view.rank == 0 ? "holds" : "same host")
            print(
                row([
                    "\(view.rank)", view.host, same(view.binary, leader.binary), same(view.config, leader.config),
                    data,
                    directory, lock
                ]))
        }
    }

    /// Columns wide enough for 64-bit fingerprints and host names.
    func row(_ cells: [String]) -> String {
        let widths = [6, 20, 36, 24, 10, 15, 0]
        return zip(cells, widths).map {
            $1 > 0 ? $0.padding(toLength: max($1, $0.count + 1), withPad: " ", startingAt: 0) : $0
        }
        .joined()
    }
}
