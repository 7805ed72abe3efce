import ArgumentParser
import Foundation
import GraphNet

/// `capillary eval-gnn`: evaluates a stored GNN on the test split of a cohort, optionally beside the
/// logistic-regression and CNN baselines trained on the same train/val split.
struct EvalGNNCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-gnn",
        abstract: "Evaluate a stored GNN on a cohort's test split (accuracy, balanced accuracy, F1, QWK, AUC, confusion).",
        discussion: "capillary eval-gnn --cohort DIR --store DIR [--name graphnet] [--version N] [--baselines] [--json]")

    @Option(help: "Cohort folder with manifest.jsonl.") var cohort: String
    @Option(help: "Model store folder.") var store: String
    @Option(help: "Model name.") var name: String = "graphnet"
    @Option(help: "Model version (default: latest).") var version: Int?
    @Option(help: "Split to evaluate: test, val or train.") var split: String = "test"
    @Flag(help: "Also train and evaluate the logistic-regression (global biomarkers) and CNN (raw image) baselines on the same split.")
    var baselines = false
    @Flag(name: .customLong("no-cnn"), help: "With --baselines: skip the CNN (slow).") var noCNN = false
    @Option(help: "Seed of the baselines.") var seed: UInt64 = 1
    @Flag(help: "One JSON object on stdout.") var json = false

    func run() throws {
        let console = GNNConsole(json: json)
        let (model, info) = try ModelStore(root: store).load(StagingModel.self, name: name, version: version)
        let graphs = try GNNCohort.load(cohort, scheme: model.storedConfig.labelScheme, builder: model.storedConfig.builder, console: console)
        let (train, val, test) = CohortSplits.manifestSplit(graphs)
        let target: [LabeledGraph]
        switch split {
        case "test": target = test
        case "val": target = val
        case "train": target = train
        default: throw ValidationError("--split must be test, val or train")
        }
        guard !target.isEmpty else { throw GraphNetError.badCohort(path: cohort, reason: "the \(split) split is empty") }
        var results = [ModelResult(model: "GNN (\(info.name) v\(info.version))", test: try GraphNetTraining.evaluate(model, on: target),
                                   trainSeconds: 0, bestEpoch: nil)]
        if baselines {
            results += try ModelComparison.baselines(train: train, val: val, test: target, classNames: model.classNames, seed: seed,
                                                     includeCNN: !noCNN, progress: { console.epoch($1, label: $0) })
        }
        if json {
            console.line(["model": info.path, "split": split, "results": results.map(GNNConsole.object)])
        } else {
            print("\(split) split: \(target.count) graphs; model \(info.path)\n")
            print(ModelComparison.markdown(results))
            for r in results { print("\(r.model):\n" + r.test.confusionMarkdown) }
        }
    }
}
