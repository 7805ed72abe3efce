import Common
import Foundation
import XCTest
@testable import Tensors

/// The smooth ops a GNN needs for fast-converging integrated gradients: SiLU (plain and fused into linear
/// and the residual LayerNorm update), fused GELU linear, and log-mean-exp segment pooling.
final class SmoothOpTests: XCTestCase {
    func assertClose(_ a: Tensor, _ b: Tensor, _ accuracy: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, file: file, line: line)
        for i in 0..<min(a.count, b.count) { XCTAssertEqual(a.data[i], b.data[i], accuracy: accuracy, "element \(i)", file: file, line: line) }
    }

    func testSiLUValuesAndGradient() {
        let x = Tensor([0, 1, -2, 3.5], shape: [4])
        let y = x.silu()
        let expected = [0, 1 / (1 + exp(-1.0)), -2 / (1 + exp(2.0)), 3.5 / (1 + exp(-3.5))].map { Float($0) }
        for i in 0..<4 { XCTAssertEqual(y.data[i], expected[i], accuracy: 1e-6) }
        XCTAssertEqual(Activation.silu.apply(x).array, y.array)
        XCTAssertEqual(Activation(rawValue: "silu"), .silu)
    }

    func testSiLUGradientAgainstFiniteDifferences() {
        let x = randomTensor([4, 6], seed: 2, std: 2)
        checkGradients([x], step: 1e-3, tolerance: 5e-3) { x.silu() }
    }

    /// linear + GELU / SiLU as one op equals linear then the activation, with and without a recorded graph,
    /// and its gradients (input, weight, bias) match finite differences.
    func testFusedSmoothLinearMatchesUnfusedDefinitionAndGradients() {
        let x = randomTensor([5, 4], seed: 61), w = randomTensor([3, 4], seed: 62), b = randomTensor([3], seed: 63)
        for act in [Activation.gelu, .silu] {
            let ref = act.apply(Tensor.linear(x, weight: w, bias: b))
            assertClose(Tensor.linear(x, weight: w, bias: b, activation: act), ref)
            assertClose(Tensor.withoutGrad { Tensor.linear(x, weight: w, bias: b, activation: act) }, ref)
            assertClose(Tensor.linear(x, weight: w, bias: nil, activation: act), act.apply(Tensor.linear(x, weight: w, bias: nil)))
            checkGradients([x, w, b], step: 1e-3, tolerance: 5e-3) { Tensor.linear(x, weight: w, bias: b, activation: act) }
        }
    }

    func testResidualLayerNormWithSiLU() {
        let r = randomTensor([4, 6], seed: 51), gamma = randomTensor([6], seed: 53), beta = randomTensor([6], seed: 54)
        let x = randomTensor([4, 6], seed: 52)
        assertClose(Tensor.residualLayerNorm(r, x, gamma: gamma, beta: beta, activation: .silu),
                    r + Tensor.layerNorm(x, gamma: gamma, beta: beta).silu())
        checkGradients([r, x, gamma, beta], step: 1e-3, tolerance: 5e-3) {
            Tensor.residualLayerNorm(r, x, gamma: gamma, beta: beta, activation: .silu)
        }
    }

    /// Known values: a two-row segment gives log((e^a + e^b) / 2) per column; one row gives itself; an empty
    /// segment gives 0; large inputs do not overflow; it lies between the mean and the max and approaches
    /// them as the sharpness goes to 0 and to infinity.
    func testSegmentLogMeanExpValues() {
        // Rows 0, 1 -> segment 0; row 2 -> segment 2; segment 1 empty.
        let x = Tensor([1, -2, 3, 0.5, 1000, 1001], shape: [3, 2])
        let seg = [0, 0, 2]
        let y = x.segmentLogMeanExp(seg, segments: 3)
        XCTAssertEqual(y.shape, [3, 2])
        XCTAssertEqual(y.data[0], Float(log((exp(1.0) + exp(3.0)) / 2)), accuracy: 1e-5)
        XCTAssertEqual(y.data[1], Float(log((exp(-2.0) + exp(0.5)) / 2)), accuracy: 1e-5)
        XCTAssertEqual(y.data[2], 0); XCTAssertEqual(y.data[3], 0)
        XCTAssertEqual(y.data[4], 1000, accuracy: 1e-3); XCTAssertEqual(y.data[5], 1001, accuracy: 1e-3)
        // beta = 2: (1/2) log((e^2 + e^6) / 2).
        let y2 = x.segmentLogMeanExp(seg, segments: 3, sharpness: 2)
        XCTAssertEqual(y2.data[0], Float(0.5 * log((exp(2.0) + exp(6.0)) / 2)), accuracy: 1e-5)
        var gen = SeededGenerator(seed: 5)
        let z = Tensor((0..<40).map { _ in Float(gen.normal()) }, shape: [20, 2])
        let s = (0..<20).map { $0 % 2 }
        let mean = z.segmentMean(s, segments: 2), mx = z.segmentMax(s, segments: 2)
        let mid = z.segmentLogMeanExp(s, segments: 2, sharpness: 1)
        for i in 0..<4 {
            XCTAssertGreaterThanOrEqual(mid.data[i], mean.data[i] - 1e-5)
            XCTAssertLessThanOrEqual(mid.data[i], mx.data[i] + 1e-5)
        }
        assertClose(z.segmentLogMeanExp(s, segments: 2, sharpness: 1e-3), mean, 1e-2)
        assertClose(z.segmentLogMeanExp(s, segments: 2, sharpness: 100), mx, 0.03)
    }

    func testSegmentLogMeanExpGradient() {
        let x = randomTensor([7, 3], seed: 9, std: 1.5)
        let seg = [2, 0, 2, 2, 0, 3, 2]  // segment 1 empty
        for beta: Float in [1, 3] {
            checkGradients([x], step: 1e-3, tolerance: 5e-3) { x.segmentLogMeanExp(seg, segments: 4, sharpness: beta) }
        }
        // The gradient of each output is a softmax over its segment: the column sums of dx are 1 per segment.
        x.dropGrad()
        let y = x.segmentLogMeanExp(seg, segments: 4)
        y.backward(seed: [Float](repeating: 1, count: y.count))
        let g = x.gradArray
        for (segment, rows) in [(0, [1, 4]), (2, [0, 2, 3, 6]), (3, [5])] {
            for j in 0..<3 { XCTAssertEqual(rows.reduce(Float(0)) { $0 + g[$1 * 3 + j] }, 1, accuracy: 1e-5, "segment \(segment)") }
        }
    }
}
