import ArgumentParser
import Attribution
import Foundation
import GraphNet
import Retina

/// `capillary eval-attribution`: faithfulness (deletion curves) and localization (pointing game,
/// precision@k, FAZ rank) of integrated gradients on a synthetic cohort's ground truth.
struct EvalAttributionCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-attribution",
        abstract: "Check integrated gradients against a synthetic cohort's ground truth (deletion curves, pointing game, precision@k, FAZ rank).",
        discussion: """
        capillary eval-attribution --cohort DIR --store DIR --out DIR [--model NAME] [--splits test,val] [--steps 50] \
        [--deletion-k 20] [--random-repeats 3] [--limit N]
        Writes DIR/attribution-eval.json (per eye and per stage), DIR/attribution-eval.md, DIR/deletion-curves.csv and one
        heatmap per true stage (DIR/heatmap_<id>.png). See docs/EXPLANATIONS.md.
        capillary eval-attribution --cohort DIR --store DIR --out DIR --completeness 50,200 [--splits test]
        Completeness only: |delta| / |F(x) - F(x')| of every graph of the splits (cached graphs) at each step count; writes
        DIR/completeness.json and DIR/completeness.md (median, p90, worst).
        """)

    @Option(help: "Synthetic cohort folder (manifest.jsonl with meta and dropout masks).") var cohort: String
    @Option(help: "Model store folder.") var store: String
    @Option(help: "Model name in the store.") var model: String = "graphnet"
    @Option(help: "Output folder (created).") var out: String
    @Option(help: "Comma-separated splits to evaluate.") var splits: String = "test,val"
    @Option(help: "Integrated-gradients steps (Gauss-Legendre).") var steps: Int = 50
    @Option(name: .customLong("deletion-k"), help: "Largest number of nodes removed in the deletion curves.") var deletionK: Int = 20
    @Option(name: .customLong("random-repeats"), help: "Random removal orders per eye.") var randomRepeats: Int = 3
    @Option(help: "Evaluate at most this many eyes.") var limit: Int?
    @Option(help: "Seed of the random removal orders.") var seed: UInt64 = 1
    @Option(help: "Only check completeness, at these comma-separated Gauss-Legendre step counts (e.g. 50,200).") var completeness: String?

    func run() throws {
        GNNMemory.keepFreedMemory()  // big per-pass tensors: reuse freed pages instead of faulting fresh ones in
        var wanted = Set<DatasetSplit>()
        for s in splits.split(separator: ",") {
            guard let d = DatasetSplit(rawValue: String(s)) else { throw ValidationError("--splits: unknown split \(s) (train, val, test)") }
            wanted.insert(d)
        }
        let (stored, info) = try ModelStore(root: store).load(StagingModel.self, name: model)
        let manifest = try CohortGraphLoader.manifest(at: cohort)
        do { try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true) }
        catch { throw AttributionError.io(path: out, reason: "cannot create the output folder: \(error.localizedDescription)") }
        if let completeness {
            try checkCompleteness(completeness, model: stored, modelPath: info.path, manifest: manifest, splits: wanted)
            return
        }
        var options = IntegratedGradientsOptions()
        options.steps = steps
        var drawn = Set<String>()
        let t0 = Date()
        let report = try AttributionEvaluation.run(
            model: stored, manifest: manifest, splits: wanted, options: options, deletionK: deletionK, randomRepeats: randomRepeats,
            seed: seed, limit: limit,
            progress: { done, total in FileHandle.standardError.write("eval-attribution: \(done)/\(total)\n".data(using: .utf8)!) },
            visit: { entry, image, graph, attribution in
                // One heatmap per true stage (the first eye of each), for the docs and for eyes-on checks.
                guard let stage = entry.label?.rawValue, !drawn.contains(stage) else { return }
                drawn.insert(stage)
                let path = (out as NSString).appendingPathComponent("heatmap_\(entry.id)_\(stage).png")
                try ImageIO.writePNG(try AttributionHeatmap.render(image: image, graph: graph, attribution: attribution), to: path)
            })
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let jsonPath = (out as NSString).appendingPathComponent("attribution-eval.json")
        try enc.encode(report).write(to: URL(fileURLWithPath: jsonPath))
        var md = "model \(info.path), cohort \(cohort), splits \(splits), \(report.eyes.count) eyes, \(steps) Gauss-Legendre steps, deletion K = \(deletionK), \(randomRepeats) random orders\n\n"
        md += AttributionEvaluation.markdown(report)
        let ms = report.eyes.map(\.integratedGradientsMS).sorted()
        md += String(format: "\nIG time per eye: median %.0f ms (%d nodes median); total run %.0f s\n", ms[ms.count / 2],
                     report.eyes.map(\.nodes).sorted()[report.eyes.count / 2], Date().timeIntervalSince(t0))
        try md.write(toFile: (out as NSString).appendingPathComponent("attribution-eval.md"), atomically: true, encoding: .utf8)
        // Mean deletion curves per group (columns: k, then top and random per group).
        var csv = "k"
        let groups = ["healthy", "npdr", "pdr", "all"]
        for g in groups { csv += ",\(g)_top,\(g)_random" }
        csv += "\n"
        let k = deletionK
        for i in 0...k {
            csv += "\(i)"
            for g in groups {
                let eyes = report.eyes.filter { (g == "all" || $0.trueStage == g) && $0.deletion.topProbabilities.count > i }
                let top = eyes.isEmpty ? Double.nan : eyes.reduce(0) { $0 + $1.deletion.topProbabilities[i] } / Double(eyes.count)
                let rnd = eyes.isEmpty ? Double.nan : eyes.reduce(0) { $0 + $1.deletion.randomProbabilities[i] } / Double(eyes.count)
                csv += String(format: ",%.4f,%.4f", top, rnd)
            }
            csv += "\n"
        }
        try csv.write(toFile: (out as NSString).appendingPathComponent("deletion-curves.csv"), atomically: true, encoding: .utf8)
        print(md)
    }

    /// `--completeness`: relative convergence deltas of the cached graphs of the chosen splits.
    func checkCompleteness(_ list: String, model: StagingModel, modelPath: String, manifest: CohortManifest, splits: Set<DatasetSplit>) throws {
        let steps = try list.split(separator: ",").map { item -> Int in
            guard let s = Int(item), s >= 1 else { throw ValidationError("--completeness: bad step count \(item) (e.g. 50,200)") }
            return s
        }
        let scheme = model.storedConfig.labelScheme
        let all = try CohortGraphLoader(builderConfig: model.storedConfig.builder).load(manifest, scheme: scheme)
        var chosen = all.filter { $0.split.map { splits.contains($0) } ?? false }
        if let limit { chosen = Array(chosen.prefix(limit)) }
        guard !chosen.isEmpty else { throw ValidationError("--completeness: no labelled graph in splits \(splits.map(\.rawValue).sorted())") }
        let names = model.classNames
        let t0 = Date()
        let (eyes, summaries) = try CompletenessCheck.run(
            model: model, graphs: chosen.map { ($0.id, $0.label.map { names[$0] }, $0.graph) }, steps: steps,
            progress: { d, n in FileHandle.standardError.write("eval-attribution --completeness: \(d)/\(n)\n".data(using: .utf8)!) })
        struct Doc: Codable { var model: String; var cohort: String; var splits: [String]; var summaries: [CompletenessSummary]; var eyes: [CompletenessEye] }
        let enc = JSONEncoder()
        enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        enc.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        try enc.encode(Doc(model: modelPath, cohort: cohort, splits: splits.map(\.rawValue).sorted(), summaries: summaries, eyes: eyes))
            .write(to: URL(fileURLWithPath: (out as NSString).appendingPathComponent("completeness.json")))
        let a = model.storedConfig.architecture
        var md = "model \(modelPath) (activation \(a.activation.rawValue), readout \(a.readout.rawValue)), cohort \(cohort), splits \(splits.map(\.rawValue).sorted().joined(separator: ",")), predicted class explained, edges and globals attributed\n\n"
        md += CompletenessCheck.markdown(summaries, quadrature: .gaussLegendre)
        md += String(format: "\n%.0f s\n", Date().timeIntervalSince(t0))
        try md.write(toFile: (out as NSString).appendingPathComponent("completeness.md"), atomically: true, encoding: .utf8)
        print(md)
    }
}
