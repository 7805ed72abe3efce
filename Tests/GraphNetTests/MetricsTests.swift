@testable import GraphNet
import XCTest

final class MetricsTests: XCTestCase {
    func testHandComputedMetrics() {
        // labels 0 0 0 1 1 2, predictions 0 0 1 1 2 2
        let m = Metrics(labels: [0, 0, 0, 1, 1, 2], predictions: [0, 0, 1, 1, 2, 2], classNames: ["a", "b", "c"])
        XCTAssertEqual(m.confusion, [[2, 1, 0], [0, 1, 1], [0, 0, 1]])
        XCTAssertEqual(m.accuracy, 4.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(m.balancedAccuracy, (2.0 / 3 + 0.5 + 1) / 3, accuracy: 1e-12)
        // F1: a 2*2/(3+2)=0.8, b 2*1/(2+2)=0.5, c 2*1/(1+2)=2/3
        XCTAssertEqual(m.macroF1, (0.8 + 0.5 + 2.0 / 3) / 3, accuracy: 1e-12)
        // QWK by hand: weights (i-j)^2/4; observed = 1*(1/4) [0->1] + 1*(1/4) [1->2] = 0.5
        // rows [3,2,1], cols [2,2,2], n 6: expected = sum w_ij r_i c_j / 6
        // = (1/4)(3*2 + 2*2 + 2*2 + 1*2)/6 + 1*(3*2 + 1*2)/6 = (16/4)/6 + 8/6 = 4/6 + 8/6 = 2
        XCTAssertEqual(m.quadraticWeightedKappa!, 1 - 0.5 / 2, accuracy: 1e-12)
        XCTAssertNil(m.macroAUC)
    }

    func testAUCWithTiesCountsOneHalf() {
        // positives 0.8, 0.5; negatives 0.5, 0.2: pairs (0.8>0.5)=1, (0.8>0.2)=1, (0.5=0.5)=0.5, (0.5>0.2)=1 -> 3.5/4
        XCTAssertEqual(Metrics.auc(scores: [0.8, 0.5, 0.5, 0.2], positives: [true, true, false, false])!, 0.875, accuracy: 1e-12)
        XCTAssertEqual(Metrics.auc(scores: [0.3, 0.3, 0.3], positives: [true, false, false])!, 0.5, accuracy: 1e-12)
        XCTAssertNil(Metrics.auc(scores: [0.1, 0.2], positives: [true, true]))
        // Macro OvR over three classes with probabilities.
        let probs: [[Double]] = [[0.7, 0.2, 0.1], [0.4, 0.4, 0.2], [0.2, 0.5, 0.3], [0.1, 0.3, 0.6]]
        let m = Metrics(labels: [0, 0, 1, 2], probabilities: probs, classNames: ["a", "b", "c"])
        // class a: pos {0.7, 0.4} neg {0.2, 0.1} -> 1; class b: pos {0.5} neg {0.2, 0.4, 0.3} -> 1;
        // class c: pos {0.6} neg {0.1, 0.2, 0.3} -> 1
        XCTAssertEqual(m.perClassAUC.map { $0! }, [1, 1, 1])
        // argmax with the tie in row 1 (0.4, 0.4) takes the first class
        XCTAssertEqual(m.confusion[0], [2, 0, 0])
        let tied = Metrics(labels: [0, 1, 1, 0], probabilities: [[0.6, 0.4], [0.4, 0.6], [0.5, 0.5], [0.5, 0.5]], classNames: ["x", "y"])
        // class y: pos {0.6, 0.5} neg {0.4, 0.5}: 1 + 1 + 1 + 0.5 = 3.5 / 4
        XCTAssertEqual(tied.perClassAUC[1]!, 0.875, accuracy: 1e-12)
    }

    func testQWKUndefinedAndPerfect() {
        XCTAssertNil(Metrics(labels: [1, 1], predictions: [1, 1], classNames: ["a", "b", "c"]).quadraticWeightedKappa)
        XCTAssertEqual(Metrics(labels: [0, 1, 2], predictions: [0, 1, 2], classNames: ["a", "b", "c"]).quadraticWeightedKappa!, 1, accuracy: 1e-12)
    }

    func testLabelSmoothingAndSchedules() throws {
        let g = try LabelSmoothing(parsing: "gaussian:0.4").target(2, classes: 3)
        XCTAssertEqual(g.reduce(0, +), 1, accuracy: 1e-6)
        XCTAssertGreaterThan(g[2], g[1]); XCTAssertGreaterThan(g[1], g[0])
        XCTAssertEqual(g[1] / g[2], Float(exp(-1 / (2 * 0.16))), accuracy: 1e-5)
        XCTAssertEqual(try LabelSmoothing(parsing: "uniform:0.3").target(0, classes: 3)[1], 0.1, accuracy: 1e-6)
        XCTAssertThrowsError(try LabelSmoothing(parsing: "gaussian:-1"))
        let cos = try LearningRateSchedule(parsing: "cosine:0.1")
        XCTAssertEqual(cos.rate(base: 1, epoch: 0, epochs: 11), 1, accuracy: 1e-6)
        XCTAssertEqual(cos.rate(base: 1, epoch: 10, epochs: 11), 0.1, accuracy: 1e-6)
        XCTAssertEqual(try LearningRateSchedule(parsing: "exponential:0.5").rate(base: 2, epoch: 3, epochs: 10), 0.25, accuracy: 1e-6)
    }

    func testStratifiedFoldsPartitionAndBalance() {
        let labels = (0..<50).map { $0 < 20 ? 0 : ($0 < 40 ? 1 : 2) }
        let folds = CohortSplits.stratifiedFolds(labels: labels, k: 5, seed: 3)
        XCTAssertEqual(folds.flatMap { $0 }.sorted(), Array(0..<50))
        for f in folds {
            XCTAssertEqual(f.filter { labels[$0] == 0 }.count, 4)
            XCTAssertEqual(f.filter { labels[$0] == 2 }.count, 2)
        }
    }
}
