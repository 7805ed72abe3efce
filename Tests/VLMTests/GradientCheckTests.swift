import Common
import Foundation
import Tensors
import XCTest
@testable import VLM

/// Finite differences against backprop through the whole tiny model (encoder, projector, blocks, tied head).
final class GradientCheckTests: XCTestCase {
    func testWholeModelGradientMatchesFiniteDifferences() throws {
        let cfg = VLMConfig(name: "check", imageSizePX: 8, patchSizePX: 4, projectorHidden: 8, dModel: 8, layers: 2,
                            heads: 2, vocabSize: 12, maxPositions: 16)
        let model = try VLMModel(config: cfg, seed: 11)
        var g = SeededGenerator(seed: 5)
        let images = (0..<2).map { _ in (0..<(cfg.visualTokens * cfg.patchDim)).map { _ in Float(g.normal()) } }
        let examples = [
            EncodedExample(imageIndex: 0, ids: [3, 7, 8, 4, 9, 10, 5], lossMask: [false, false, false, false, true, true, true]),
            EncodedExample(imageIndex: 1, ids: [3, 6, 4, 11, 5], lossMask: [false, false, false, true, true]),
        ]
        func lossValue() -> Double {
            Double(Tensor.withoutGrad { model.loss(batch: examples, images: images).loss.item })
        }
        model.zeroGrad()
        model.loss(batch: examples, images: images).loss.backward()
        var checked = 0, worst = 0.0
        for (name, p) in model.namedParameters() {
            let grad = p.gradArray
            // Three entries per tensor: the largest gradient and two seeded others.
            var idx = [grad.indices.max { abs(grad[$0]) < abs(grad[$1]) }!]
            idx += (0..<2).map { _ in g.int(below: p.count) }
            for i in idx {
                let h: Float = 1e-2
                let orig = p.data[i]
                p.data[i] = orig + h; let up = lossValue()
                p.data[i] = orig - h; let down = lossValue()
                p.data[i] = orig
                let numeric = (up - down) / Double(2 * h)
                let err = abs(numeric - Double(grad[i])) / max(1e-2, abs(numeric) + abs(Double(grad[i])))
                worst = max(worst, err)
                XCTAssertLessThan(err, 0.05, "\(name)[\(i)]: analytic \(grad[i]) vs numeric \(numeric)")
                checked += 1
            }
        }
        XCTAssertEqual(checked, model.namedParameters().count * 3)
        XCTAssertLessThan(worst, 0.05)
    }
}
