import Foundation
import XCTest
@testable import Tensors

/// The eight-lane exp, GELU and softmax against their scalar versions, value for value.
final class VectorKernelTests: XCTestCase {
    func testEightLaneExpEqualsScalarExp() {
        var xs: [Float] = [-200, -87.31, -87.3, -50, -1e-3, 0, 1e-3, 1, 10, 88.7, 88.72, 88.73, 200, -.infinity, .infinity]
        var x: Float = -90
        while x < 90 { xs.append(x); x += 0.0371 }
        while xs.count % 8 != 0 { xs.append(0.5) }
        for i in stride(from: 0, to: xs.count, by: 8) {
            let v = SIMD8<Float>(xs[i..<(i + 8)])
            let e = Kernels.exp(v)
            for l in 0..<8 { XCTAssertEqual(e[l].bitPattern, Kernels.exp(v[l]).bitPattern, "exp(\(v[l]))") }
        }
    }

    func testGELUVectorEqualsScalarIncludingTail() {
        let n = 8 * 40 + 5
        let x = (0..<n).map { Float($0 - n / 2) * 0.031 }
        var y = [Float](repeating: 0, count: n), ref = y
        x.withUnsafeBufferPointer { xb in
            y.withUnsafeMutableBufferPointer { Kernels.geluVector(xb.baseAddress!, $0.baseAddress!, count: n) }
            ref.withUnsafeMutableBufferPointer { Kernels.gelu(xb.baseAddress!, $0.baseAddress!, count: n) }
        }
        XCTAssertEqual(y, ref)
    }

    func testSoftmaxVectorEqualsScalarCausalAndFull() {
        let (rows, cols) = (7, 21)
        let x = randomTensor([rows, cols], seed: 81).array.map { $0 * 4 }
        for offset in [nil, 0, 3] as [Int?] {
            var y = [Float](repeating: -1, count: rows * cols), ref = y
            x.withUnsafeBufferPointer { xb in
                y.withUnsafeMutableBufferPointer {
                    Kernels.softmaxRowsVector(xb.baseAddress!, $0.baseAddress!, rows: rows, cols: cols, causalOffset: offset)
                }
                let valid: ((Int) -> Int)? = offset.map { o in { r in min(cols, o + r + 1) } }
                ref.withUnsafeMutableBufferPointer {
                    Kernels.softmaxRows(xb.baseAddress!, $0.baseAddress!, rows: rows, cols: cols, validCols: valid)
                }
            }
            XCTAssertEqual(y, ref, "causal offset \(String(describing: offset))")
        }
    }

    /// `linear(activation: .gelu)` is `linearGELU`: equal values and gradients, and the no-graph path (which
    /// keeps nothing) gives the same values.
    func testLinearActivationGELUIsLinearGELU() {
        let x = randomTensor([5, 6], seed: 82), w = randomTensor([4, 6], seed: 83), b = randomTensor([4], seed: 84)
        for t in [x, w, b] { t.requiresGrad = true }
        let y1 = Tensor.linear(x, weight: w, bias: b, activation: .gelu)
        (y1 * y1).sum().backward()
        let g1 = [x, w, b].map(\.gradArray)
        for t in [x, w, b] { t.dropGrad() }
        let y2 = Tensor.linearGELU(x, weight: w, bias: b)
        (y2 * y2).sum().backward()
        XCTAssertEqual(y1.array, y2.array)
        XCTAssertEqual(g1, [x, w, b].map(\.gradArray))
        let y3 = Tensor.withoutGrad { Tensor.linearGELU(x, weight: w, bias: b) }
        XCTAssertEqual(y3.array, y1.array)
    }
}
