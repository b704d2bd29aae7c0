import ArgumentParser
import Foundation
import HDF5
import Model
import Parallel
import Trainer

struct Trace: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record losses, step-0 gradients and final parameters as full tensors in HDF5.",
        discussion: "For comparing parallel layouts: every layout of the same config must write the same numbers.")

    @OptionGroup var options: RunOptions

    @Option(name: .long, help: "Training steps to run.")
    var steps: Int = 3

    @Option(name: .long, help: "HDF5 file to write (rank 0).")
    var out: String

    func validate() throws {
        guard steps > 0 else { throw ValidationError("--steps must be positive, got \(steps)") }
    }

    func run() throws {
        var resolved = try options.load()
        resolved.train.steps = steps
        try withParallelContext(tp: options.tensorParallel(resolved), model: resolved.model) { context in
            var loop = TrainingLoop(config: resolved, context: context)
            loop.log = { _ in }
            var gradients: [(String, [Float], [Int])] = []
            loop.afterBackward = { step, _, decoder in
                guard step == 0 else { return }
                gradients = try decoder.parameters.map {
                    ($0.name, try context.fullTensor($0, gradient: true), $0.fullShape)
                }
            }
            try withReportedErrors(context: context) {
                let (records, decoder) = try loop.run()
                let parameters = try decoder.parameters.map { ($0.name, try context.fullTensor($0), $0.fullShape) }
                try context.agreeing {
                    guard context.isLeader else { return }
                    let file = try HDF5File.create(out)
                    try file.write("loss", floats: records.map { Float($0.loss) }, shape: [records.count])
                    for (name, values, shape) in gradients {
                        try file.write("grad/\(name)", floats: values, shape: shape)
                    }
                    for (name, values, shape) in parameters {
                        try file.write("param/\(name)", floats: values, shape: shape)
                    }
                    try file.setAttribute("layout", "tp \(context.tp) dp \(context.dp)")
                }
            }
        }
    }
}
