import ArgumentParser
import Foundation
import GraphNet
import Retina
import VesselGraph

/// `capillary stage IMAGE --offline --store DIR`: stages one image with a stored GNN, in-process.
struct StageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage",
        abstract: "Stage DR (healthy / NPDR / PDR) of an OCTA image with a stored GNN.",
        discussion: "capillary stage IMAGE --offline --store DIR [--name graphnet] [--version N] [--fov-mm F] [--json]")

    @Argument(help: "OCTA en-face image (PNG or BMP).") var image: String
    @Flag(help: "Run the model in this process (no daemon).") var offline = false
    @Option(help: "Model store folder.") var store: String
    @Option(help: "Model name.") var name: String = "graphnet"
    @Option(help: "Model version (default: latest).") var version: Int?
    @Option(name: .customLong("fov-mm"), help: "Field of view, mm (default from the width).") var fovMM: Double?
    @Flag(help: "One JSON object on stdout.") var json = false

    func run() throws {
        guard offline else { throw ValidationError("only --offline staging is available: the CLI does not talk to capillaryd yet (use clients/python, clients/node or clients/nvim)") }
        let t0 = Date()
        let (model, info) = try ModelStore(root: store).load(StagingModel.self, name: name, version: version)
        var img = try ImageIO.read(path: image)
        if let fovMM { img.pixelSizeMM = fovMM / Double(img.width) }
        let graph = try VesselGraphBuilder(config: model.storedConfig.builder).build(img)
        let p = try model.predict([graph])[0]
        let ms = Date().timeIntervalSince(t0) * 1000
        if json {
            var o: [String: Any] = ["image": image, "model": info.path, "stage": p.className, "class_index": p.classIndex,
                                    "milliseconds": ms]
            o["probabilities"] = Dictionary(uniqueKeysWithValues: zip(model.classNames, p.probabilities))
            let d = try JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])
            print(String(decoding: d, as: UTF8.self))
        } else {
            print("\(image): \(p.className.uppercased())")
            for (n, q) in zip(model.classNames, p.probabilities) { print("  " + n.padding(toLength: 8, withPad: " ", startingAt: 0) + String(format: " %.3f", q)) }
            print(String(format: "model %@ (v%d), %.0f ms", info.name, info.version, ms))
        }
    }
}
