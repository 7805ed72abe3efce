import ArgumentParser
import Foundation
import GraphNet
import Retina
import RPC
import VesselGraph

/// `capillary stage IMAGE`: stages one image through capillaryd (the `stage` method, warm model), or
/// in-process with a stored GNN (`--offline --store DIR`).
struct StageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage",
        abstract: "Stage DR (healthy / NPDR / PDR) of an OCTA image with a stored GNN.",
        discussion: """
            Through the daemon (default): capillary stage IMAGE [--name graphnet|vlm] [--socket PATH] [--json]; \
            IMAGE may be synthetic:SEED:STAGE[:SIZE]; --json prints the daemon's result as one line. Exit 69: no daemon.
            In this process: capillary stage IMAGE --offline --store DIR [--name graphnet] [--version N] [--fov-mm F] [--json]
            """)

    @Argument(help: "OCTA en-face image (PNG or BMP), or synthetic:SEED:STAGE[:SIZE] (daemon only).") var image: String
    @Flag(help: "Run the model in this process (no daemon).") var offline = false
    @Option(help: "Model store folder (with --offline).") var store: String?
    @Option(help: "Model name.") var name: String = "graphnet"
    @Option(help: "Model version (default: latest; with --offline).") var version: Int?
    @Option(name: .customLong("fov-mm"), help: "Field of view, mm (default from the width).") var fovMM: Double?
    @Flag(help: "One JSON object on stdout.") var json = false
    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if offline && store == nil { throw ValidationError("--offline needs --store DIR (the model store)") }
        if !offline && (store != nil || version != nil) {
            throw ValidationError("--store and --version are for --offline; the daemon serves its loaded version (see capillary models)")
        }
    }

    func run() throws {
        guard offline, let store else { return try runClient(stageThroughDaemon) }
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

extension StageCommand {
    /// Stages through capillaryd and prints the stage, the probabilities and the model used.
    func stageThroughDaemon() throws {
        let connection = try daemon.connect()
        let r = try connection.call("stage", ["image": try imageParameter(image, fovMM: fovMM), "model": .string(name)],
                                    interrupts: InterruptCounter())
        if json { return printJSONLine(r) }
        print("\(image): \(r["stage"]?.stringValue?.uppercased() ?? "no stage line")")
        if let probs = r["probabilities"]?.objectValue {
            for (n, q) in probs {
                print("  " + n.padding(toLength: 8, withPad: " ", startingAt: 0) + String(format: " %.3f", q.doubleValue ?? .nan))
            }
        } else if let text = r["text"]?.stringValue {
            print("  " + text)
        }
        print(String(format: "model %@@%@, %.0f ms", r["model"]?["name"]?.stringValue ?? "?", r["model"]?["version"]?.stringValue ?? "?",
                     r["timings"]?["totalMS"]?.doubleValue ?? 0))
    }
}
