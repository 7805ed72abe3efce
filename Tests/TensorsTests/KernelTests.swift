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
