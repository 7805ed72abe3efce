import Common
import Foundation
import Tensors
import VesselGraph

/// Trains a `StagingModel` from labelled graphs: fits the normaliser and the healthy reference ranges on
/// the training graphs only, then runs `ClassifierTrainer` with disjoint-union mini-batches.
public enum GraphNetTraining {
    /// A trained model and how training went. `parallel`: data-parallel across processes (see
    /// `ClassifierTrainer.train`); nil = this process alone.
    /// - Throws: `GraphNetError` (bad options, empty split, unlabelled graph, feature mismatch).
    public static func train(train: [LabeledGraph], val: [LabeledGraph], architecture: GraphNetConfig,
                             options: TrainingOptions, scheme: LabelScheme, builder: VesselGraphConfig = VesselGraphConfig(),
                             progress: (EpochReport) -> Void = { _ in },
                             parallel: DataParallelism? = nil) throws -> (model: StagingModel, summary: TrainingSummary) {
        let trainLabels = try labels(train), valLabels = try labels(val)
        let normalizer = try FeatureNormalizer(fitting: train.map(\.graph))
        var arch = architecture
        arch.classNames = scheme.classNames
        arch.nodeFeatureCounts = normalizer.nodes.map(\.names.count)
        arch.globalFeatureCount = normalizer.global.names.count
        let healthy = train.filter { $0.label == 0 }.map(\.graph)
        let config = StagingModelConfig(architecture: arch, normalizer: normalizer,
                                        healthyReferences: BiomarkerReference.fit(healthyGraphs: healthy), builder: builder,
                                        labelScheme: scheme, training: options, dataFingerprint: CohortGraphLoader.fingerprint(train + val),
                                        trainCount: train.count, valCount: val.count)
        let model = try StagingModel(storedConfig: config, seed: options.seed)
        let trainGraphs = train.map(\.graph), valGraphs = val.map(\.graph)
        let summary = try ClassifierTrainer.train(
            module: model.network, classNames: arch.classNames, trainLabels: trainLabels, valLabels: valLabels, options: options,
            logits: { split, idx, mode in
                let src = split == .train ? trainGraphs : valGraphs
                return model.network.forward(try model.batch(idx.map { src[$0] }), mode: mode)
            }, progress: progress, parallel: parallel)
        return (model, summary)
    }

    /// Metrics of `model` on `graphs` (all must be labelled).
    /// - Throws: `GraphNetError.badCohort` for an unlabelled graph, `.featureMismatch`.
    public static func evaluate(_ model: StagingModel, on graphs: [LabeledGraph]) throws -> Metrics {
        let y = try labels(graphs)
        let preds = try model.predict(graphs.map(\.graph))
        return Metrics(labels: y, probabilities: preds.map(\.probabilities), classNames: model.classNames)
    }

    /// The labels of `graphs`.
    /// - Throws: `GraphNetError.badCohort` naming the first unlabelled graph.
    public static func labels(_ graphs: [LabeledGraph]) throws -> [Int] {
        try graphs.map { g in
            guard let y = g.label else { throw GraphNetError.badCohort(path: g.imagePath, reason: "graph \(g.id) has no label") }
            return y
        }
    }
}

/// Train / validation / test partitions of a cohort.
public enum CohortSplits {
    /// The manifest's own split (entries without a split are left out).
    public static func manifestSplit(_ graphs: [LabeledGraph]) -> (train: [LabeledGraph], val: [LabeledGraph], test: [LabeledGraph]) {
        (graphs.filter { $0.split == .train }, graphs.filter { $0.split == .val }, graphs.filter { $0.split == .test })
    }

    /// `k` stratified folds of `labels` (indices, each fold holding every class in proportion), shuffled
    /// with `seed`: fold f is the test set of round f.
    public static func stratifiedFolds(labels: [Int], k: Int, seed: UInt64) -> [[Int]] {
        var rng = SeededGenerator(seed: seed, stream: 0xF01D)
        var folds = [[Int]](repeating: [], count: k)
        var next = 0
        for c in Set(labels).sorted() {
            var idx = labels.indices.filter { labels[$0] == c }
            idx.shuffle(using: &rng)
            for i in idx { folds[next % k].append(i); next += 1 }
        }
        return folds.map { $0.sorted() }
    }

    /// Round `fold` of k-fold cross-validation over `graphs`: test = fold `fold`; of the rest, every
    /// `valEvery`-th graph of a stratified shuffle is validation (early stopping), the others train.
    public static func crossValidationRound(_ graphs: [LabeledGraph], labels: [Int], k: Int, fold: Int, seed: UInt64,
                                            valFraction: Double = 0.15) -> (train: [LabeledGraph], val: [LabeledGraph], test: [LabeledGraph]) {
        let folds = stratifiedFolds(labels: labels, k: k, seed: seed)
        let test = Set(folds[fold])
        let rest = labels.indices.filter { !test.contains($0) }
        let inner = stratifiedFolds(labels: rest.map { labels[$0] }, k: max(2, Int((1 / valFraction).rounded())), seed: seed &+ UInt64(fold) &+ 1)
        let val = Set(inner[0].map { rest[$0] })
        return (rest.filter { !val.contains($0) }.map { graphs[$0] }, val.sorted().map { graphs[$0] }, folds[fold].map { graphs[$0] })
    }
}
