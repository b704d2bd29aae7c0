import Checkpointing
import Configuration
import Foundation
import TestSupport
import Trainer
import XCTest

extension XCTestCase {
    /// Trains configs/tiny.yaml with `overrides` in this process, quietly, into a fresh
    /// run directory; returns the config and the directory.
    func trainTiny(_ overrides: [String: String]) throws -> (config: TesseraConfig, directory: URL) {
        let directory = try makeTemporaryDirectory("tessera-tiny")
        let config = try TesseraConfig.load(path: ProjectPaths.config("tiny"), overrides: overrides)
        var loop = TrainingLoop(config: config, runDirectory: RunDirectory(path: directory.path))
        loop.log = { _ in }
        try loop.run()
        return (config, directory)
    }
}
