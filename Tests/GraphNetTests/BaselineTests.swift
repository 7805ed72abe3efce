import Common
import Foundation
@testable import GraphNet
import Tensors
import XCTest

final class BaselineTests: XCTestCase {
    /// Logistic regression learns a label that is a threshold of one biomarker.
    func testLogisticRegressionLearnsASeparableBiomarker() throws {
        var rng = SeededGenerator(seed: 4)
        func make(_ n: Int, _ prefix: String) -> [LabeledGraph] {
            (0..<n).map { i in
                var g = TestGraphs.tiny(seed: 700 + UInt64(i) + (prefix == "v" ? 1000 : 0))
                let y = i % 3
                g.biomarkers["perfusion_density"] = 0.2 + 0.1 * Double(y) + rng.uniform(-0.02, 0.02)
                return TestGraphs.labeled(g, id: "\(prefix)\(i)", label: y)
            }
        }
        let train = make(60, "t"), val = make(30, "v")
        var o = TrainingOptions()
        o.epochs = 200; o.batchSize = 8; o.learningRate = 0.05; o.weightDecay = 0; o.labelSmoothing = .none; o.patience = 200
        let (m, _) = try BiomarkerLogisticRegression.fit(train: train, val: val, classNames: ["a", "b", "c"], seed: 1, options: o)
        let probs = try ClassifierTrainer.probabilities(count: val.count) { idx in m.logits(idx.map { val[$0] }) }
        let metrics = Metrics(labels: val.map { $0.label! }, probabilities: probs, classNames: ["a", "b", "c"])
        XCTAssertGreaterThanOrEqual(metrics.accuracy, 0.95, metrics.summary)
    }

    func testImageCNNShapesAndGradients() {
        let cnn = ImageCNN(classes: 3, seed: 2)
        var rng = SeededGenerator(seed: 3)
        let x = Tensor.randn([2, 1, 32, 32], generator: &rng)
        let out = cnn(x)
        XCTAssertEqual(out.shape, [2, 3])
        out.sum().backward()
        XCTAssertTrue(cnn.parameters().allSatisfy { $0.gradArray.contains { $0 != 0 } })
    }
}
