import Common
import XCTest
@testable import Tensors

/// Compares the analytic gradients of `f` with respect to `inputs` against central finite differences.
///
/// The scalar checked is L = sum(f() * R) with a fixed random R, so every output element contributes with a
/// different weight (a plain sum would hide errors that cancel). L is accumulated in Double; the step is
/// large enough (default 1e-2) that Float32 rounding in f is small against the difference. Passes when the
/// relative error ||analytic - numeric|| / max(||analytic||, ||numeric||) is below `tolerance` for every
/// input, and requires a non-zero gradient somewhere so the check cannot pass vacuously.
func checkGradients(_ inputs: [Tensor], step: Float = 1e-2, tolerance: Double = 1e-2,
                    file: StaticString = #filePath, line: UInt = #line, _ f: () -> Tensor) {
    for t in inputs { t.requiresGrad = true; t.dropGrad() }
    let out = f()
    var gen = SeededGenerator(seed: 977)
    let r = (0..<out.count).map { _ in Float(gen.uniform(-1, 1)) }
    let loss = (out * Tensor(r, shape: out.shape)).sum()
    loss.backward()
    func lossValue() -> Double {
        let o = f()
        var s: Double = 0
        for i in 0..<o.count { s += Double(o.data[i]) * Double(r[i]) }
        return s
    }
    var anyNonZero = false
    for (k, t) in inputs.enumerated() {
        let analytic = t.gradArray
        var numeric = [Double](repeating: 0, count: t.count)
        for i in 0..<t.count {
            let v = t.data[i]
            t.data[i] = v + step
            let lp = lossValue()
            t.data[i] = v - step
            let lm = lossValue()
            t.data[i] = v
            numeric[i] = (lp - lm) / (2 * Double(step))
        }
        var diff: Double = 0, na: Double = 0, nn: Double = 0
        for i in 0..<t.count {
            let a = Double(analytic[i])
            diff += (a - numeric[i]) * (a - numeric[i]); na += a * a; nn += numeric[i] * numeric[i]
        }
        let denom = max(na.squareRoot(), nn.squareRoot())
        if denom > 1e-6 { anyNonZero = true }
        let rel = denom > 1e-6 ? diff.squareRoot() / denom : diff.squareRoot()
        XCTAssertLessThan(rel, tolerance, "input \(k) (shape \(t.shape)): relative gradient error \(rel); "
            + "analytic \(analytic.prefix(6)), numeric \(numeric.prefix(6).map { Float($0) })", file: file, line: line)
    }
    XCTAssertTrue(anyNonZero, "all gradients are zero: the check is vacuous", file: file, line: line)
}

/// A seeded N(0, 1) tensor.
func randomTensor(_ shape: [Int], seed: UInt64, std: Float = 1) -> Tensor {
    var g = SeededGenerator(seed: seed)
    return Tensor.randn(shape, std: std, generator: &g)
}

/// A tensor whose entries are a seeded permutation of well-separated values (spacing 0.13), so maxima and
/// kinks are never within a finite-difference step of a tie.
func separatedTensor(_ shape: [Int], seed: UInt64) -> Tensor {
    let n = shape.reduce(1, *)
    var g = SeededGenerator(seed: seed)
    var values = (0..<n).map { Float($0) * 0.13 - Float(n) * 0.065 + 0.031 }
    for i in stride(from: n - 1, to: 0, by: -1) { values.swapAt(i, g.int(below: i + 1)) }
    return Tensor(values, shape: shape)
}

/// A seeded tensor with |x| >= 0.1, for functions with a kink at 0.
func awayFromZero(_ shape: [Int], seed: UInt64) -> Tensor {
    let t = randomTensor(shape, seed: seed)
    for i in 0..<t.count where abs(t.data[i]) < 0.1 { t.data[i] = t.data[i] < 0 ? -0.1 - t.data[i] : 0.1 + t.data[i] }
    return t
}
