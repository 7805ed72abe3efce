import Common
import Foundation
import Retina
import XCTest
@testable import VesselGraph

/// The image operations the pipeline is built from, against brute force or closed forms.
final class PrimitiveTests: XCTestCase {
    func testDistanceTransformMatchesBruteForce() {
        var rng = SeededGenerator(seed: 3)
        let w = 23, h = 17
        let src = (0..<(w * h)).map { _ in UInt8(rng.uniform() < 0.05 ? 1 : 0) }
        let d = DistanceTransform.squared(src, width: w, height: h)
        for p in 0..<(w * h) {
            var best = Float.infinity
            for q in 0..<(w * h) where src[q] != 0 {
                let dx = Float(p % w - q % w), dy = Float(p / w - q / w)
                best = min(best, dx * dx + dy * dy)
            }
            XCTAssertEqual(d[p], best)
        }
    }

    func testGaussianBlurKeepsConstantsAndMassAndHasTheRightWidth() {
        let w = 101, h = 101
        for sigma in [0.8, 5.0] {
            XCTAssertEqual(GaussianBlur.apply([Float](repeating: 0.3, count: w * h), width: w, height: h, sigmaPX: sigma)
                .allSatisfy { abs($0 - 0.3) < 1e-5 }, true)
            var impulse = [Float](repeating: 0, count: w * h)
            impulse[50 * w + 50] = 1
            let b = GaussianBlur.apply(impulse, width: w, height: h, sigmaPX: sigma)
            XCTAssertEqual(Double(b.reduce(0, +)), 1, accuracy: 1e-4)
            var varX = 0.0
            for y in 0..<h { for x in 0..<w { varX += Double(b[y * w + x]) * Double((x - 50) * (x - 50)) } }
            XCTAssertEqual(varX.squareRoot(), sigma, accuracy: 0.1 * sigma + 0.05)
        }
    }

    func testOtsuSplitsTwoLevels() {
        let v = [Float](repeating: 0.2, count: 100) + [Float](repeating: 0.7, count: 30)
        let t = OtsuThreshold.threshold(v)
        XCTAssertGreaterThan(t, 0.2)
        XCTAssertLessThanOrEqual(t, 0.7)
    }

    func testThinningGivesOnePixelWideTopologyPreservingLines() {
        var m = BinaryMask(width: 60, height: 60)
        GeometricPhantom.drawRing(&m, centre: (30, 30), inner: 15, outer: 22)
        let sk = Skeletonizer.thin(m.bits, width: 60, height: 60)
        // A ring thins to a closed curve: every pixel has exactly two neighbours, one component, one hole.
        for p in 0..<3600 where sk[p] != 0 {
            var n = 0
            for dy in -1...1 { for dx in -1...1 where dx != 0 || dy != 0 { n += Int(sk[(p / 60 + dy) * 60 + p % 60 + dx]) } }
            XCTAssertEqual(n, 2)
        }
        XCTAssertEqual(ComponentLabeling(sk, width: 60, height: 60, eightConnected: true).count, 1)
        let holes = ComponentLabeling(sk.map { $0 == 0 ? 1 : 0 }, width: 60, height: 60, eightConnected: false)
        XCTAssertEqual(holes.count, 2)
    }

    func testRegionShapeOfADisk() {
        let w = 80, r = 25.0
        var bits = [UInt8](repeating: 0, count: w * w)
        var pixels: [Int32] = []
        for p in 0..<(w * w) {
            let dx = Double(p % w) - 40, dy = Double(p / w) - 40
            if dx * dx + dy * dy <= r * r { bits[p] = 1; pixels.append(Int32(p)) }
        }
        let s = RegionShape(pixels: pixels, width: w, height: w) { bits[$0] != 0 }
        XCTAssertEqual(s.areaPX, Double.pi * r * r, accuracy: 0.02 * Double.pi * r * r)
        XCTAssertEqual(s.perimeterPX, 2 * Double.pi * r, accuracy: 0.08 * 2 * Double.pi * r)
        XCTAssertGreaterThan(s.circularity, 0.9)
        XCTAssertLessThan(s.eccentricity, 0.1)
        XCTAssertGreaterThan(s.solidity, 0.95)
        XCTAssertEqual(s.maxFeretPX, 2 * r + 1, accuracy: 1.5)
        XCTAssertEqual(s.majorAxisPX, 2 * r, accuracy: 1)
    }

    func testETDRSSectorsFollowLaterality() {
        let od = ETDRSGrid(centreX: 100, centreY: 100, pixelSizeMM: 0.01, laterality: .od)
        let os = ETDRSGrid(centreX: 100, centreY: 100, pixelSizeMM: 0.01, laterality: .os)
        let names = ETDRSGrid.sectorNames
        XCTAssertEqual(names[od.sector(x: 100, y: 100)], "C")
        XCTAssertEqual(names[od.sector(x: 100, y: 0)], "IS")     // 1 mm above: inner superior
        XCTAssertEqual(names[od.sector(x: 200, y: 100)], "IN")   // right of a right eye: nasal
        XCTAssertEqual(names[os.sector(x: 200, y: 100)], "IT")
        XCTAssertEqual(names[od.sector(x: 100, y: 300)], "OI")   // 2 mm below: outer inferior
        XCTAssertEqual(names[od.sector(x: 450, y: 100)], "X")
        XCTAssertEqual(ETDRSGrid.quadrantNames[od.quadrant(x: 150, y: 50)], "superonasal")
        XCTAssertEqual(ETDRSGrid.quadrantNames[os.quadrant(x: 150, y: 150)], "inferotemporal")
    }

    func testBoxCountingDimensionOfALineAndAFilledSquare() {
        let w = 256
        let line = (0..<w).map { Int32(128 * w + $0) }
        XCTAssertEqual(Biomarkers.boxCountingDimension(line, width: w, height: w), 1, accuracy: 0.05)
        let square = (0..<(w * w)).map { Int32($0) }
        XCTAssertEqual(Biomarkers.boxCountingDimension(square, width: w, height: w), 2, accuracy: 0.05)
    }

    /// Box counts derived level by level from the smallest boxes equal a direct count of the occupied boxes
    /// per size (the slope is then the same to the bit), on random sparse sets of odd-sized images.
    func testBoxCountingMatchesADirectCountPerSize() {
        func reference(_ pixels: [Int32], _ w: Int, _ h: Int) -> Double {
            var sizes: [Int] = []
            var s = 2
            while s <= min(w, h) / 4 { sizes.append(s); s *= 2 }
            guard !pixels.isEmpty, sizes.count >= 3 else { return 0 }
            var xs: [Double] = [], ys: [Double] = []
            for s in sizes {
                let boxes = Set(pixels.map { (Int($0) / w / s) * 100_000 + Int($0) % w / s })
                xs.append(log(1 / Double(s))); ys.append(log(Double(boxes.count)))
            }
            let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
            var num = 0.0, den = 0.0
            for i in 0..<xs.count { num += (xs[i] - mx) * (ys[i] - my); den += (xs[i] - mx) * (xs[i] - mx) }
            return den > 0 ? num / den : 0
        }
        var g = SeededGenerator(seed: 11)
        for (w, h) in [(37, 53), (64, 64), (101, 40), (303, 299)] {
            for density in [0.002, 0.05, 0.4] {
                let pixels = (0..<(w * h)).filter { _ in g.uniform() < density }.map { Int32($0) }
                XCTAssertEqual(Biomarkers.boxCountingDimension(pixels, width: w, height: h), reference(pixels, w, h),
                               "w \(w) h \(h) density \(density)")
            }
        }
    }
    /// Sector densities (computed with per-row and per-column terms) equal a direct per-pixel count with
    /// `ETDRSGrid.sector`, for an off-centre grid on a random mask, for both eyes.
    func testSectorDensitiesMatchPerPixelSectors() {
        var rng = SeededGenerator(seed: 3)
        let w = 97, h = 83
        let mask = (0..<(w * h)).map { _ in UInt8(rng.uniform() < 0.4 ? 1 : 0) }
        for lat in [VesselGraphConfig.Laterality.od, .os] {
            let grid = ETDRSGrid(centreX: 41.3, centreY: 47.8, pixelSizeMM: 0.05, laterality: lat)
            var inside = [Int](repeating: 0, count: 10), vessel = [Int](repeating: 0, count: 10)
            for y in 0..<h { for x in 0..<w { let s = grid.sector(x: Double(x), y: Double(y)); inside[s] += 1; vessel[s] += Int(mask[y * w + x]) } }
            let got = Biomarkers.sectorDensities(mask: mask, width: w, height: h, grid: grid)
            XCTAssertFalse(got.isEmpty)
            for (s, name) in ETDRSGrid.sectorNames.enumerated() {
                if let v = got["perfusion_density_" + name] { XCTAssertEqual(v, Double(vessel[s]) / Double(inside[s])) }
            }
        }
    }

    /// Radii by ring search equal the brute-force nearest background pixel (squared), near borders too.
    func testRingSearchMatchesBruteForce() {
        var rng = SeededGenerator(seed: 4)
        let w = 40, h = 31
        let mask = (0..<(w * h)).map { _ in UInt8(rng.uniform() < 0.93 ? 1 : 0) }
        let pixels = (0..<(w * h)).map(Int32.init)
        let maxPX = 6
        let got = DistanceTransform.squaredToBackground(at: pixels, mask: mask, width: w, height: h, maxPX: maxPX)
        for p in 0..<(w * h) {
            var best = maxPX * maxPX
            for q in 0..<(w * h) where mask[q] == 0 {
                let dx = q % w - p % w, dy = q / w - p / w
                if max(abs(dx), abs(dy)) <= maxPX { best = min(best, dx * dx + dy * dy) }
            }
            XCTAssertEqual(got[p], Float(best), "pixel \(p)")
        }
    }
    /// The one-buffer monotone chain gives the same points in the same order as separate lower and upper
    /// chains (the textbook form), on random integer-grid point sets with collinear and repeated points.
    func testConvexHullMatchesTwoChainReference() {
        func reference(_ p: [(Double, Double)]) -> [(Double, Double)] {
            guard p.count > 2 else { return p }
            func cross(_ o: (Double, Double), _ a: (Double, Double), _ b: (Double, Double)) -> Double {
                (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
            }
            var lower: [(Double, Double)] = [], upper: [(Double, Double)] = []
            for q in p {
                while lower.count >= 2 && cross(lower[lower.count - 2], lower[lower.count - 1], q) <= 0 { lower.removeLast() }
                lower.append(q)
            }
            for q in p.reversed() {
                while upper.count >= 2 && cross(upper[upper.count - 2], upper[upper.count - 1], q) <= 0 { upper.removeLast() }
                upper.append(q)
            }
            return Array(lower.dropLast() + upper.dropLast())
        }
        var rng = SeededGenerator(seed: 8)
        for trial in 0..<300 {
            let n = 3 + rng.int(below: 40)
            let pts = (0..<n).map { _ in (Double(rng.int(below: 9)) - 0.5, Double(rng.int(below: 9)) + 0.5) }
                .sorted { $0.1 != $1.1 ? $0.1 < $1.1 : $0.0 < $1.0 }
            let got = RegionShape.convexHull(sorted: pts), want = reference(pts)
            XCTAssertEqual(got.count, want.count, "trial \(trial)")
            for (a, b) in zip(got, want) { XCTAssertTrue(a == b, "trial \(trial)") }
        }
    }
}
