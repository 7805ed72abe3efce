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
}
