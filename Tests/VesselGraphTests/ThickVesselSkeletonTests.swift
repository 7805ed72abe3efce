import Foundation
import Retina
import XCTest
@testable import VesselGraph

/// Thick vessels must keep a connected centreline over their whole length: the skeleton of a thick bar, ring
/// or branched vessel is one connected piece reaching (close to) both ends, whatever the angle and width.
final class ThickVesselSkeletonTests: XCTestCase {
    /// 8-connected components of the 1-pixels of `bits`.
    func components(_ bits: [UInt8], _ w: Int, _ h: Int) -> Int {
        ComponentLabeling(bits, width: w, height: h, eightConnected: true).count
    }

    func skeleton(_ m: BinaryMask) -> [UInt8] {
        let thin = Skeletonizer.thin(m.bits, width: m.width, height: m.height)
        return SkeletonTracer.trace(thin, width: m.width, height: m.height, spurLengthPX: 3).skeleton
    }

    func testThickBarsAtEveryAngleKeepOneFullLengthCentreline() {
        let w = 96, h = 96, length = 60.0
        var failures: [String] = []
        for widthPX in stride(from: 2.0, through: 9.0, by: 0.5) {
            for step in 0..<48 {
                let t = Double(step) * Double.pi / 48
                let cx = 48.0, cy = 48.0, dx = cos(t) * length / 2, dy = sin(t) * length / 2
                var m = BinaryMask(width: w, height: h)
                GeometricPhantom.drawLine(&m, from: (cx - dx, cy - dy), to: (cx + dx, cy + dy), widthPX: widthPX)
                let sk = skeleton(m)
                let count = sk.reduce(0) { $0 + Int($1) }
                let parts = components(sk, w, h)
                // Extent of the centreline along the bar's axis.
                var lo = Double.infinity, hi = -Double.infinity
                for p in 0..<(w * h) where sk[p] != 0 {
                    let s = (Double(p % w) - cx) * cos(t) + (Double(p / w) - cy) * sin(t)
                    lo = min(lo, s); hi = max(hi, s)
                }
                let extent = count > 0 ? hi - lo : 0
                // No spurs: exactly the two free ends of the bar.
                let ends = SkeletonTracer.traceOnce(sk, width: w, height: h).nodes.filter { $0.degree == 1 }.count
                if parts != 1 || extent < length - widthPX - 2 || ends != 2 {
                    failures.append("width \(widthPX) angle \(step * 180 / 48)deg: \(parts) pieces, extent \(extent) of \(length), \(ends) ends")
                }
            }
        }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) failures: \(failures.prefix(12))")
    }

    func testThickDiagonalVesselWithABranchKeepsItsWholeTrunk() {
        let w = 96, h = 96
        var failures: [String] = []
        for widthPX in stride(from: 2.0, through: 7.0, by: 0.5) {
            for deg in stride(from: 35.0, through: 55.0, by: 2.5) {
                let t = deg * Double.pi / 180, dx = cos(t) * 32, dy = sin(t) * 32
                var m = BinaryMask(width: w, height: h)
                GeometricPhantom.drawLine(&m, from: (48 - dx, 48 - dy), to: (48 + dx, 48 + dy), widthPX: widthPX)
                // A thinner branch leaving the middle at right angles.
                GeometricPhantom.drawLine(&m, from: (48, 48), to: (48 + sin(t) * 25, 48 - cos(t) * 25), widthPX: 2)
                let sk = skeleton(m)
                var lo = Double.infinity, hi = -Double.infinity
                for p in 0..<(w * h) where sk[p] != 0 {
                    let along = (Double(p % w) - 48) * cos(t) + (Double(p / w) - 48) * sin(t)
                    let across = -(Double(p % w) - 48) * sin(t) + (Double(p / w) - 48) * cos(t)
                    if abs(across) <= widthPX { lo = min(lo, along); hi = max(hi, along) }
                }
                let traced = SkeletonTracer.traceOnce(sk, width: w, height: h)
                let ends = traced.nodes.filter { $0.degree == 1 }.count
                if components(sk, w, h) != 1 || hi - lo < 64 - widthPX - 2 || ends != 3 {
                    failures.append("width \(widthPX) angle \(deg): \(components(sk, w, h)) pieces, trunk \(hi - lo), \(ends) ends")
                }
            }
        }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) failures: \(failures.prefix(12))")
    }

    func testThickRingsKeepOneClosedCentreline() {
        let w = 96, h = 96
        var failures: [String] = []
        for radius in stride(from: 8.0, through: 36.0, by: 2.5) {
            for widthPX in stride(from: 2.0, through: 9.0, by: 0.5) where widthPX < radius {
                var m = BinaryMask(width: w, height: h)
                GeometricPhantom.drawRing(&m, centre: (47.3, 48.6), inner: radius - widthPX / 2, outer: radius + widthPX / 2)
                let sk = skeleton(m)
                let thin = Skeletonizer.thin(m.bits, width: w, height: h)
                let traced = SkeletonTracer.traceOnce(sk, width: w, height: h)
                let ends = traced.nodes.filter { $0.degree == 1 }.count
                let length = traced.segments.reduce(0) { $0 + $1.lengthPX }
                if components(sk, w, h) != 1 || ends != 0 || length < 2 * Double.pi * radius * 0.9 || thin.reduce(0, { $0 + Int($1) }) == 0 {
                    failures.append("r \(radius) w \(widthPX): \(components(sk, w, h)) pieces, \(ends) ends, length \(length)")
                }
            }
        }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) failures: \(failures.prefix(12))")
    }
}

/// On simulated eyes every sizeable vessel-mask component has a centreline, and every centreline pixel belongs
/// to some vessel node's footprint (nothing drawn in the overlay is missing from the graph).
final class SkeletonCoverageTests: XCTestCase {
    func testEveryLargeMaskComponentHasSkeletonAndFootprintsCoverIt() throws {
        let sim = OCTASimulator(config: SimulatorConfig(sizePX: 304, fovMM: 3))
        for i in 0..<3 {
            let eye = sim.generate(seed: 700 + UInt64(i), severity: Double(i) / 2)
            let a = try VesselGraphBuilder().analyze(eye.image)
            let w = a.vesselMask.width, h = a.vesselMask.height, n = w * h
            let umPerPX = a.graph.pixelSizeMM * 1000
            // Components of at least 5000 um2 (about 50 px here): far above the speck size the spur pruning drops.
            let minPX = Int((5000 / (umPerPX * umPerPX)).rounded(.up))
            let cc = ComponentLabeling(a.vesselMask.bits, width: w, height: h, eightConnected: true)
            var hasSkeleton = [Bool](repeating: false, count: cc.count)
            for p in 0..<n where cc.labels[p] >= 0 && a.skeleton.bits[p] != 0 { hasSkeleton[Int(cc.labels[p])] = true }
            var missing: [Int] = []
            for c in 0..<cc.count where cc.sizes[c] >= minPX && !hasSkeleton[c] { missing.append(cc.sizes[c]) }
            XCTAssertEqual(missing, [], "eye \(i): components (px) without centreline")

            var covered = [Bool](repeating: false, count: n)
            for f in a.graph.vessel.footprints { for p in f { covered[Int(p)] = true } }
            var skeleton = 0, uncovered = 0
            for p in 0..<n where a.skeleton.bits[p] != 0 { skeleton += 1; if !covered[p] { uncovered += 1 } }
            XCTAssertGreaterThan(skeleton, 1000)
            XCTAssertEqual(uncovered, 0, "eye \(i): skeleton pixels outside every vessel footprint")
        }
    }
}
