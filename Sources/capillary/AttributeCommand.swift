import ArgumentParser
import Attribution
import Foundation
import GraphNet
import Retina
import RPC
import VesselGraph

/// `capillary attribute IMAGE`: integrated gradients of the GNN's prediction for one image, through capillaryd
/// (the `attribute` method, warm model) or in-process with a stored model (`--offline --store DIR`), printed
/// as a summary and optionally written as JSON (with the convergence delta) and as a heatmap PNG.
struct AttributeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attribute",
        abstract: "Explain a GNN stage prediction with integrated gradients (JSON + heatmap PNG).",
        discussion: """
        Through the daemon (default): capillary attribute IMAGE [--model NAME] [--class NAME] [--steps N] \
        [--quadrature gl|trapezoid] [--top-k K] [--heatmap heat.png] [--out summary.json] [--json] [--socket PATH]; \
        IMAGE may be synthetic:SEED:STAGE[:SIZE]. Exit 69: no daemon.
        In this process: capillary attribute IMAGE --offline --store DIR [...] --out attr.json [--heatmap heat.png] \
        (--out then holds the full attribution: every node's and edge's score).
        The graph is rebuilt from the image with the model's stored builder settings. Scores are in logits of \
        the explained class; they sum to F(x) - F(baseline) up to convergence_delta. See docs/EXPLANATIONS.md.
        """)

    @Argument(help: "OCTA en-face image (PNG or BMP).") var image: String
    @Flag(help: "Run integrated gradients in this process (no daemon).") var offline = false
    @Option(help: "Model store folder (with --offline).") var store: String?
    @Option(help: "Model name in the store.") var model: String = "graphnet"
    @Option(help: "Model version (default: latest).") var version: Int?
    @Option(name: .customLong("class"), help: "Class to explain (name, e.g. npdr; default: the predicted class).") var className: String?
    @Option(help: "Quadrature points.") var steps: Int = 50
    @Option(help: "Quadrature: gl (Gauss-Legendre) or trapezoid.") var quadrature: String = "gl"
    @Option(name: .customLong("steps-per-pass"), help: "Steps per batched pass (default: the steps split evenly over the cores, one concurrent pass per core; lower to save memory).")
    var stepsPerPass: Int?
    @Flag(name: .customLong("no-edges"), help: "Do not attribute edge masks (edges stay on along the path).") var noEdges = false
    @Option(name: .customLong("fov-mm"), help: "Field of view, mm (default from the width).") var fovMM: Double?
    @Option(help: "JSON output path (--offline: the full attribution; daemon: its summary).") var out: String?
    @Option(help: "Heatmap PNG output path.") var heatmap: String?
    @Option(name: .customLong("top-k"), help: "Structures outlined on the heatmap.") var topK: Int = 5
    @Option(help: "Heatmap magnification, 1-4.") var scale: Int = 2
    @Flag(help: "Pretty-printed JSON.") var pretty = false
    @Flag(help: "The daemon's result as one JSON line on stdout (daemon mode).") var json = false
    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if offline && store == nil { throw ValidationError("--offline needs --store DIR (the model store)") }
        if offline && out == nil { throw ValidationError("--offline needs --out FILE (the attribution JSON)") }
        if !offline && (store != nil || version != nil || stepsPerPass != nil || noEdges) {
            throw ValidationError("--store, --version, --steps-per-pass and --no-edges are for --offline; the daemon uses its loaded model")
        }
    }

    func run() throws {
        guard offline, let store, let out else { return try runClient(attributeThroughDaemon) }
        GNNMemory.keepFreedMemory()  // big per-pass tensors: reuse freed pages instead of faulting fresh ones in
        let t0 = Date()
        let (stored, info) = try ModelStore(root: store).load(StagingModel.self, name: model, version: version)
        var img = try ImageIO.read(path: image)
        if let fovMM { img.pixelSizeMM = fovMM / Double(img.width) }
        let graph = try VesselGraphBuilder(config: stored.storedConfig.builder).build(img)
        var options = IntegratedGradientsOptions()
        options.steps = steps
        guard let q = Quadrature(rawValue: quadrature) else { throw ValidationError("--quadrature must be gl or trapezoid, got \(quadrature)") }
        options.quadrature = q
        options.stepsPerPass = stepsPerPass
        options.attributeEdges = !noEdges
        if let className {
            guard let i = stored.classNames.firstIndex(of: className.lowercased()) else {
                throw ValidationError("--class \(className) is not a class of model \(info.name): \(stored.classNames.joined(separator: ", "))")
            }
            options.targetClass = i
        }
        let t1 = Date()
        let attribution = try IntegratedGradients(model: stored).attribute(graph, options: options)
        let igMS = Date().timeIntervalSince(t1) * 1000
        do { try attribution.jsonData(pretty: pretty).write(to: URL(fileURLWithPath: out)) }
        catch { throw AttributionError.io(path: out, reason: "cannot write the attribution: \(error.localizedDescription)") }
        if let heatmap {
            var ho = HeatmapOptions()
            ho.topK = topK; ho.scale = scale
            try ImageIO.writePNG(try AttributionHeatmap.render(image: img, graph: graph, attribution: attribution, options: ho), to: heatmap)
        }
        let gap = attribution.targetLogit - attribution.baselineLogit
        print("\(image): predicted \(attribution.predictedClass.name.uppercased()) (p = \(String(format: "%.3f", attribution.probabilities[attribution.predictedClass.index]))); explaining \(attribution.targetClass.name)")
        print(String(format: "F(x) = %.4f, F(baseline) = %.4f, convergence delta = %.2e (%.2e of F(x) - F(baseline))",
                     attribution.targetLogit, attribution.baselineLogit, attribution.convergenceDelta,
                     abs(attribution.convergenceDelta) / max(abs(gap), 1e-12)))
        print("relevant set (95% of |node attribution|): \(attribution.relevantSet.count) of \(attribution.rankedNodes().count) nodes; top \(topK):")
        for s in attribution.topK(topK) { print(String(format: "  %@ %d  %+.4f", s.nodeType, s.index, s.score)) }
        print(String(format: "IG %.0f ms (%d steps), total %.0f ms; wrote %@%@", igMS, steps, Date().timeIntervalSince(t0) * 1000, out, heatmap.map { " and " + $0 } ?? ""))
    }
}

extension AttributeCommand {
    /// Integrated gradients through capillaryd: prints the prediction, the completeness check and the top
    /// structures; the heatmap is sent back inline and written to `--heatmap`.
    func attributeThroughDaemon() throws {
        let connection = try daemon.connect()
        var params: JSONObject = ["image": try imageParameter(image, fovMM: fovMM), "model": .string(model),
                                  "steps": .int(Int64(steps)), "quadrature": .string(quadrature), "topK": .int(Int64(topK))]
        if let className { params["target"] = .string(className) }
        if heatmap != nil { params["heatmap"] = .string("base64") }
        var r = try connection.call("attribute", params, interrupts: InterruptCounter())
        if let heatmap, let b64 = r["heatmap"]?["pngBase64"]?.stringValue {
            guard let png = Data(base64Encoded: b64) else { throw ValidationError("the daemon's heatmap is not valid base64") }
            do { try png.write(to: URL(fileURLWithPath: heatmap)) }
            catch { throw AttributionError.io(path: heatmap, reason: "cannot write the heatmap: \(error.localizedDescription)") }
            if case .object(var o) = r { o["heatmap"] = ["path": .string(heatmap)]; r = .object(o) }
        }
        if let out {
            do { try Data(JSONCodec.encode(r)).write(to: URL(fileURLWithPath: out)) }
            catch { throw AttributionError.io(path: out, reason: "cannot write the summary: \(error.localizedDescription)") }
        }
        if json { return printJSONLine(r) }
        let target = r["target"]?["name"]?.stringValue ?? "?"
        let p = r["probabilities"]?[r["stage"]?.stringValue ?? ""]?.doubleValue ?? .nan
        print("\(image): predicted \(r["stage"]?.stringValue?.uppercased() ?? "?") (p = \(String(format: "%.3f", p))); explaining \(target)")
        print(String(format: "F(x) = %.4f, F(baseline) = %.4f, convergence delta = %.2e (%.2e of F(x) - F(baseline))",
                     r["targetLogit"]?.doubleValue ?? .nan, r["baselineLogit"]?.doubleValue ?? .nan,
                     r["convergenceDelta"]?.doubleValue ?? .nan, r["relativeDelta"]?.doubleValue ?? .nan))
        print("relevant set (95% of |node attribution|): \(r["relevant"]?["count"]?.intValue ?? 0) of \(r["relevant"]?["nodes"]?.intValue ?? 0) nodes; top \(topK):")
        for n in r["top"]?.arrayValue ?? [] {
            let features = (n["topFeatures"]?.arrayValue ?? []).compactMap { $0["name"]?.stringValue }.joined(separator: ", ")
            print(String(format: "  %@ %d  %+.4f  %@  (%@)", n["type"]?.stringValue ?? "?", n["index"]?.intValue ?? -1,
                         n["score"]?.doubleValue ?? .nan, n["sector"]?.stringValue ?? "-", features))
        }
        print(String(format: "model %@@%@, IG %.0f ms, total %.0f ms%@", r["model"]?["name"]?.stringValue ?? "?",
                     r["model"]?["version"]?.stringValue ?? "?", r["timings"]?["attributeMS"]?.doubleValue ?? 0,
                     r["timings"]?["totalMS"]?.doubleValue ?? 0, heatmap.map { "; heatmap \($0)" } ?? ""))
    }
}
