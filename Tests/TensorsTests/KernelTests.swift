import Foundation
import XCTest
@testable import Tensors

/// The arithmetic-only exp and tanh the vectorised kernels use, against libm in Double.
final class KernelTests: XCTestCase {
    func testExpIsAccurateOverTheFloatRange() {
        var worst: Double = 0
        var x: Float = -87
        while x < 88.7 {
            let ref = Foundation.exp(Double(x))
            worst = max(worst, abs(Double(Kernels.exp(x)) - ref) / ref)
            x += 0.0137
        }
        XCTAssertLessThan(worst, 5e-7, "worst relative error of Kernels.exp")
        XCTAssertEqual(Kernels.exp(0), 1)
        XCTAssertEqual(Kernels.exp(-100), 0)
        XCTAssertEqual(Kernels.exp(-.infinity), 0)
        XCTAssertEqual(Kernels.exp(100), .infinity)
    }

    func testFastTanhAbsoluteError() {
        var worst: Double = 0
        var u: Float = -12
        while u < 12 {
            worst = max(worst, abs(Double(Kernels.fastTanh(u)) - Foundation.tanh(Double(u))))
            u += 0.001
        }
        XCTAssertLessThan(worst, 5e-7)
        XCTAssertEqual(Kernels.fastTanh(50), 1)
        XCTAssertEqual(Kernels.fastTanh(-50), -1)
    }
}

/// The raw KV-cache attention step agrees with the autodiff attention op.
final class CachedAttentionTests: XCTestCase {
    func testMatchesFusedAttentionAtEveryPosition() {
        let (t, heads, hd) = (7, 3, 4)
        let c = heads * hd
        let qkv = randomTensor([1, t, 3 * c], seed: 60)
        let full = Tensor.causalSelfAttention(qkv, heads: heads)
        var out = [Float](repeating: 0, count: c), scratch = [Float](repeating: 0, count: t)
        let base = qkv.data.baseAddress!
        for pos in 0..<t {
            Kernels.cachedAttention(query: base + pos * 3 * c, keys: base + c, values: base + 2 * c, rowStride: 3 * c,
                                    positions: pos + 1, heads: heads, headDim: hd, out: &out, scratch: &scratch)
            for i in 0..<c { XCTAssertEqual(out[i], full.data[pos * c + i], accuracy: 1e-5, "position \(pos)") }
        }
    }
}

/// The buffer-pointer entry points agree with the tensor ops.
final class BufferKernelTests: XCTestCase {
    func testBufferKernelsMatchOps() {
        let x = randomTensor([3, 8], seed: 70), g = randomTensor([8], seed: 71), b = randomTensor([8], seed: 72)
        var y = x.array
        y.withUnsafeMutableBufferPointer { Kernels.softmax($0, cols: 8) }
        XCTAssertEqual(y, x.softmax().array)
        y.withUnsafeMutableBufferPointer { yb in
            Kernels.layerNorm(UnsafeBufferPointer(x.data), into: yb, gamma: UnsafeBufferPointer(g.data), beta: UnsafeBufferPointer(b.data))
        }
        XCTAssertEqual(y, Tensor.layerNorm(x, gamma: g, beta: b).array)
        y = x.array
        y.withUnsafeMutableBufferPointer { Kernels.gelu($0) }
        XCTAssertEqual(y, x.gelu().array)
        let w = randomTensor([5, 8], seed: 73)
        var v = [Float](repeating: 0, count: 5)
        v.withUnsafeMutableBufferPointer { BLAS.gemv(UnsafeBufferPointer(w.data), rows: 5, cols: 8, x: UnsafeBufferPointer(rebasing: x.data[0..<8]), into: $0) }
        let ref = Tensor.linear(x.slice(axis: 0, 0..<1), weight: w, bias: nil).array
        for i in 0..<5 { XCTAssertEqual(v[i], ref[i], accuracy: 1e-5) }
        var c = [Float](repeating: 0, count: 15)
        c.withUnsafeMutableBufferPointer { BLAS.gemm(UnsafeBufferPointer(x.data), UnsafeBufferPointer(w.data), into: $0, m: 3, n: 5, k: 8, transposeB: true) }
        let refAll = Tensor.linear(x, weight: w, bias: nil).array
        for i in 0..<15 { XCTAssertEqual(c[i], refAll[i], accuracy: 1e-5) }
    }
}

/// Large products are split over the cores by BLAS.sgemm; the split must not change the result.
final class SplitGemmTests: XCTestCase {
    func testSplitMatchesUnsplitForAllTransposesAndBothSplitAxes() {
        XCTAssertGreaterThanOrEqual(300 * 200 * 64, BLAS.splitMinMultiplyAdds)
        for (m, n, k) in [(300, 200, 64), (64, 400, 100)] {  // row split, then column split
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a = randomTensor(ta ? [k, m] : [m, k], seed: 80), b = randomTensor(tb ? [n, k] : [k, n], seed: 81)
                let c0 = randomTensor([m, n], seed: 82), c1 = c0.detached()
                BLAS.sgemm(split: false, transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5,
                           a: a.data.baseAddress!, b: b.data.baseAddress!, beta: 0.25, c: c0.data.baseAddress!)
                BLAS.sgemm(split: true, transA: ta, transB: tb, m: m, n: n, k: k, alpha: 0.5,
                           a: a.data.baseAddress!, b: b.data.baseAddress!, beta: 0.25, c: c1.data.baseAddress!)
                var worst: Float = 0
                for i in 0..<(m * n) { worst = max(worst, abs(c0.data[i] - c1.data[i])) }
                XCTAssertLessThan(worst, 1e-4, "m \(m) n \(n) k \(k) transA \(ta) transB \(tb)")
                // And against a plain triple loop on a few entries.
                for (i, j) in [(0, 0), (m - 1, n - 1), (m / 2, n / 3)] {
                    var s: Float = 0
                    for p in 0..<k {
                        let av = ta ? a.data[p * m + i] : a.data[i * k + p]
                        let bv = tb ? b.data[j * k + p] : b.data[p * n + j]
                        s += av * bv
                    }
                    XCTAssertEqual(c1.data[i * n + j], 0.5 * s + 0.25 * randomTensor([m, n], seed: 82).data[i * n + j],
                                   accuracy: 1e-3)
                }
            }
        }
    }
}
