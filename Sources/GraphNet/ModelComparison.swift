import Foundation

/// One model's result on a test set.
public struct ModelResult: Codable, Sendable {
    /// "GNN", "logistic regression (biomarkers)", "CNN (image)".
    public var model: String
    /// Test metrics.
    public var test: Metrics
    /// Training wall time, s (0 for a loaded model).
    public var trainSeconds: Double
    /// Epoch whose weights were kept (nil for a loaded model).
    public var bestEpoch: Int?

    /// A result from its parts.
    public init(model: String, test: Metrics, trainSeconds: Double, bestEpoch: Int?) {
        self.model = model; self.test = test; self.trainSeconds = trainSeconds; self.bestEpoch = bestEpoch
    }

    enum CodingKeys: String, CodingKey { case model, test, trainSeconds = "train_seconds", bestEpoch = "best_epoch" }
}

/// Trains the two baselines on a split and evaluates them (and optionally a GNN) on its test part.
public enum ModelComparison {
    /// Name of the logistic-regression baseline in tables.
    public static let logisticName = "logistic regression (global biomarkers)"
    /// Name of the CNN baseline in tables.
    public static let cnnName = "CNN (raw image)"

    /// Logistic regression and CNN results on `test` after training on `train` / `val`.
    /// - Throws: `GraphNetError` / `CohortError.badImage`.
    public static func baselines(train: [LabeledGraph], val: [LabeledGraph], test: [LabeledGraph], classNames: [String],
                                 seed: UInt64, includeCNN: Bool = true,
                                 progress: (String, EpochReport) -> Void = { _, _ in }) throws -> [ModelResult] {
        let y = try GraphNetTraining.labels(test)
        var out: [ModelResult] = []
        let (lr, lrSummary) = try BiomarkerLogisticRegression.fit(train: train, val: val, classNames: classNames, seed: seed)
        let lrProbs = try ClassifierTrainer.probabilities(count: test.count) { idx in lr.logits(idx.map { test[$0] }) }
        out.append(ModelResult(model: logisticName, test: Metrics(labels: y, probabilities: lrProbs, classNames: classNames),
                               trainSeconds: lrSummary.seconds, bestEpoch: lrSummary.bestEpoch))
        if includeCNN {
            let (cnn, std, cnnSummary) = try ImageCNN.fit(train: train, val: val, classNames: classNames, seed: seed,
                                                          progress: { progress(cnnName, $0) })
            let (px, _) = try ImageCNN.loadImages(test, factor: std.factor)
            let probs = try ClassifierTrainer.probabilities(count: test.count, chunk: 32) { idx in cnn(std.tensor(idx.map { px[$0] })) }
            out.append(ModelResult(model: cnnName, test: Metrics(labels: y, probabilities: probs, classNames: classNames),
                                   trainSeconds: cnnSummary.seconds, bestEpoch: cnnSummary.bestEpoch))
        }
        return out
    }

    /// A markdown table of results: one row per model, the five scalar metrics.
    public static func markdown(_ results: [ModelResult]) -> String {
        func f(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "n/a" }
        var s = "| model | accuracy | balanced accuracy | macro F1 | QWK | macro AUC | n |\n|---|---|---|---|---|---|---|\n"
        for r in results {
            s += "| \(r.model) | \(f(r.test.accuracy)) | \(f(r.test.balancedAccuracy)) | \(f(r.test.macroF1)) | \(f(r.test.quadraticWeightedKappa)) | \(f(r.test.macroAUC)) | \(r.test.count) |\n"
        }
        return s
    }

    /// Mean and (population) standard deviation of a metric over folds, "0.812 +/- 0.021".
    public static func meanStd(_ values: [Double]) -> (mean: Double, std: Double) {
        guard !values.isEmpty else { return (0, 0) }
        let m = values.reduce(0, +) / Double(values.count)
        let v = values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count)
        return (m, v.squareRoot())
    }
}
