import Common
import Foundation
import XCTest
@testable import Retina

/// Pins the properties that make simulated eyes look like real OCTA: continuous capillaries (no beading),
/// a vessel mask that is exactly the drawn half-maximum footprint, mask widths in OCTA-500's range, and
/// the mask morphometry used to compare with real masks.
final class RealismTests: XCTestCase {
    /// A capillary polyline (three segments, one bend, 10 um pixels) drawn with the renderer's own
    /// vessel routine, node amplitudes as a smooth flow field gives them.
    func drawnCapillary() -> (layer: [Float], mask: [UInt8], W: Int, points: [(Double, Double)], halfPX: Double) {
        let W = 64
        let renderer = OCTARenderer(config: SimulatorConfig(sizePX: W, fovMM: 3))
        var layer = [Float](repeating: 0, count: W * W), mask = [UInt8](repeating: 0, count: W * W)
        let pts: [(Double, Double)] = [(8.2, 10.7), (25.6, 21.3), (40.1, 23.9), (55.3, 48.8)]
        let amps: [Float] = [0.60, 0.64, 0.61, 0.66]
        // A fixed test geometry (not the default config): capillary radius 3 um, PSF FWHM 20 um, pixel 10 um,
        // half-width sqrt(3^2 + 10^2) um = 1.044 px.
        let halfPX = (9.0 + 100.0).squareRoot() / 10
        for s in 0..<3 {
            renderer.drawVessel(&layer, &mask, W: W, ax: pts[s].0, ay: pts[s].1, bx: pts[s + 1].0, by: pts[s + 1].1,
                                halfPX: halfPX, ampA: amps[s], ampB: amps[s + 1], profile: OCTARenderer.profile(radiusMM: 0.003), inMask: true)
        }
        return (layer, mask, W, pts, halfPX)
    }

    func testCapillaryIsContinuousAlongItsCentreline() {
        let c = drawnCapillary()
        func bilinear(_ x: Double, _ y: Double) -> Double {
            let u = x - 0.5, v = y - 0.5
            let i = Int(u.rounded(.down)), j = Int(v.rounded(.down))
            let fu = u - Double(i), fv = v - Double(j)
            func at(_ a: Int, _ b: Int) -> Double { Double(c.layer[b * c.W + a]) }
            return (at(i, j) * (1 - fu) + at(i + 1, j) * fu) * (1 - fv) + (at(i, j + 1) * (1 - fu) + at(i + 1, j + 1) * fu) * fv
        }
        var samples: [Double] = []
        for s in 0..<3 {
            let (ax, ay) = c.points[s], (bx, by) = c.points[s + 1]
            let n = Int(((bx - ax) * (bx - ax) + (by - ay) * (by - ay)).squareRoot() * 4)
            for k in 0..<n {
                let t = Double(k) / Double(n)
                samples.append(bilinear(ax + t * (bx - ax), ay + t * (by - ay)))
            }
        }
        let mean = samples.reduce(0, +) / Double(samples.count)
        // No gaps and no beads: every quarter-pixel sample of the centreline keeps most of the line's
        // brightness, and neighbouring samples differ by little (a per-pixel flow draw or a hard-edged
        // capsule on 10 um pixels fails both).
        XCTAssertGreaterThan(samples.min()!, 0.7 * mean, "gap along the capillary")
        XCTAssertLessThan(samples.max()!, 1.25 * mean, "bead along the capillary")
        var maxStep = 0.0
        for k in 1..<samples.count { maxStep = max(maxStep, abs(samples[k] - samples[k - 1])) }
        XCTAssertLessThan(maxStep, 0.08 * mean, "brightness jumps along the capillary")
    }

    func testVesselMaskIsTheHalfMaximumFootprintOfWhatIsDrawn() {
        let c = drawnCapillary()
        // With one vessel drawn, a pixel is in the mask exactly when the drawn intensity is at least half
        // of the vessel's local peak (amplitude 0.60-0.66): check away from the ends and the tabulation
        // tolerance right at the threshold.
        var checked = 0
        for y in 14..<44 { for x in 14..<50 {
            let v = c.layer[y * c.W + x]
            // Local amplitude: the maximum of the line in this pixel's column neighbourhood.
            var peak: Float = 0
            for yy in max(0, y - 4)...min(c.W - 1, y + 4) { for xx in max(0, x - 4)...min(c.W - 1, x + 4) { peak = max(peak, c.layer[yy * c.W + xx]) } }
            guard peak > 0.5, abs(v / peak - 0.5) > 0.06 else { continue }
            XCTAssertEqual(c.mask[y * c.W + x] != 0, v >= 0.5 * peak, "pixel \(x),\(y): drawn \(v), peak \(peak)")
            checked += 1
        }}
        XCTAssertGreaterThan(checked, 100)
    }

    func testMaskVesselWidthsOnSimulatedEyesMatchOCTA500ManualMasks() {
        // OCTA-500 6 mm manual masks, measured by `capillary cohort-report --real` with the same
        // VesselMaskMorphometry: median local width 19-23 um, area/length width 21-26 um. A simulated 3 mm
        // eye (capillaries plus arterioles and venules) must sit in that range (the earlier renderer's masks
        // read 39-40 um against OCTA-500's 27-30 um on the perimeter-based mean width).
        let eyes = SimulatorTests.eyes([(5, 0.1), (6, 0.2)])
        for e in eyes {
            let m = VesselMaskMorphometry.measure(mask: e.vesselMask, faz: e.fazMask, pixelSizeMM: e.image.pixelSizeMM)
            XCTAssert((17...25).contains(m.widthMedianUM), "median mask vessel width \(m.widthMedianUM) um")
            XCTAssert((19...27).contains(m.meanWidthUM), "area/length width \(m.meanWidthUM) um")
            XCTAssertGreaterThan(m.widthP90UM, m.widthMedianUM, "arterioles and venules are wider than capillaries")
            // Intercapillary areas of a healthy superficial plexus: many small enclosed polygons.
            XCTAssertGreaterThan(m.intercapillaryAreasPerMM2, 50)
            XCTAssert((20...60).contains(m.intercapillaryMedianDiameterUM), "intercapillary diameter \(m.intercapillaryMedianDiameterUM) um")
        }
    }

    func testMorphometryOfKnownShapes() {
        // A 3 px wide, 40 px long horizontal bar at 10 um/px: width 30 um, skeleton ~ 40 px, no enclosed area.
        let W = 60
        var bits = [UInt8](repeating: 0, count: W * W)
        for y in 20..<23 { for x in 10..<50 { bits[y * W + x] = 1 } }
        let bar = VesselMaskMorphometry.measure(mask: BinaryMask(width: W, height: W, bits: bits), faz: nil, pixelSizeMM: 0.01)
        XCTAssertEqual(bar.widthMedianUM, 30, accuracy: 3)
        XCTAssertEqual(bar.meanWidthUM, 30, accuracy: 4)
        XCTAssertEqual(bar.intercapillaryAreasPerMM2, 0)
        XCTAssertEqual(bar.perfusionDensity, 120.0 / 3600, accuracy: 1e-12)
        // A 2 px wide square ring enclosing a 20 x 20 px hole: one intercapillary area of diameter
        // 2 sqrt(400 / pi) px = 225.7 um; an even width reads 2 px, not 1.
        bits = [UInt8](repeating: 0, count: W * W)
        for y in 10..<34 { for x in 10..<34 where x < 12 || x >= 32 || y < 12 || y >= 32 { bits[y * W + x] = 1 } }
        let ring = VesselMaskMorphometry.measure(mask: BinaryMask(width: W, height: W, bits: bits), faz: nil, pixelSizeMM: 0.01)
        XCTAssertEqual(ring.intercapillaryAreasPerMM2 * 0.36, 1, accuracy: 1e-9)
        XCTAssertEqual(ring.intercapillaryMedianDiameterUM, 2 * (400 / Double.pi).squareRoot() * 10, accuracy: 0.01)
        XCTAssertEqual(ring.widthMedianUM, 20, accuracy: 4)
    }

    func testTextureSeparatesWhiteFromCorrelatedGrain() {
        // White noise: residual neighbour correlation about -0.1; the same noise blurred over ~1.5 px: clearly positive.
        var rng = SeededGenerator(seed: 3)
        let W = 96
        let white = (0..<(W * W)).map { _ in Float(0.5 + 0.1 * rng.normal()) }
        let blurred = OCTARenderer.blur3(white, W: W)
        let tw = OCTATexture.measure(GrayImage(width: W, height: W, pixelSizeMM: 0.01, pixels: white))
        let tb = OCTATexture.measure(GrayImage(width: W, height: W, pixelSizeMM: 0.01, pixels: blurred))
        XCTAssertLessThan(tw.residualLag1Correlation, 0)
        XCTAssertGreaterThan(tb.residualLag1Correlation, 0.3)
        XCTAssertGreaterThan(tw.highFrequencyPowerFraction, 0.4)
        XCTAssertLessThan(tb.highFrequencyPowerFraction, tw.highFrequencyPowerFraction / 2)
    }

    func testSimulatedGrainIsCorrelatedLikeOCTA500() {
        // OCTA-500 6 mm projections (`capillary cohort-report --real`): residual neighbour correlation
        // 0.33-0.40. Per-pixel white speckle (the old renderer) reads near 0; the grain must be correlated.
        let e = OCTASimulator(config: SimulatorConfig(sizePX: 200, fovMM: 3)).generate(seed: 8, severity: 0.1)
        let t = OCTATexture.measure(e.image)
        XCTAssert((0.2...0.6).contains(t.residualLag1Correlation), "residual lag-1 correlation \(t.residualLag1Correlation)")
    }
}
