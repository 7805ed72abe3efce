import Common
import Foundation
import XCTest
@testable import Tensors

/// End-to-end: small MLPs must fit classic toy problems with a fixed seed.
final class TrainingTests: XCTestCase {
    func accuracy(_ logits: Tensor, _ labels: [Int]) -> Double {
        let c = logits.shape[1]
        var right = 0
        for i in 0..<labels.count where Kernels.argmax(logits.data.baseAddress! + i * c, count: c) == labels[i] { right += 1 }
        return Double(right) / Double(labels.count)
    }

    func train(_ mlp: MLP, _ x: Tensor, _ y: [Int], steps: Int, lr: Float) -> Double {
        let opt = AdamW(parameters: mlp.parameters(), learningRate: lr, weightDecay: 0)
        for _ in 0..<steps {
            opt.zeroGrad()
            Tensor.crossEntropy(logits: mlp(x), targets: y).backward()
            opt.step()
        }
        return accuracy(Tensor.withoutGrad { mlp(x) }, y)
    }

    func testMLPLearnsXOR() {
        var g = SeededGenerator(seed: 42)
        let mlp = MLP([2, 8, 2], activation: .tanh, generator: &g)
        let x = Tensor([0, 0, 0, 1, 1, 0, 1, 1], shape: [4, 2])
        XCTAssertEqual(train(mlp, x, [0, 1, 1, 0], steps: 300, lr: 0.05), 1.0)
    }

    func testMLPLearnsSpiral() {
        // CS231n's three-arm spiral: 100 points per class, radius 0..1, angle 4 per unit radius plus noise.
        var g = SeededGenerator(seed: 7)
        var xs: [Float] = [], ys: [Int] = []
        for c in 0..<3 {
            for i in 0..<100 {
                let r = Double(i) / 99
                let t = Double(c) * 4 + r * 4 + g.normal() * 0.2
                xs += [Float(r * Foundation.sin(t)), Float(r * Foundation.cos(t))]
                ys.append(c)
            }
        }
        let mlp = MLP([2, 64, 3], activation: .relu, generator: &g)
        let acc = train(mlp, Tensor(xs, shape: [300, 2]), ys, steps: 1500, lr: 0.02)
        XCTAssertGreaterThan(acc, 0.98)
    }
}
