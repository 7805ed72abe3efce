import ArgumentParser
import CommandOptions
import Foundation
import GraphNet
import Retina
import Tensors
import VesselGraph

/// `capillary train-gnn`: builds (or reads cached) graphs of a cohort, trains the GraphNet stager on the
/// manifest's train split with early stopping on val, evaluates on test and stores the model; or, with
/// `--folds K`, runs stratified K-fold cross-validation (optionally with the baselines) and stores nothing.
struct TrainGNNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-gnn",
        abstract: "Train the heterogeneous GNN that stages DR from vessel graphs (model store, k-fold option).",
        discussion: """
            capillary train-gnn --cohort DIR --store DIR [--name graphnet] [--json]
            capillary train-gnn --cohort DIR --folds 5 [--baselines] [--out cv.json]
            Graphs are cached in DIR/graph-cache (keyed by image bytes + builder config). See docs/RESULTS.md.
            """)

    @Option(help: "Cohort folder with manifest.jsonl (capillary generate).")
    var cohort: String

    @Option(help: "Model store folder (required unless --folds).")
    var store: String?

    @Option(help: "Model name in the store.")
    var name: String = "graphnet"

    @OptionGroup var model: GNNModelOptions
    @OptionGroup var training: GNNTrainingOptions

    @Option(help: "Stratified k-fold cross-validation over the whole cohort instead of the manifest split (no model is stored).")
    var folds: Int?

    @Flag(help: "With --folds: also train and test the logistic-regression and CNN baselines in every fold.")
    var baselines = false

    @Option(help: "With --folds: write the per-fold results as JSON here.")
    var out: String?

    @Flag(help: "JSON lines on stdout (one per epoch, then a result line) instead of text.")
    var json = false

    @Option(help: "Also write the per-epoch JSON lines to this file (the demo report's training curves).")
    var log: String?

    func run() throws {
        GNNMemory.keepFreedMemory()
        let console = GNNConsole(json: json)
        if let log {
            guard FileManager.default.createFile(atPath: log, contents: nil), let h = FileHandle(forWritingAtPath: log) else {
                throw ValidationError("--log: cannot create \(log)")
            }
            console.logFile = h
        }
        let graphs = try GNNCohort.load(cohort, scheme: training.scheme, console: console)
        let arch = try model.config()
        let options = try training.options()
        if let k = folds {
            try crossValidate(graphs, k: k, arch: arch, options: options, console: console)
            return
        }
        guard let store else { throw ValidationError("--store is required (or use --folds)") }
        let (train, val, test) = CohortSplits.manifestSplit(graphs)
        guard !train.isEmpty, !val.isEmpty else { throw GraphNetError.badCohort(path: cohort, reason: "the manifest has no train/val split") }
        console.note("train \(train.count), val \(val.count), test \(test.count) graphs")
        let (m, summary) = try GraphNetTraining.train(train: train, val: val, architecture: arch, options: options,
                                                      scheme: training.scheme, progress: console.epoch)
        let (info, testMetrics) = try TrainedGNNStore.save(m, summary: summary, test: test, cohort: cohort, store: store, name: name)
        if json {
            console.line(["event": "stored", "path": info.path, "version": info.version,
                          "test": testMetrics.map(GNNConsole.object) ?? NSNull(), "best_epoch": summary.bestEpoch])
        } else {
            print("best epoch \(summary.bestEpoch) of \(summary.epochsRun): val \(summary.validation.summary)")
            if let t = testMetrics { print("test (\(t.count) graphs): \(t.summary)"); print(t.confusionMarkdown) }
            print("stored \(info.path) (\(m.network.parameterCount) parameters, \(String(format: "%.0f", summary.seconds)) s)")
        }
    }

    func crossValidate(_ graphs: [LabeledGraph], k: Int, arch: GraphNetConfig, options: TrainingOptions, console: GNNConsole) throws {
        guard k >= 2 && k <= graphs.count else { throw ValidationError("--folds must be 2...\(graphs.count), got \(k)") }
        let labels = try GraphNetTraining.labels(graphs)
        var rows: [[ModelResult]] = []
        for f in 0..<k {
            let (train, val, test) = CohortSplits.crossValidationRound(graphs, labels: labels, k: k, fold: f, seed: options.seed)
            console.note("fold \(f + 1)/\(k): train \(train.count), val \(val.count), test \(test.count)")
            let (m, summary) = try GraphNetTraining.train(train: train, val: val, architecture: arch, options: options,
                                                          scheme: training.scheme, progress: console.epoch)
            var results = [ModelResult(model: "GNN", test: try GraphNetTraining.evaluate(m, on: test),
                                       trainSeconds: summary.seconds, bestEpoch: summary.bestEpoch)]
            if baselines {
                results += try ModelComparison.baselines(train: train, val: val, test: test, classNames: training.scheme.classNames,
                                                         seed: options.seed, progress: { console.epoch($1, label: $0) })
            }
            rows.append(results)
            if json { console.line(["event": "fold", "fold": f + 1, "results": results.map(GNNConsole.object)]) }
            else { print("fold \(f + 1)/\(k)\n" + ModelComparison.markdown(results)) }
        }
        let table = GNNCrossValidation.markdown(rows, k: k)
        if let out {
            let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try enc.encode(rows).write(to: URL(fileURLWithPath: out))
        }
        if json { console.line(["event": "cross_validation", "folds": k, "table": table]) } else { print(table) }
    }
}

/// Cohort loading with a progress bar.
enum GNNCohort {
    static func load(_ dir: String, scheme: LabelScheme, builder: VesselGraphConfig = VesselGraphConfig(), console: GNNConsole) throws -> [LabeledGraph] {
        let manifest = try CohortGraphLoader.manifest(at: dir)
        let bar = console.json ? nil : ProgressBar(label: "graphs", total: manifest.entries.count)
        let t0 = Date()
        let graphs = try CohortGraphLoader(builderConfig: builder).load(manifest, scheme: scheme) { done, _ in bar?.update(done) }
        bar?.finish()
        console.note("\(graphs.count) graphs in \(String(format: "%.1f", Date().timeIntervalSince(t0))) s")
        return graphs
    }
}

/// Per-fold results -> "mean +/- std" table.
enum GNNCrossValidation {
    static func markdown(_ rows: [[ModelResult]], k: Int) -> String {
        guard let first = rows.first else { return "" }
        var s = "| model (\(k)-fold, mean +/- std) | accuracy | balanced accuracy | macro F1 | QWK | macro AUC |\n|---|---|---|---|---|---|\n"
        for (j, r) in first.enumerated() {
            func cell(_ get: (Metrics) -> Double?) -> String {
                let (m, sd) = ModelComparison.meanStd(rows.compactMap { get($0[j].test) })
                return String(format: "%.3f +/- %.3f", m, sd)
            }
            s += "| \(r.model) | \(cell { $0.accuracy }) | \(cell { $0.balancedAccuracy }) | \(cell { $0.macroF1 }) | \(cell { $0.quadraticWeightedKappa }) | \(cell { $0.macroAUC }) |\n"
        }
        return s
    }
}

/// Progress output: a line per epoch on a terminal (stderr), JSON lines on stdout with --json.
final class GNNConsole: @unchecked Sendable {
    let json: Bool
    /// Where the per-epoch JSON lines also go (`train-gnn --log`), whatever the terminal shows.
    var logFile: FileHandle?
    init(json: Bool) { self.json = json }

    func note(_ s: String) { if !json { FileHandle.standardError.write(Data((s + "\n").utf8)) } }

    func epoch(_ r: EpochReport) { epoch(r, label: "GNN") }

    func epoch(_ r: EpochReport, label: String) {
        let record: [String: Any] = ["event": "epoch", "model": label, "epoch": r.epoch, "epochs": r.epochs, "train_loss": r.trainLoss,
                                     "val_balanced_accuracy": r.validation.balancedAccuracy, "val_accuracy": r.validation.accuracy,
                                     "val_auc": r.validation.macroAUC ?? NSNull(), "lr": r.learningRate, "seconds": r.seconds,
                                     "eta_seconds": r.etaSeconds, "best": r.isBest]
        if let logFile, let d = try? JSONSerialization.data(withJSONObject: record, options: [.sortedKeys]) {
            logFile.write(d + Data("\n".utf8))
        }
        if json {
            line(record)
        } else {
            let width = 20, filled = width * r.epoch / max(r.epochs, 1)
            let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
            let s = String(format: "%@ [%@] epoch %d/%d loss %.4f | val %@ | %.1f s/epoch, ETA %.0f s%@\n", label, bar, r.epoch, r.epochs,
                           r.trainLoss, r.validation.summary, r.seconds, r.etaSeconds, r.isBest ? " *" : "")
            FileHandle.standardError.write(Data(s.utf8))
        }
    }

    func line(_ object: [String: Any]) {
        if let d = try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]) {
            FileHandle.standardOutput.write(d + Data("\n".utf8))
        }
    }

    static func object<T: Encodable>(_ v: T) -> Any {
        guard let d = try? JSONEncoder().encode(v), let o = try? JSONSerialization.jsonObject(with: d) else { return NSNull() }
        return o
    }
}
