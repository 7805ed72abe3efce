import Common
import Foundation
import XCTest
@testable import Retina

/// The macular large-vessel layout (temporal arcades), the perifoveal capillary ring at the FAZ border and
/// the healthy perfusion density, on simulated eyes and on the geometry that makes them.
final class MacularGeometryTests: XCTestCase {
    /// Polar angle (deg, 0..<360) and distance (mm) of a point around the fovea.
    func polar(_ x: Double, _ y: Double, _ fx: Double, _ fy: Double) -> (deg: Double, r: Double) {
        let dx = x - fx, dy = y - fy
        var a = Foundation.atan2(dy, dx) * 180 / Double.pi
        if a < 0 { a += 360 }
        return (a, (dx * dx + dy * dy).squareRoot())
    }

    func testArcadeTrunksArchAroundTheFoveaInsteadOfRadiatingTowardsIt() {
        // Inside a 6 mm field every trunk keeps 1.3-4.6 mm from the fovea and every main trunk sweeps through more than
        // 70 deg of polar angle; a vessel radiating towards the fovea would sweep almost no angle while its
        // distance fell. Superior trunks lie above the fovea, inferior below.
        for seed in UInt64(0)..<20 {
            var rng = SeededGenerator(seed: seed)
            let arc = MacularArcades(foveaX: 3, foveaY: 3, nasalSign: seed % 2 == 0 ? 1 : -1, stepMM: 0.02, rng: &rng)
            XCTAssertEqual(arc.trunks.count, 4)
            XCTAssertEqual(arc.trunks.filter { $0.kind == .artery }.count, 2)
            for (t, trunk) in arc.trunks.enumerated() {
                var angles: [Double] = [], radii: [Double] = []
                for k in 0..<trunk.x.count where abs(trunk.x[k] - 3) <= 3 && abs(trunk.y[k] - 3) <= 3 {
                    let p = polar(trunk.x[k], trunk.y[k], 3, 3)
                    angles.append(p.deg); radii.append(p.r)
                    // Superior arcade (first two trunks) above the fovea (y < 3, y down), inferior below.
                    if t < 2 { XCTAssertLessThan(trunk.y[k], 3) } else { XCTAssertGreaterThan(trunk.y[k], 3) }
                }
                // The main trunk of each arcade (0: superior, 2: inferior) crosses the field; its companion
                // (1, 3) runs 0.7-1.5 mm further out, so it may pass outside.
                if t % 2 == 0 { XCTAssertGreaterThan(angles.count, 100, "seed \(seed) trunk \(t) barely enters the field") }
                guard angles.count > 100 else { continue }
                // The main trunks arch; a companion often only cuts a corner of the field.
                if t % 2 == 0 { XCTAssertGreaterThan(angles.max()! - angles.min()!, 70, "seed \(seed) trunk \(t) does not arch") }
                XCTAssertGreaterThan(radii.min()!, 1.3, "seed \(seed) trunk \(t) runs into the macula")
                XCTAssertLessThan(radii.max()!, 4.6)   // companions run 0.7-1.5 mm outside the main trunk
                // Consecutive points one step apart: a continuous centreline.
                for k in 1..<trunk.x.count {
                    let d = ((trunk.x[k] - trunk.x[k - 1]) * (trunk.x[k] - trunk.x[k - 1]) + (trunk.y[k] - trunk.y[k - 1]) * (trunk.y[k] - trunk.y[k - 1])).squareRoot()
                    XCTAssertLessThan(d, 0.03)
                }
            }
        }
    }

    /// Pixels of `mask` that survive erosion by a 3 x 3 square: vessels at least 3 px wide.
    func thickCore(_ m: BinaryMask) -> [(x: Int, y: Int)] {
        var out: [(x: Int, y: Int)] = []
        let W = m.width
        for y in 1..<(m.height - 1) { for x in 1..<(W - 1) {
            var all = true
            for dy in -1...1 { for dx in -1...1 where m.bits[(y + dy) * W + x + dx] == 0 { all = false } }
            if all { out.append((x, y)) }
        } }
        return out
    }

    func testThickestVesselsOfSixMillimetreEyesArchAroundTheFovea() {
        // 6 mm / 400 px: the vessels at least 3 px (45 um) wide in the true mask are the arcade trunks and
        // their main branches. Most of them lie 1.3 mm or more from the fovea, and at that distance they
        // cover a wide range of polar angles above and below it (the arcs), not a few radial spokes.
        let config = SimulatorConfig(sizePX: 400, fovMM: 6)
        let eyes = SimulatorTests.eyes([(11, 0.1), (12, 0.2), (13, 0.5)], config: config)
        for e in eyes {
            let f = e.truth.eye.fazCenterMM, ps = config.pixelSizeMM
            let core = thickCore(e.vesselMask)
            XCTAssertGreaterThan(core.count, 500)
            var far = 0
            var bins = Set<Int>()
            for p in core {
                let q = polar((Double(p.x) + 0.5) * ps, (Double(p.y) + 0.5) * ps, f[0], f[1])
                if q.r >= 1.3 { far += 1; if q.r <= 3.0 { bins.insert(Int(q.deg / 10)) } }
            }
            XCTAssertGreaterThan(Double(far) / Double(core.count), 0.6, "thick vessels should sit on the arcades")
            XCTAssertGreaterThanOrEqual(bins.count, 20, "thick vessels cover \(bins.count) of 36 angle bins at 1.3-3 mm")
        }
    }

    func testHealthySuperficialPerfusionDensityIsInThePublishedRange() {
        // Perfusion density = fraction of vessel pixels in the true (half-maximum footprint) vessel mask of
        // a 3x3 mm superficial image; published healthy SVC values are about 0.40-0.50.
        let eyes = SimulatorTests.eyes((0..<6).map { (UInt64(600 + $0), 0.04 * Double($0)) })
        let pd = eyes.map(\.truth.perfusionDensity)
        let mean = pd.reduce(0, +) / Double(pd.count)
        XCTAssert((0.40...0.50).contains(mean), "healthy perfusion density \(pd)")
        for v in pd { XCTAssert((0.37...0.52).contains(v), "healthy perfusion density \(pd)") }
    }

    func testFAZBorderIsARingOfCapillaryLoops() {
        // The ring is on by default (SimulatorConfig.perifovealRing nil = on).
        let eyes = SimulatorTests.eyes([(21, 0.05), (22, 0.15), (23, 0.25), (24, 0.9)])
        for e in eyes {
            let W = e.fazMask.width
            // The FAZ's outer border pixels (outside the FAZ, 4-neighbour of it) touch the ring's vessel mask.
            var border = 0, onVessel = 0
            for y in 1..<(W - 1) { for x in 1..<(W - 1) where e.fazMask.bits[y * W + x] == 0 {
                let k = y * W + x
                if e.fazMask.bits[k - 1] + e.fazMask.bits[k + 1] + e.fazMask.bits[k - W] + e.fazMask.bits[k + W] > 0 {
                    border += 1
                    // The ring's half-maximum footprint starts within a pixel of the outline.
                    var hit = false
                    for dy in -1...1 { for dx in -1...1 where e.vesselMask.bits[k + dy * W + dx] != 0 { hit = true } }
                    if hit { onVessel += 1 }
                }
            } }
            XCTAssertGreaterThan(border, 50)
            // Healthy eyes: closed; in PDR, dropout opens gaps (there the truth follows the ring's course).
            let closed = e.truth.severity < 0.3 ? 0.9 : 0.6
            XCTAssertGreaterThan(Double(onVessel) / Double(border), closed, "the FAZ should be closed by a capillary ring")
            // The truth FAZ is what an annotator draws on the image: bounded by the innermost vessels, so
            // not one vessel-mask pixel lies inside it.
            var inside = 0
            for k in 0..<(W * W) where e.fazMask.bits[k] != 0 && e.vesselMask.bits[k] != 0 { inside += 1 }
            XCTAssertEqual(inside, 0, "vessel pixels inside the truth FAZ")
        }
        // The outline is scalloped at capillary scale: one inward loop every 50-110 um of perimeter.
        var rng = SeededGenerator(seed: 9)
        let faz = StarShape(centreX: 1.5, centreY: 1.5, areaMM2: 0.3, irregularity: 0, ovality: 0.02,
                            capillaryLoops: .init(lengthMM: 0.05...0.11, depthMM: 0.012), rng: &rng)
        var rngSmooth = SeededGenerator(seed: 9)
        let smooth = StarShape(centreX: 1.5, centreY: 1.5, areaMM2: 0.3, irregularity: 0, ovality: 0.02, rng: &rngSmooth)
        XCTAssertEqual(faz.areaMM2, 0.3, accuracy: 1e-4)
        var cusps = 0
        for i in 0..<720 {
            let a = faz.radiusMM[(i + 719) % 720], b = faz.radiusMM[i], c = faz.radiusMM[(i + 1) % 720]
            if b > a && b >= c { cusps += 1 }
        }
        let perimeter = faz.perimeterMM
        XCTAssert(Double(cusps) >= perimeter / 0.11 && Double(cusps) <= perimeter / 0.05 + 2, "\(cusps) loops on \(perimeter) mm")
        XCTAssertLessThan(faz.circularity, smooth.circularity)
    }

    func testCapillaryDensityTapersTowardsTheFAZ() {
        // Vessel-mask density 40-150 um outside the FAZ (beyond the ring) is below that 300-600 um out.
        let eyes = SimulatorTests.eyes([(31, 0.05), (32, 0.15), (33, 0.25), (34, 0.1)])
        var near = 0.0, far = 0.0
        for e in eyes {
            let f = e.truth.eye.fazCenterMM, ps = e.image.pixelSizeMM, W = e.image.width
            var faz = StarShapeProbe(mask: e.fazMask)
            var n = [0, 0], v = [0, 0]
            for y in 0..<W { for x in 0..<W {
                let d = faz.distanceOutsideMM(x, y, pixelSizeMM: ps, centre: f)
                let band = d > 0.04 && d < 0.15 ? 0 : (d > 0.3 && d < 0.6 ? 1 : -1)
                guard band >= 0 else { continue }
                n[band] += 1; v[band] += Int(e.vesselMask.bits[y * W + x])
            } }
            near += Double(v[0]) / Double(n[0]); far += Double(v[1]) / Double(n[1])
        }
        XCTAssertLessThan(near, far, "near-FAZ density \(near / 4) vs \(far / 4)")
    }
}

extension MacularGeometryTests {
    func testAnnotatedFAZStopsAtTheRingAndClosesItsGaps() {
        // A round outline (area 0.3 mm2) ringed by a 2 px vessel band 10-30 um outside it, with a 60 deg gap
        // (ring capillaries dropped out) opening onto vessel-free tissue; a vessel speck inside the FAZ.
        var rng = SeededGenerator(seed: 3)
        let faz = StarShape(centreX: 1.5, centreY: 1.5, areaMM2: 0.3, irregularity: 0, ovality: 0, rng: &rng)
        let W = 304, ps = 3.0 / 304
        var vessels = [UInt8](repeating: 0, count: W * W)
        for y in 0..<W { for x in 0..<W {
            let mx = (Double(x) + 0.5) * ps, my = (Double(y) + 0.5) * ps
            let e = faz.radialExcess(mx, my)
            let angle = Foundation.atan2(my - 1.5, mx - 1.5) * 180 / Double.pi
            if e >= 0.01 && e < 0.03 && !(angle > 0 && angle < 60) { vessels[y * W + x] = 1 }
        } }
        let speck = 152 * W + 152
        vessels[speck] = 1
        let region = OCTARenderer.annotatedFAZ(vessels: vessels, faz: faz, boundMM: 0.02, W: W, pixelSizeMM: ps)
        var count = 0, maxExcess = -1.0
        for y in 0..<W { for x in 0..<W where region[y * W + x] != 0 {
            count += 1
            if y * W + x != speck { XCTAssertEqual(vessels[y * W + x], 0, "FAZ pixel on a vessel at (\(x), \(y))") }
            maxExcess = max(maxExcess, faz.radialExcess((Double(x) + 0.5) * ps, (Double(y) + 0.5) * ps))
        } }
        // The gap does not leak: nothing beyond the ring's course (20 um out), the speck is filled in.
        XCTAssertLessThan(maxExcess, 0.02)
        XCTAssertEqual(region[speck], 1)
        // Area: the disc up to the ring's inner edge (10 um out), and up to 20 um in the gap, within 3%.
        let r0 = (0.3 / Double.pi).squareRoot()
        let expected = Double.pi * ((r0 + 0.01) * (r0 + 0.01) * 5 / 6 + (r0 + 0.02) * (r0 + 0.02) / 6)
        XCTAssertEqual(Double(count) * ps * ps, expected, accuracy: 0.03 * expected)
    }

    func testRingOffKeepsTheDrawnOutlineAsTruth() {
        let e = SimulatorTests.eyes([(41, 0.2)], config: SimulatorConfig(perifovealRing: false))[0]
        let on = SimulatorTests.eyes([(41, 0.2)])[0]
        // Off: the truth is the outline itself (some vessel footprint may overlap it); on: the region inside
        // the ring, a little larger than the outline (the ring's inner edge lies ~8 um outside it).
        XCTAssertGreaterThan(on.truth.fazAreaMM2, e.truth.fazAreaMM2)
        XCTAssertLessThan(on.truth.fazAreaMM2, 1.25 * e.truth.fazAreaMM2)
    }
}

/// Radial distance of a pixel outside a FAZ mask, measured along the ray from the FAZ centre (mm).
struct StarShapeProbe {
    let mask: BinaryMask
    var cache: [Int: Double] = [:]

    init(mask: BinaryMask) { self.mask = mask }

    /// Distance from the pixel centre to the mask border along the ray from `centre`, mm (0 inside).
    mutating func distanceOutsideMM(_ x: Int, _ y: Int, pixelSizeMM ps: Double, centre: [Double]) -> Double {
        let W = mask.width
        if mask.bits[y * W + x] != 0 { return 0 }
        let px = (Double(x) + 0.5) * ps, py = (Double(y) + 0.5) * ps
        let dx = px - centre[0], dy = py - centre[1]
        let r = (dx * dx + dy * dy).squareRoot()
        let bin = Int((Foundation.atan2(dy, dx) + Double.pi) / (2 * Double.pi) * 360) % 360
        if cache[bin] == nil {
            // Border radius in this direction: the last FAZ pixel along the ray.
            var edge = 0.0
            var t = 0.0
            while t < 1.5 {
                let qx = Int((centre[0] + t * dx / max(r, 1e-9)) / ps), qy = Int((centre[1] + t * dy / max(r, 1e-9)) / ps)
                if qx < 0 || qy < 0 || qx >= W || qy >= W { break }
                if mask.bits[qy * W + qx] != 0 { edge = t }
                t += ps / 2
            }
            cache[bin] = edge
        }
        return r - cache[bin]!
    }
}
