// swift-tools-version:6.0
// Capillary: explainable diabetic-retinopathy staging for OCTA images.
// Data flows one way: Retina -> VesselGraph -> GraphNet -> Attribution -> Knowledge -> VLM;
// the daemon (RPC + Daemon) serves it all. Lower modules never import higher ones.
import PackageDescription
import Foundation

let package = Package(
    name: "Capillary",
    platforms: [.macOS(.v13)],
    products: [
        .executable(name: "capillary", targets: ["capillary"]),
        .executable(name: "capillaryd", targets: ["capillaryd"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries (Debian -dev packages; scripts/install-deps.sh installs them).
        .systemLibrary(name: "CLibUV", pkgConfig: "libuv", providers: [.apt(["libuv1-dev"])]),
        .systemLibrary(name: "CJansson", pkgConfig: "jansson", providers: [.apt(["libjansson-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CPNG", pkgConfig: "libpng", providers: [.apt(["libpng-dev"])]),

        // Shared base: seeded randomness and parallel loops (no dependencies).
        .target(name: "Common"),

        // Numeric core: Float32 tensors, reverse-mode autodiff, OpenBLAS matmuls, layers, optimizers, safetensors.
        .target(name: "Tensors", dependencies: ["Common", "COpenBLAS"]),

        // Pipeline modules.
        .target(name: "Retina", dependencies: ["Common", "CPNG"]),
        .target(name: "VesselGraph", dependencies: ["Common", "Retina"]),
        .target(name: "GraphNet", dependencies: ["Common", "Tensors", "VesselGraph", "Retina"]),
        .target(name: "VLM", dependencies: ["Common", "Tensors", "Retina"]),
        // Integrated gradients on the GNN, heatmaps, and their faithfulness/localization evaluation.
        .target(name: "Attribution", dependencies: ["Common", "Tensors", "Retina", "VesselGraph", "GraphNet", "Report"]),
        // Findings, grounded text, instruction dataset and fact parser (reads VLM's dataset/scorer types;
        // VLM never imports it).
        .target(name: "Knowledge", dependencies: ["Common", "Retina", "VesselGraph", "GraphNet", "VLM", "Attribution"]),

        // The demo's HTML report: bitmap font, PNG charts, self-contained page (reads files, not modules).
        .target(name: "Report", dependencies: ["Retina"]),

        // JSON-RPC 2.0 over a Unix socket (the only module that touches libuv and jansson).
        .target(name: "RPC", dependencies: ["Common", "CLibUV", "CJansson"]),

        // Method handlers, warm model registry and jobs served by capillaryd.
        .target(name: "Daemon", dependencies: ["Common", "RPC", "Retina", "VesselGraph", "GraphNet", "VLM", "Attribution", "Tensors"]),

        // Command-line option groups shared by capillary and capillary-mpi (the same flags, parsed the same way).
        .target(name: "CommandOptions", dependencies: [
            "GraphNet", "Tensors", "VLM", .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // Executables.
        .executableTarget(name: "capillaryd", dependencies: [
            "Daemon",
            "RPC",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "capillary", dependencies: [
            "Retina", "RPC", "Tensors", "VesselGraph", "GraphNet", "VLM", "Report", "Knowledge", "Attribution", "CommandOptions",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),

        // libFuzzer driver for the parsers of untrusted bytes (RPC framing + JSON, PNG/BMP, safetensors). A small
        // replay tool in normal builds; `make fuzz` builds it with --sanitize=fuzzer in .build-fuzz.
        .executableTarget(name: "CapillaryFuzz", dependencies: ["RPC", "Retina", "Tensors"]),

        // Tests: one target per module.
        .testTarget(name: "CommonTests", dependencies: ["Common"]),
        .testTarget(name: "RetinaTests", dependencies: ["Retina"]),
        .testTarget(name: "RPCTests", dependencies: ["RPC"]),
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "Common"]),
        .testTarget(name: "VesselGraphTests", dependencies: ["VesselGraph", "Retina"]),
        .testTarget(name: "DaemonTests", dependencies: ["Daemon", "RPC", "Retina", "VLM"]),
        .testTarget(name: "GraphNetTests", dependencies: ["GraphNet", "Tensors", "VesselGraph", "Retina", "Common"]),
        .testTarget(name: "VLMTests", dependencies: ["VLM", "Tensors", "Retina", "Common"]),
        .testTarget(name: "AttributionTests", dependencies: ["Attribution", "GraphNet", "Tensors", "VesselGraph", "Retina", "Common"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Retina"]),
        .testTarget(name: "KnowledgeTests", dependencies: ["Knowledge", "VLM", "GraphNet", "VesselGraph", "Retina", "Common"]),
    ],
    swiftLanguageModes: [.v5]
)

// MPI scale-out (issue 15, mpi/, docs/SCALING.md): only with CAPILLARY_MPI=1 (`make mpi`), so a plain
// `swift build` neither needs Open MPI nor sees these targets. Same package and build folder: the MPI build
// compiles just these targets on top of the modules the plain build already compiled.
if ProcessInfo.processInfo.environment["CAPILLARY_MPI"] == "1" {
    package.products.append(.executable(name: "capillary-mpi", targets: ["capillary-mpi"]))
    package.targets += [
        .systemLibrary(name: "CMPI", path: "mpi/Sources/CMPI", pkgConfig: "ompi", providers: [.apt(["libopenmpi-dev"])]),
        .target(name: "MessagePassing", dependencies: ["CMPI"], path: "mpi/Sources/MessagePassing"),
        .executableTarget(name: "capillary-mpi", dependencies: [
            "MessagePassing", "Common", "Tensors", "Retina", "VesselGraph", "GraphNet", "VLM", "Attribution", "Knowledge",
            "CommandOptions",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ], path: "mpi/Sources/capillary-mpi"),
    ]
}

