import Common
import XCTest
@testable import Tensors

final class OptimizerTests: XCTestCase {
    func testAdamWMatchesHandComputedTwoSteps() {
        let p = Tensor.parameter(Tensor([1, -2], shape: [2]))
        let opt = AdamW(parameters: [p], learningRate: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01)
        // Step 1: the bias-corrected moments are g and g^2, so the Adam term is sign(g):
        // p -= 0.1 * (sign(g) + 0.01 p)  ->  1 - 0.1 * 1.01 = 0.899,  -2 - 0.1 * (-1 - 0.02) = -1.898.
        p.gradBuffer()[0] = 0.5; p.gradBuffer()[1] = -1
        opt.step()
        XCTAssertEqual(p.data[0], 0.899, accuracy: 1e-6)
        XCTAssertEqual(p.data[1], -1.898, accuracy: 1e-6)
        // Step 2 with g = (0.1, 0.3); expected values worked out in Double from the update rule:
        // m = 0.9 m + 0.1 g, v = 0.999 v + 0.001 g^2, mhat = m / 0.19, vhat = v / 0.001999.
        p.gradBuffer()[0] = 0.1; p.gradBuffer()[1] = 0.3
        opt.step()
        func expected(_ p1: Double, _ g1: Double, _ g2: Double) -> Double {
            let m = 0.9 * (0.1 * g1) + 0.1 * g2, v = 0.999 * (0.001 * g1 * g1) + 0.001 * g2 * g2
            let mhat = m / (1 - 0.81), vhat = v / (1 - 0.999 * 0.999)
            return p1 - 0.1 * (mhat / (vhat.squareRoot() + 1e-8) + 0.01 * p1)
        }
        XCTAssertEqual(Double(p.data[0]), expected(0.899, 0.5, 0.1), accuracy: 1e-6)
        XCTAssertEqual(Double(p.data[1]), expected(-1.898, -1, 0.3), accuracy: 1e-6)
        XCTAssertEqual(Double(p.data[0]), 0.8177969063826518, accuracy: 1e-6)   // python3, same formula
        XCTAssertEqual(Double(p.data[1]), -1.8533171424282264, accuracy: 1e-6)
        XCTAssertEqual(opt.stepCount, 2)
    }

    func testSGDMomentum() {
        let p = Tensor.parameter(Tensor([1], shape: [1]))
        let opt = SGD(parameters: [p], learningRate: 0.1, momentum: 0.9)
        p.gradBuffer()[0] = 0.5; opt.step()   // buf 0.5, p 0.95
        p.zeroGrad(); p.gradBuffer()[0] = 0.1; opt.step()  // buf 0.55, p 0.895
        XCTAssertEqual(p.data[0], 0.895, accuracy: 1e-6)
    }

    func testClipGradNorm() {
        let a = Tensor.parameter(.zeros([2])), b = Tensor.parameter(.zeros([1]))
        a.gradBuffer()[0] = 3; a.gradBuffer()[1] = 0; b.gradBuffer()[0] = 4
        let norm = clipGradNorm([a, b], maxNorm: 1)
        XCTAssertEqual(norm, 5, accuracy: 1e-6)
        XCTAssertEqual(a.gradArray[0], 0.6, accuracy: 1e-5)
        XCTAssertEqual(b.gradArray[0], 0.8, accuracy: 1e-5)
        XCTAssertEqual(clipGradNorm([a, b], maxNorm: 10), 1, accuracy: 1e-5)  // below the cap: unchanged
        XCTAssertEqual(b.gradArray[0], 0.8, accuracy: 1e-5)
    }

    func testSchedules() {
        let c = CosineSchedule(base: 1, minimum: 0.1, warmupSteps: 10, totalSteps: 110)
        XCTAssertEqual(c.learningRate(step: 0), 0.1, accuracy: 1e-6)
        XCTAssertEqual(c.learningRate(step: 9), 1, accuracy: 1e-6)
        XCTAssertEqual(c.learningRate(step: 10), 1, accuracy: 1e-6)
        XCTAssertEqual(c.learningRate(step: 60), 0.55, accuracy: 1e-5)
        XCTAssertEqual(c.learningRate(step: 110), 0.1, accuracy: 1e-6)
        XCTAssertEqual(c.learningRate(step: 500), 0.1, accuracy: 1e-6)
        let e = ExponentialSchedule(base: 5e-3, gamma: 0.95)
        XCTAssertEqual(e.learningRate(epoch: 0), 5e-3, accuracy: 1e-9)
        XCTAssertEqual(e.learningRate(epoch: 2), 5e-3 * 0.9025, accuracy: 1e-9)
    }

    func testBatchNormRunningStatisticsUpdate() {
        let bn = BatchNorm(1, momentum: 0.5)
        _ = bn(Tensor([1, 3], shape: [2, 1]))  // mean 2, unbiased var 2
        XCTAssertEqual(bn.runningMean.data[0], 1, accuracy: 1e-6)
        XCTAssertEqual(bn.runningVar.data[0], 1.5, accuracy: 1e-6)
        _ = Tensor.withoutGrad { bn(Tensor([10, 30], shape: [2, 1])) }  // no-grad: statistics untouched
        XCTAssertEqual(bn.runningMean.data[0], 1, accuracy: 1e-6)
        let x = Tensor([10, 30], shape: [2, 1], requiresGrad: true)
        Tensor.withFrozenParameters { bn(x).square().sum().backward() }  // attribution mode: untouched too
        XCTAssertEqual(bn.runningMean.data[0], 1, accuracy: 1e-6)
        XCTAssertEqual(bn.runningVar.data[0], 1.5, accuracy: 1e-6)
        XCTAssertNil(bn.weight.grad)
        XCTAssertNotNil(x.grad)
    }
}
