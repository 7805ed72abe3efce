import Common
import XCTest
@testable import VesselGraph

/// The box row pass scans four rows together and takes interior differences eight at a time; its output must be
/// bit-identical to the plain one-row running sum (graph JSON is compared byte for byte across versions).
final class GaussianBlurTests: XCTestCase {
    /// The plain running sum: `acc * norm`, then `acc += s[x + r + 1] - s[x - r]` with clamped indices.
    private func referenceBoxRows(_ s: [Float], _ w: Int, _ h: Int, _ r: Int) -> [Float] {
        let norm = 1 / Float(2 * r + 1)
        var d = [Float](repeating: 0, count: w * h)
        for y in 0..<h {
            let row = y * w
            var acc: Float = 0
            for i in -r...r { acc += s[row + min(w - 1, max(0, i))] }
            for x in 0..<w {
                d[row + x] = acc * norm
                acc += s[row + min(w - 1, x + r + 1)] - s[row + max(0, x - r)]
            }
        }
        return d
    }

    func testBoxRowsMatchThePlainRunningSumBitForBit() {
        var g = SeededGenerator(seed: 17)
        // Heights not a multiple of four, widths below, at and above 2r + 2, widths not a multiple of eight.
        for (w, h) in [(1, 1), (3, 5), (8, 4), (13, 7), (37, 9), (64, 3), (101, 6)] {
            let s = (0..<(w * h)).map { _ in Float(g.uniform()) }
            for r in [0, 1, 2, 5, 9, 40] {
                var d = [Float](repeating: -1, count: w * h)
                GaussianBlur.boxRows(s, &d, w, h, r)
                let want = referenceBoxRows(s, w, h, r)
                XCTAssertEqual(d.map(\.bitPattern), want.map(\.bitPattern), "w \(w) h \(h) r \(r)")
            }
        }
    }
}
