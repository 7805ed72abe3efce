import Common
import Foundation
import Retina
import XCTest
@testable import VesselGraph

/// A thick vessel must keep its own centreline in the graph along its whole length, through the full pipeline
/// (segmentation of a noisy image, thinning, spur pruning, tracing), not only in a clean mask: every axis
/// position of the vessel has a traced segment's centreline pixel close by, and every skeleton pixel is on
/// some traced segment or branch node.
final class ThickVesselCentrelineTests: XCTestCase {
    /// Pixels on segment paths or in nodes that segments reach, i.e. what the graph's vessel nodes cover.
    func tracedPixels(_ a: VesselAnalysis) -> [Bool] {
        let w = a.skeleton.width, h = a.skeleton.height
        let r = SkeletonTracer.traceOnce(a.skeleton.bits, width: w, height: h)
        var on = [Bool](repeating: false, count: w * h)
        for s in r.segments { for p in s.path { on[Int(p)] = true } }
        for node in r.nodes where node.degree > 0 { for p in node.pixels { on[Int(p)] = true } }
        return on
    }

    /// A noisy image of a thick Gaussian-profile vessel (FWHM `widthPX`) at `angle`, crossed and joined by thin
    /// faint capillaries (which create branch points on it), with seeded Gaussian noise.
    func noisyThickVessel(widthPX: Double, angle: Double, seed: UInt64, size: Int)
        -> (image: GrayImage, a: (Double, Double), b: (Double, Double)) {
        var rng = SeededGenerator(seed: seed)
        let c = Double(size) / 2, half = Double(size) * 0.38
        let a = (c - cos(angle) * half, c - sin(angle) * half), b = (c + cos(angle) * half, c + sin(angle) * half)
        // Vessels as (from, to, FWHM px, peak).
        var tubes: [((Double, Double), (Double, Double), Double, Double)] = [(a, b, widthPX, 0.75)]
        for k in 0..<6 {
            // Capillaries leaving the trunk on alternating sides, at random angles.
            let t = 0.15 + 0.7 * Double(k) / 5, side = k % 2 == 0 ? 1.0 : -1.0
            let o = (a.0 + t * (b.0 - a.0), a.1 + t * (b.1 - a.1))
            let phi = angle + side * rng.uniform(0.6, 2.5)
            tubes.append((o, (o.0 + cos(phi) * 30, o.1 + sin(phi) * 30), 2.6, 0.35))
        }
        var px = [Float](repeating: 0, count: size * size)
        for y in 0..<size {
            for x in 0..<size {
                var v = 0.15
                for (p, q, fwhm, peak) in tubes {
                    let dx = q.0 - p.0, dy = q.1 - p.1, len2 = dx * dx + dy * dy
                    let t = max(0, min(1, ((Double(x) - p.0) * dx + (Double(y) - p.1) * dy) / len2))
                    let ex = p.0 + t * dx - Double(x), ey = p.1 + t * dy - Double(y)
                    let sigma = fwhm / 2.3548
                    v = max(v, 0.15 + peak * exp(-(ex * ex + ey * ey) / (2 * sigma * sigma)))
                }
                px[y * size + x] = Float(min(1, max(0, v + 0.07 * rng.normal())))
            }
        }
        return (GrayImage(width: size, height: size, pixelSizeMM: 0.01, pixels: px), a, b)
    }

    func testNoisyThickVesselKeepsItsCentrelineInTheGraph() throws {
        var config = VesselGraphConfig()
        config.detectFAZ = false
        let builder = VesselGraphBuilder(config: config)
        let size = 128
        var failures: [String] = []
        var seed: UInt64 = 1
        for widthPX in [4.0, 6.0, 8.0, 10.0] {
            for step in 0..<8 {
                let angle = Double(step) * Double.pi / 8 + 0.05
                seed += 1
                let v = noisyThickVessel(widthPX: widthPX, angle: angle, seed: seed, size: size)
                let an = try builder.analyze(v.image)
                let on = tracedPixels(an)
                var uncovered = 0
                for p in 0..<(size * size) where an.skeleton.bits[p] != 0 && !on[p] { uncovered += 1 }
                // Axis positions away from the rounded ends: a traced centreline pixel within 2 px.
                let len = hypot(v.b.0 - v.a.0, v.b.1 - v.a.1), ux = (v.b.0 - v.a.0) / len, uy = (v.b.1 - v.a.1) / len
                var samples = 0, hit = 0
                var s = widthPX
                while s <= len - widthPX {
                    let cx = v.a.0 + s * ux, cy = v.a.1 + s * uy
                    samples += 1
                    search: for yy in Int(cy - 2)...Int(cy + 2) + 1 {
                        for xx in Int(cx - 2)...Int(cx + 2) + 1 where xx >= 0 && yy >= 0 && xx < size && yy < size {
                            let d2 = (Double(xx) - cx) * (Double(xx) - cx) + (Double(yy) - cy) * (Double(yy) - cy)
                            if d2 <= 4 && on[yy * size + xx] { hit += 1; break search }
                        }
                    }
                    s += 1
                }
                let coverage = Double(hit) / Double(samples)
                if coverage < 0.95 || uncovered > 0 {
                    failures.append(String(format: "width %.0f angle %.0f deg: coverage %.3f, %d skeleton px off the segments",
                                           widthPX, angle * 180 / Double.pi, coverage, uncovered))
                }
            }
        }
        XCTAssertTrue(failures.isEmpty, "\(failures.count) failures: \(failures)")
    }

    /// On simulated eyes, the cores of the true thick vessels (true-mask pixels at least 2.5 px from its
    /// background) lie within 2.5 px of the graph's centrelines.
    func testThickVesselCoresOfSimulatedEyesAreOnCentrelines() throws {
        let sim = OCTASimulator(config: SimulatorConfig(sizePX: 304, fovMM: 3))
        for i in 0..<2 {
            let eye = sim.generate(seed: 7 + UInt64(i), severity: 0.2 + 0.6 * Double(i))
            let a = try VesselGraphBuilder().analyze(eye.image)
            let w = a.skeleton.width, h = a.skeleton.height, n = w * h
            let on = tracedPixels(a)
            var background = [UInt8](repeating: 0, count: n)
            for p in 0..<n where eye.vesselMask.bits[p] == 0 { background[p] = 1 }
            let toBackground = DistanceTransform.squared(background, width: w, height: h)
            var onBits = [UInt8](repeating: 0, count: n)
            for p in 0..<n where on[p] { onBits[p] = 1 }
            let toCentreline = DistanceTransform.squared(onBits, width: w, height: h)
            var core = 0, far = 0
            for p in 0..<n where toBackground[p] >= 6.25 {
                core += 1
                if toCentreline[p] >= 6.25 { far += 1 }
            }
            XCTAssertGreaterThan(core, 500, "eye \(i)")
            XCTAssertLessThan(Double(far) / Double(core), 0.03, "eye \(i): \(far) of \(core) thick-vessel core pixels far from every centreline")
        }
    }
}
