import Common
import Foundation
import XCTest
@testable import Tensors

/// The hand-vectorised SiLU ops (SiLUKernels.swift, SmoothLayers.swift) and the 8-lane log-mean-exp: equal
/// to the scalar definitions, and gradients against finite differences. Widths 19 and 24 exercise both the
/// 8-lane loops and their scalar tails.
final class SiLUKernelTests: XCTestCase {
    func assertClose(_ a: Tensor, _ b: Tensor, _ accuracy: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, file: file, line: line)
        for i in 0..<min(a.count, b.count) { XCTAssertEqual(a.data[i], b.data[i], accuracy: accuracy, "element \(i)", file: file, line: line) }
    }

    /// The eight-lane exp is the scalar Kernels.exp lane by lane, bit for bit, including the clamped tails; sigmoid8
    /// saturates to exactly 0 and 1 without NaN.
    func testVectorExpIsBitIdenticalToScalarExp() {
        var values: [Float] = [-1000, -100, -87.4, -87.3, -87.2, -20, -1, -0.5, 0, 1e-8, 0.3465, 0.5, 1, 10, 88.7, 88.72, 88.8, 1000]
        var gen = SeededGenerator(seed: 71)
        for _ in 0..<206 { values.append(Float(gen.uniform(-90, 90))) }
        XCTAssertEqual(values.count % 8, 0)
        values.withUnsafeBufferPointer { v in
            for o in stride(from: 0, to: v.count, by: 8) {
                let e = Kernels.exp(Kernels.load8(v.baseAddress! + o))
                for l in 0..<8 { XCTAssertEqual(e[l].bitPattern, Kernels.exp(v[o + l]).bitPattern, "exp(\(v[o + l]))") }
                let s = Kernels.sigmoid8(Kernels.load8(v.baseAddress! + o))
                for l in 0..<8 {
                    XCTAssertFalse(s[l].isNaN)
                    XCTAssertEqual(s[l], Float(1 / (1 + Foundation.exp(-Double(v[o + l])))), accuracy: 1e-6)
                }
            }
        }
        XCTAssertEqual(Kernels.sigmoid8(Kernels.V8(repeating: -200))[0], 0)
        XCTAssertEqual(Kernels.sigmoid8(Kernels.V8(repeating: 200))[0], 1)
    }

    /// linearSiLU = linear then silu, recorded or not, with and without bias; gradients to x, W and b.
    func testLinearSiLUMatchesUnfusedAndFiniteDifferences() {
        for (n, seed) in [(3, UInt64(80)), (19, 81), (24, 82)] {
            let x = randomTensor([5, 7], seed: seed, std: 2), w = randomTensor([n, 7], seed: seed + 10), b = randomTensor([n], seed: seed + 20)
            let ref = Tensor.linear(x, weight: w, bias: b).silu()
            assertClose(Tensor.linearSiLU(x, weight: w, bias: b), ref)
            assertClose(Tensor.withoutGrad { Tensor.linearSiLU(x, weight: w, bias: b) }, ref)
            assertClose(Tensor.linearSiLU(x, weight: w, bias: nil), Tensor.linear(x, weight: w, bias: nil).silu())
            checkGradients([x, w, b], step: 1e-3, tolerance: 5e-3) { Tensor.linearSiLU(x, weight: w, bias: b) }
        }
    }

    /// The vectorised residual + SiLU(LayerNorm) equals its definition and its gradients (residual, x, gamma,
    /// beta) match finite differences; with gamma and beta frozen (no parameter sums) dx is unchanged.
    func testResidualLayerNormSiLUVectorPathAndFrozenParameters() {
        for cols in [19, 24] {
            let r = randomTensor([6, cols], seed: 90), x = randomTensor([6, cols], seed: 91, std: 2)
            let gamma = randomTensor([cols], seed: 92), beta = randomTensor([cols], seed: 93)
            assertClose(Tensor.residualLayerNorm(r, x, gamma: gamma, beta: beta, activation: .silu),
                        r + Tensor.layerNorm(x, gamma: gamma, beta: beta).silu())
            checkGradients([r, x, gamma, beta], step: 1e-3, tolerance: 5e-3) {
                Tensor.residualLayerNorm(r, x, gamma: gamma, beta: beta, activation: .silu)
            }
            let dxAll = x.gradArray
            gamma.requiresGrad = false; beta.requiresGrad = false
            x.dropGrad()
            let y = Tensor.residualLayerNorm(r, x, gamma: gamma, beta: beta, activation: .silu)
            var gen = SeededGenerator(seed: 977)  // the seed checkGradients weights the outputs with
            y.backward(seed: (0..<y.count).map { _ in Float(gen.uniform(-1, 1)) })
            for i in 0..<x.count { XCTAssertEqual(x.gradArray[i], dxAll[i], accuracy: 1e-5) }
        }
    }

    /// log-mean-exp pooling with rows of 19 and 24 columns (vector loops plus tail): values against a Double
    /// reference and gradients against finite differences.
    func testSegmentLogMeanExpVectorWidths() {
        for cols in [19, 24] {
            let x = randomTensor([9, cols], seed: 95, std: 1.5)
            let seg = [2, 0, 2, 2, 0, 3, 2, 0, 3]  // segment 1 empty
            let y = x.segmentLogMeanExp(seg, segments: 4, sharpness: 2)
            for g in 0..<4 {
                let rows = seg.indices.filter { seg[$0] == g }
                for j in 0..<cols {
                    let ref = rows.isEmpty ? 0 : 0.5 * Foundation.log(rows.map { Foundation.exp(2 * Double(x.data[$0 * cols + j])) }.reduce(0, +) / Double(rows.count))
                    XCTAssertEqual(Double(y.data[g * cols + j]), ref, accuracy: 1e-5)
                }
            }
            checkGradients([x], step: 1e-3, tolerance: 5e-3) { x.segmentLogMeanExp(seg, segments: 4, sharpness: 2) }
        }
    }
}
