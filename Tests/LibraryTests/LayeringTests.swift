import Foundation
import TestSupport
import XCTest

/// Dependencies run one way, and docs/architecture.md's layer table and Package.swift say
/// the same: every module's dependencies and every file's imports sit in lower layers.
final class LayeringTests: XCTestCase {
    /// The layer of each module, from the table in docs/architecture.md.
    func documentedLayers() throws -> [String: Int] {
        let doc = try String(
            contentsOf: ProjectPaths.root.appendingPathComponent("docs/architecture.md"), encoding: .utf8)
        var layers: [String: Int] = [:]
        let table = doc.components(separatedBy: "| layer | modules |\n")[1].components(separatedBy: "\n\n")[0]
        for line in table.split(separator: "\n") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count == 2, let layer = Int(cells[0]) else { continue }
            for match in cells[1].matches(of: #/`(\w+)`/#) { layers[String(match.1)] = layer }
            if cells[1].contains("Yams") { layers["Yams"] = layer }
        }
        return layers
    }

    /// Each source target's dependencies in Package.swift.
    func declaredDependencies() throws -> [String: [String]] {
        let package = try String(
            contentsOf: ProjectPaths.root.appendingPathComponent("Package.swift"), encoding: .utf8)
        var dependencies: [String: [String]] = [:]
        for match in package.matches(
            of: #/\.(?:target|executableTarget)\(\s*name: "(\w+)"(?:,\s*dependencies: \[([^\]]*)\])?/#)
        {
            let names = match.2.map { list in list.matches(of: #/"(\w+)"/#).map { String($0.1) } } ?? []
            dependencies[String(match.1)] = names.filter { !["swift-argument-parser", "ArgumentParser"].contains($0) }
        }
        return dependencies
    }

    func testPackageAndImportsFollowTheDocumentedLayers() throws {
        let layers = try documentedLayers(), dependencies = try declaredDependencies()
        let sources = ProjectPaths.root.appendingPathComponent("Sources")
        let systemLibraries: Set = ["CMPI", "COpenBLAS", "CHDF5"]
        for module in try FileManager.default.contentsOfDirectory(atPath: sources.path)
        where !systemLibraries.contains(module) && module != "parallel-checks" {
            let layer = try XCTUnwrap(layers[module], "\(module) is in no layer of docs/architecture.md")
            let declared = try XCTUnwrap(dependencies[module], "\(module) is not a target of Package.swift")
            for dependency in declared {
                let below = try XCTUnwrap(layers[dependency], "\(dependency) is in no layer")
                XCTAssertLessThan(below, layer, "\(module) (layer \(layer)) depends on \(dependency) (layer \(below))")
            }
            let files = FileManager.default.enumerator(atPath: sources.appendingPathComponent(module).path)!
            for case let file as String in files where file.hasSuffix(".swift") {
                let text = try String(contentsOf: sources.appendingPathComponent("\(module)/\(file)"), encoding: .utf8)
                for match in text.matches(of: #/(?m)^import (\w+)$/#) {
                    let imported = String(match.1)
                    // Foundation, Glibc, XCTest, … are no modules of the package.
                    guard layers[imported] != nil || dependencies[imported] != nil else { continue }
                    XCTAssertTrue(
                        declared.contains(imported),
                        "\(module)/\(file) imports \(imported), which Package.swift does not declare")
                }
            }
        }
    }
}
