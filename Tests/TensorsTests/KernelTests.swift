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
