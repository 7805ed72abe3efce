import Foundation

/// Classification metrics of a set of predictions: accuracy, balanced accuracy, macro F1, quadratic
/// weighted kappa, macro one-vs-rest AUC and the confusion matrix. Knows nothing about graphs, so the VLM's
/// evaluation reuses it (pass its class probabilities, or one-hot rows when it only states a class).
public struct Metrics: Codable, Sendable, Equatable {
    /// Class names, index = class.
    public var classNames: [String]
    /// Number of samples.
    public var count: Int
    /// Fraction correct.
    public var accuracy: Double
    /// Mean recall over the classes present in the labels (sklearn's `balanced_accuracy_score`).
    public var balancedAccuracy: Double
    /// Mean F1 over the classes that occur in the labels or the predictions (a class absent from both is
    /// skipped rather than counted as 0).
    public var macroF1: Double
    /// Cohen's kappa with quadratic weights (i - j)^2 / (C - 1)^2; nil when undefined (every label and
    /// prediction in one class).
    public var quadraticWeightedKappa: Double?
    /// Mean one-vs-rest ROC AUC over classes with both positives and negatives (ties count one half,
    /// Mann-Whitney); nil without probabilities or when no class qualifies.
    public var macroAUC: Double?
    /// Per-class one-vs-rest AUC (nil where undefined).
    public var perClassAUC: [Double?]
    /// Per-class recall (nil for a class with no samples).
    public var recall: [Double?]
    /// confusion[true][predicted] counts.
    public var confusion: [[Int]]

    enum CodingKeys: String, CodingKey {
        case classNames = "class_names", count, accuracy, balancedAccuracy = "balanced_accuracy"
        case macroF1 = "macro_f1", quadraticWeightedKappa = "qwk", macroAUC = "macro_auc"
        case perClassAUC = "per_class_auc", recall, confusion
    }

    /// Metrics of `predictions` against `labels` (class indices in 0..<classNames.count). `probabilities`
    /// (one row of class scores per sample) enables the AUCs; without it, `predictions` is required.
    /// Preconditions (programmer errors): equal lengths, indices in range.
    public init(labels: [Int], predictions: [Int]? = nil, probabilities: [[Double]]? = nil, classNames: [String]) {
        let c = classNames.count
        let preds: [Int] = predictions ?? probabilities!.map { row in row.indices.max { row[$0] < row[$1] } ?? 0 }
        precondition(preds.count == labels.count, "Metrics: \(labels.count) labels but \(preds.count) predictions")
        self.classNames = classNames
        count = labels.count
        var cm = [[Int]](repeating: [Int](repeating: 0, count: c), count: c)
        for (y, p) in zip(labels, preds) {
            precondition(y >= 0 && y < c && p >= 0 && p < c, "Metrics: class index out of 0..<\(c) (label \(y), prediction \(p))")
            cm[y][p] += 1
        }
        confusion = cm
        let n = Double(max(count, 1))
        accuracy = Double((0..<c).reduce(0) { $0 + cm[$1][$1] }) / n
        let support = (0..<c).map { cm[$0].reduce(0, +) }
        let predicted = (0..<c).map { j in (0..<c).reduce(0) { $0 + cm[$1][j] } }
        recall = (0..<c).map { support[$0] > 0 ? Double(cm[$0][$0]) / Double(support[$0]) : nil }
        let present = recall.compactMap { $0 }
        balancedAccuracy = present.isEmpty ? 0 : present.reduce(0, +) / Double(present.count)
        var f1s: [Double] = []
        for k in 0..<c where support[k] + predicted[k] > 0 {
            f1s.append(2 * Double(cm[k][k]) / Double(support[k] + predicted[k]))
        }
        macroF1 = f1s.isEmpty ? 0 : f1s.reduce(0, +) / Double(f1s.count)
        quadraticWeightedKappa = Self.qwk(confusion: cm)
        if let probs = probabilities {
            precondition(probs.count == labels.count, "Metrics: \(labels.count) labels but \(probs.count) probability rows")
            perClassAUC = (0..<c).map { k in
                Self.auc(scores: probs.map { $0[k] }, positives: labels.map { $0 == k })
            }
            let defined = perClassAUC.compactMap { $0 }
            macroAUC = defined.isEmpty ? nil : defined.reduce(0, +) / Double(defined.count)
        } else {
            perClassAUC = [Double?](repeating: nil, count: c); macroAUC = nil
        }
    }

    /// Quadratic weighted kappa of a confusion matrix; nil when the expected disagreement is 0.
    public static func qwk(confusion cm: [[Int]]) -> Double? {
        let c = cm.count
        guard c > 1 else { return nil }
        let n = Double(cm.joined().reduce(0, +))
        guard n > 0 else { return nil }
        let rows = cm.map { Double($0.reduce(0, +)) }
        let cols = (0..<c).map { j in Double((0..<c).reduce(0) { $0 + cm[$1][j] }) }
        var observed = 0.0, expected = 0.0
        for i in 0..<c {
            for j in 0..<c {
                let w = Double((i - j) * (i - j)) / Double((c - 1) * (c - 1))
                observed += w * Double(cm[i][j])
                expected += w * rows[i] * cols[j] / n
            }
        }
        return expected > 0 ? 1 - observed / expected : nil
    }

    /// ROC AUC of `scores` for the binary labels `positives` (Mann-Whitney U with mid-ranks, so tied scores
    /// count one half); nil without both positives and negatives.
    public static func auc(scores: [Double], positives: [Bool]) -> Double? {
        let p = positives.filter { $0 }.count, q = positives.count - p
        guard p > 0 && q > 0 else { return nil }
        let order = scores.indices.sorted { scores[$0] < scores[$1] }
        var ranks = [Double](repeating: 0, count: scores.count)
        var i = 0
        while i < order.count {
            var j = i
            while j + 1 < order.count && scores[order[j + 1]] == scores[order[i]] { j += 1 }
            let mid = Double(i + j) / 2 + 1
            for k in i...j { ranks[order[k]] = mid }
            i = j + 1
        }
        let rankSum = zip(ranks, positives).reduce(0.0) { $0 + ($1.1 ? $1.0 : 0) }
        return (rankSum - Double(p) * Double(p + 1) / 2) / (Double(p) * Double(q))
    }

    /// One line for logs: "acc 0.812 bal 0.790 F1 0.781 QWK 0.80 AUC 0.91".
    public var summary: String {
        func f(_ v: Double?) -> String { v.map { String(format: "%.3f", $0) } ?? "n/a" }
        return "acc \(f(accuracy)) bal \(f(balancedAccuracy)) F1 \(f(macroF1)) QWK \(f(quadraticWeightedKappa)) AUC \(f(macroAUC))"
    }

    /// The confusion matrix as a markdown table (rows true, columns predicted).
    public var confusionMarkdown: String {
        var s = "| true \\ predicted | " + classNames.joined(separator: " | ") + " |\n|---|" + String(repeating: "---|", count: classNames.count) + "\n"
        for (i, row) in confusion.enumerated() {
            s += "| \(classNames[i]) | " + row.map(String.init).joined(separator: " | ") + " |\n"
        }
        return s
    }
}
