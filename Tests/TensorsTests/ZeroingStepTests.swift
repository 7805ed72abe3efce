import Common
import XCTest
@testable import Tensors

/// `step(zeroingGradients: true)` equals `step()` followed by `zeroGrad()`, for AdamW and SGD.
final class ZeroingStepTests: XCTestCase {
    func testAdamWAndSGDZeroingStepsMatchZeroGrad() {
        for useSGD in [false, true] {
            var g1 = SeededGenerator(seed: 5), g2 = SeededGenerator(seed: 5)
            let a = MLP([4, 8, 3], activation: .relu, generator: &g1), b = MLP([4, 8, 3], activation: .relu, generator: &g2)
            let stepA: () -> Void, stepB: () -> Void
            if useSGD {
                let oa = SGD(parameters: a.parameters(), learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3)
                let ob = SGD(parameters: b.parameters(), learningRate: 0.05, momentum: 0.9, weightDecay: 1e-3)
                stepA = { oa.step(); oa.zeroGrad() }; stepB = { ob.step(zeroingGradients: true) }
            } else {
                let oa = AdamW(parameters: a.parameters(), learningRate: 0.01)
                let ob = AdamW(parameters: b.parameters(), learningRate: 0.01)
                stepA = { oa.step(); oa.zeroGrad() }; stepB = { ob.step(zeroingGradients: true) }
            }
            var gx = SeededGenerator(seed: 6)
            let x = Tensor.randn([16, 4], generator: &gx)
            let y = (0..<16).map { $0 % 3 }
            for _ in 0..<5 {
                Tensor.crossEntropy(logits: a(x), targets: y).backward(); stepA()
                Tensor.crossEntropy(logits: b(x), targets: y).backward(); stepB()
            }
            for (pa, pb) in zip(a.parameters(), b.parameters()) {
                XCTAssertEqual(pa.array, pb.array, useSGD ? "SGD" : "AdamW")
                XCTAssertEqual(pb.gradArray, [Float](repeating: 0, count: pb.count))
            }
        }
    }
}
