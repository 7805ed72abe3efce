import XCTest
@testable import VesselGraph

/// Rim completion on known profiles: it adds exactly the neighbours that reach the given fraction of the way
/// from the local floor to their brightest vessel neighbour, one pixel deep, and nothing on flat images.
final class VesselRimTests: XCTestCase {
    /// A vertical vessel with a Gaussian profile (peak 1 above a floor of 0.2, sigma 2 px) centred at x = 20.
    func profile(_ w: Int, _ h: Int) -> [Float] {
        (0..<(w * h)).map { p in
            let d = Float(p % w - 20)
            return 0.2 + exp(-d * d / 8)
        }
    }

    func testAddsTheHalfMaximumNeighboursOnly() {
        let w = 41, h = 12
        let g = profile(w, h)
        // The thresholded core: |x - 20| <= 1 (values 1.08 and 1.2).
        let mask: [UInt8] = (0..<(w * h)).map { abs($0 % w - 20) <= 1 ? 1 : 0 }
        // Floor window 12 px reaches the 0.2 floor everywhere near the vessel.
        let out = VesselRim.complete(mask, denoised: g, width: w, height: h, floorRadiusPX: 12, fraction: 0.5)
        for p in 0..<(w * h) {
            let x = p % w
            // Neighbours at |dx| = 2: exp(-4/8) = 0.61 of the edge pixel's exp(-1/8) = 0.88 above the floor:
            // ratio 0.69 >= 0.5, so added. |dx| = 3 is not adjacent to the original mask: never added.
            let expected: UInt8 = abs(x - 20) <= 2 ? 1 : 0
            XCTAssertEqual(out[p], expected, "x \(x)")
        }
        // A stricter fraction (0.75 > 0.69) adds nothing.
        let strict = VesselRim.complete(mask, denoised: g, width: w, height: h, floorRadiusPX: 12, fraction: 0.75)
        XCTAssertEqual(strict, mask)
        // Fraction 0 switches it off.
        XCTAssertEqual(VesselRim.complete(mask, denoised: g, width: w, height: h, floorRadiusPX: 12, fraction: 0), mask)
    }

    func testFlatImageAndEmptyMaskAddNothing() {
        let w = 16, h = 16
        var mask = [UInt8](repeating: 0, count: w * h)
        let flat = [Float](repeating: 0.5, count: w * h)
        XCTAssertEqual(VesselRim.complete(mask, denoised: flat, width: w, height: h, floorRadiusPX: 3, fraction: 0.6), mask)
        // A mask on a flat image: the neighbours are not brighter than the floor relative to the vessel (peak =
        // floor), so nothing grows.
        mask[8 * w + 8] = 1
        XCTAssertEqual(VesselRim.complete(mask, denoised: flat, width: w, height: h, floorRadiusPX: 3, fraction: 0.6), mask)
    }

    func testMinimumFilterMatchesBruteForce() {
        for (w, h) in [(13, 9), (1, 5), (2, 7), (6, 1), (37, 11), (24, 17), (9, 30)] {   // 8-lane bodies and tails
            let a: [Float] = (0..<(w * h)).map { Float(($0 * 7919) % 101) }
            for r in 1...4 {
                let f = VesselRim.minimumFilter(a, width: w, height: h, radius: r)
                for y in 0..<h {
                    for x in 0..<w {
                        var m = Float.infinity
                        for yy in max(0, y - r)...min(h - 1, y + r) { for xx in max(0, x - r)...min(w - 1, x + r) { m = min(m, a[yy * w + xx]) } }
                        XCTAssertEqual(f[y * w + x], m, "\(w)x\(h) r \(r) at \(x),\(y)")
                    }
                }
            }
        }
    }
}
