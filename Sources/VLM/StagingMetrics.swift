import Foundation
import Retina

/// Reads the stage from generated text: the first line of the form `Stage: healthy|NPDR|PDR` (any case).
public enum StageLine {
    /// The stage named by the first `Stage:` line, or nil when there is none or it names no stage.
    public static func parse(_ text: String) -> DRStage? {
        for line in text.split(separator: "\n") {
            let t = line.trimmingCharacters(in: .whitespaces)
            guard t.lowercased().hasPrefix("stage:") else { continue }
            let word = t.dropFirst(6).trimmingCharacters(in: .whitespaces).lowercased()
                .trimmingCharacters(in: CharacterSet(charactersIn: ".,;"))
            return DRStage(rawValue: word)
        }
        return nil
    }

    /// The line for `stage` (`Stage: healthy`, `Stage: NPDR`, `Stage: PDR`).
    public static func render(_ stage: DRStage) -> String {
        "Stage: " + (stage == .healthy ? "healthy" : stage.rawValue.uppercased())
    }
}

/// Staging quality of predictions against the truth over the three stages.
public struct StagingMetrics: Sendable, Codable, Equatable {
    /// Pairs scored (including unparsed predictions).
    public var count: Int
    /// Predictions without a readable `Stage:` line (counted as wrong).
    public var unparsed: Int
    /// Fraction correct.
    public var accuracy: Double
    /// Mean per-class recall over the classes present in the truth.
    public var balancedAccuracy: Double
    /// Mean per-class F1 over the classes present in the truth.
    public var macroF1: Double
    /// Quadratic weighted kappa over the parsed predictions (ordinal stages 0, 1, 2).
    public var quadraticWeightedKappa: Double
    /// confusion[truth][predicted], predicted column 3 = unparsed.
    public var confusion: [[Int]]

    enum CodingKeys: String, CodingKey {
        case count, unparsed, accuracy, confusion
        case balancedAccuracy = "balanced_accuracy", macroF1 = "macro_f1", quadraticWeightedKappa = "qwk"
    }

    /// Metrics of `predicted` (nil = unparsed) against `truth`, pairwise.
    public init(truth: [DRStage], predicted: [DRStage?]) {
        precondition(truth.count == predicted.count, "StagingMetrics: \(truth.count) truths vs \(predicted.count) predictions")
        let k = DRStage.allCases.count
        var cm = [[Int]](repeating: [Int](repeating: 0, count: k + 1), count: k)
        for (t, p) in zip(truth, predicted) { cm[t.index][p?.index ?? k] += 1 }
        confusion = cm
        count = truth.count
        unparsed = predicted.filter { $0 == nil }.count
        let correct = (0..<k).reduce(0) { $0 + cm[$1][$1] }
        accuracy = count == 0 ? 0 : Double(correct) / Double(count)
        var recalls: [Double] = [], f1s: [Double] = []
        for c in 0..<k {
            let support = cm[c].reduce(0, +)
            guard support > 0 else { continue }
            let predictedC = (0..<k).reduce(0) { $0 + cm[$1][c] }
            let recall = Double(cm[c][c]) / Double(support)
            let precision = predictedC == 0 ? 0 : Double(cm[c][c]) / Double(predictedC)
            recalls.append(recall)
            f1s.append(precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall))
        }
        balancedAccuracy = recalls.isEmpty ? 0 : recalls.reduce(0, +) / Double(recalls.count)
        macroF1 = f1s.isEmpty ? 0 : f1s.reduce(0, +) / Double(f1s.count)
        quadraticWeightedKappa = Self.qwk(cm.map { Array($0.prefix(k)) })
    }

    /// Cohen's kappa with quadratic weights w_ij = (i - j)^2 / (k - 1)^2 of a k x k confusion matrix; 1 for
    /// perfect agreement, 0 for chance; 0 when the expected disagreement is 0 (a single class everywhere).
    public static func qwk(_ cm: [[Int]]) -> Double {
        let k = cm.count
        let n = Double(cm.flatMap { $0 }.reduce(0, +))
        guard n > 0, k > 1 else { return 0 }
        let rows = cm.map { Double($0.reduce(0, +)) }
        let cols = (0..<k).map { j in Double(cm.reduce(0) { $0 + $1[j] }) }
        var observed = 0.0, expected = 0.0
        for i in 0..<k {
            for j in 0..<k {
                let w = Double((i - j) * (i - j)) / Double((k - 1) * (k - 1))
                observed += w * Double(cm[i][j]) / n
                expected += w * rows[i] * cols[j] / (n * n)
            }
        }
        return expected == 0 ? 0 : 1 - observed / expected
    }
}
