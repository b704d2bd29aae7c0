// swift-tools-version:6.0
import PackageDescription

// The hot loops (norms, activations, softmax, AdamW) are SIMD8 arithmetic. Baseline x86-64
// is SSE2, which runs each SIMD8 as two 4-wide halves; Haswell's set (AVX2 and FMA, which every
// Xeon since Haswell and every EPYC has) runs it as one. Swift never fuses a multiply and
// an add on its own, so the numbers are the same bits either way.
#if arch(x86_64)
    let hotLoopSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", "haswell"])]
#else
    let hotLoopSettings: [SwiftSetting] = []
#endif

// Module layering follows docs/architecture.md; each layer imports only from those below:
// 9 launch; 8 Trainer, TextRendering; 7 Configuration; 6 TrainingData; 5 ShapesCorpus;
// 4 Generation, Checkpointing, Export; 3 Model; 2 Parallel, Optim;
// 1 Autograd, CM3Objective, HDF5, Tokenizer; 0 Randomness, Diagnostics, Storage and the system libraries.
let package = Package(
    name: "Tessera",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "launch", targets: ["launch"]),
        .library(name: "Trainer", targets: ["Trainer"])
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "5.0.1"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0")
    ],
    targets: [
        .systemLibrary(
            name: "CMPI", pkgConfig: "ompi-c",
            providers: [.apt(["libopenmpi-dev", "openmpi-bin"])]),
        .systemLibrary(
            name: "COpenBLAS", pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(
            name: "CHDF5", pkgConfig: "hdf5-openmpi",
            providers: [.apt(["libhdf5-openmpi-dev"])]),
        .target(name: "Randomness"),
        .target(name: "Diagnostics"),
        .target(name: "Storage"),
        .target(name: "Autograd", dependencies: ["COpenBLAS", "Randomness"], swiftSettings: hotLoopSettings),
        .target(name: "Parallel", dependencies: ["Autograd", "Diagnostics", "CMPI"]),
        .target(name: "Optim", dependencies: ["Autograd"], swiftSettings: hotLoopSettings),
        .target(name: "CM3Objective", dependencies: ["Randomness"]),
        .target(name: "HDF5", dependencies: ["Diagnostics", "CHDF5"]),
        .target(name: "Generation", dependencies: ["Model", "Autograd", "CM3Objective", "Diagnostics", "Randomness"]),
        .target(name: "ShapesCorpus", dependencies: ["CM3Objective", "Generation", "Randomness"]),
        .target(name: "Model", dependencies: ["Autograd", "Parallel", "Diagnostics", "Randomness"]),
        .target(
            name: "TrainingData",
            dependencies: [
                "Model", "CM3Objective", "ShapesCorpus", "HDF5", "Storage", "Diagnostics", "Autograd", "Randomness",
                "COpenBLAS"
            ]),
        .target(
            name: "Checkpointing",
            dependencies: [
                "Model", "HDF5", "Storage", "Optim", "Parallel", "CM3Objective", "Diagnostics", "Autograd",
                .product(name: "Yams", package: "Yams")
            ]),
        .target(
            name: "Configuration",
            dependencies: [
                "Diagnostics", "Model", "Optim", "Parallel", "TrainingData", "CM3Objective", "ShapesCorpus",
                "Tokenizer",
                .product(name: "Yams", package: "Yams")
            ]),
        .target(
            name: "Trainer",
            dependencies: [
                "Configuration", "Model", "TrainingData", "Checkpointing", "Parallel", "Optim", "Autograd",
                "CM3Objective",
                "Diagnostics", "Randomness", "Storage"
            ]),
        .target(name: "Export", dependencies: ["Model", "CM3Objective"]),
        .target(name: "Tokenizer", dependencies: ["Diagnostics"]),
        .target(
            name: "TextRendering",
            dependencies: [
                "Configuration", "Tokenizer", "ShapesCorpus", "CM3Objective", "Diagnostics"
            ]),
        .executableTarget(
            name: "launch",
            dependencies: [
                "Trainer", "Generation", "ShapesCorpus", "TextRendering", "Export", "Tokenizer", "Storage", "Model",
                "TrainingData", "Checkpointing", "Configuration", "HDF5", "Parallel", "Autograd",
                "CM3Objective", "Diagnostics", "Randomness",
                .product(name: "ArgumentParser", package: "swift-argument-parser")
            ]),
        .executableTarget(name: "parallel-checks", dependencies: ["Parallel", "Autograd", "Randomness"]),
        .target(name: "TestSupport", dependencies: ["Autograd", "Randomness"], path: "Tests/TestSupport"),
        .testTarget(name: "AutogradTests", dependencies: ["Autograd", "Optim", "Randomness", "TestSupport"]),
        .testTarget(
            name: "TrainerTests",
            dependencies: [
                "Trainer", "Model", "TrainingData", "Checkpointing", "Configuration", "HDF5", "Parallel",
                "CM3Objective",
                "ShapesCorpus", "Diagnostics", "Autograd", "Randomness", "TestSupport"
            ]),
        .testTarget(
            name: "GenerationTests",
            dependencies: [
                "Generation", "ShapesCorpus", "Model", "Configuration", "Autograd", "CM3Objective", "Randomness",
                "TestSupport"
            ]),
        .testTarget(
            name: "ConfigurationTests",
            dependencies: ["Configuration", "Checkpointing", "Diagnostics", "TestSupport"]),
        .testTarget(
            name: "LibraryTests",
            dependencies: [
                "Storage", "Diagnostics", "TextRendering", "Configuration", "CM3Objective", "Trainer", "Model",
                "TestSupport"
            ]),
        .testTarget(name: "TokenizerTests", dependencies: ["Tokenizer", "TestSupport"]),
        .testTarget(name: "CM3ObjectiveTests", dependencies: ["CM3Objective", "ShapesCorpus", "TestSupport"]),
        .testTarget(name: "LaunchTests", dependencies: ["launch", "Autograd", "HDF5", "TestSupport"]),
        .testTarget(
            name: "ParallelTests",
            dependencies: [
                "Trainer", "Model", "Checkpointing", "Configuration", "Diagnostics", "HDF5", "Autograd", "TestSupport",
                "launch",
                "parallel-checks"
            ])
    ],
    swiftLanguageModes: [.v5]
)
