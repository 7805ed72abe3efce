import ArgumentParser
import Attribution
import Foundation
import GraphNet
import Retina
import VesselGraph

/// `capillary attribute IMAGE --store DIR`: integrated gradients of a stored GNN's prediction for one image,
/// written as JSON (with the convergence delta) and optionally as a heatmap PNG.
struct AttributeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "attribute",
        abstract: "Explain a GNN stage prediction with integrated gradients (JSON + heatmap PNG).",
        discussion: """
        capillary attribute IMAGE --store DIR [--model NAME] [--class NAME] [--steps N] [--quadrature gl|trapezoid] \
        --out attr.json [--heatmap heat.png]
        The graph is rebuilt from the image with the model's stored builder settings. Scores are in logits of \
        the explained class; they sum to F(x) - F(baseline) up to convergence_delta. See docs/EXPLANATIONS.md.
        """)

    @Argument(help: "OCTA en-face image (PNG or BMP).") var image: String
    @Option(help: "Model store folder.") var store: String
    @Option(help: "Model name in the store.") var model: String = "graphnet"
    @Option(help: "Model version (default: latest).") var version: Int?
    @Option(name: .customLong("class"), help: "Class to explain (name, e.g. npdr; default: the predicted class).") var className: String?
    @Option(help: "Quadrature points.") var steps: Int = 50
    @Option(help: "Quadrature: gl (Gauss-Legendre) or trapezoid.") var quadrature: String = "gl"
    @Option(name: .customLong("steps-per-pass"), help: "Steps per batched pass (default: all at once; lower to save memory).")
    var stepsPerPass: Int?
    @Flag(name: .customLong("no-edges"), help: "Do not attribute edge masks (edges stay on along the path).") var noEdges = false
    @Option(name: .customLong("fov-mm"), help: "Field of view, mm (default from the width).") var fovMM: Double?
    @Option(help: "Attribution JSON output path.") var out: String
    @Option(help: "Heatmap PNG output path.") var heatmap: String?
    @Option(name: .customLong("top-k"), help: "Structures outlined on the heatmap.") var topK: Int = 5
    @Option(help: "Heatmap magnification, 1-4.") var scale: Int = 2
    @Flag(help: "Pretty-printed JSON.") var pretty = false

    func run() throws {
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
