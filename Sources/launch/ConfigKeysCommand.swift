import ArgumentParser
import Configuration

/// Prints the config key table that docs/configuration.md holds, generated from the one
/// declaration of the keys, so the doc is regenerated rather than edited by hand.
struct ConfigKeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config-keys",
        abstract: "Print every config key (value, default, meaning) as the markdown table of docs/configuration.md.")

    func run() {
        print(ConfigKeys.markdownTable, terminator: "")
    }
}
