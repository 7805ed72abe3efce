import Foundation
import XCTest
@testable import Retina
@testable import VesselGraph

/// The skeleton length density biomarker: the chain length of the whole skeleton, the same measure as
/// Retina's `VesselMaskMorphometry` (the simulator's truth and the measure applied to manual masks).
final class SkeletonLengthTests: XCTestCase {
    func chain(_ rows: [String]) -> Double {
        let h = rows.count, w = rows[0].count
        var sk = [UInt8](repeating: 0, count: w * h)
        var pixels: [Int32] = []
        for (y, r) in rows.enumerated() { for (x, c) in r.enumerated() where c == "X" { sk[y * w + x] = 1; pixels.append(Int32(y * w + x)) } }
        return Biomarkers.chainLengthPX(sk, pixels: pixels, width: w, height: h)
    }

    func testKnownChains() {
        XCTAssertEqual(chain(["XXXXX"]), 4, accuracy: 1e-12)                               // 4 axial links
        XCTAssertEqual(chain(["X...", ".X..", "..X.", "...X"]), 3 * 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(chain(["XX", ".X"]), 2, accuracy: 1e-12)                             // corner: not 2 + sqrt 2
        XCTAssertEqual(chain(["X.X", ".X.", ".X."]), 1 + 2 * 2.0.squareRoot(), accuracy: 1e-12)  // Y junction
        XCTAssertEqual(chain(["X..", "...", "..X"]), 2, accuracy: 1e-12)                    // two isolated pixels
        XCTAssertEqual(chain(["...", "..."]), 0)
    }

    func testEqualsRetinasMaskMeasureOnSimulatedSkeletons() {
        // Same definition as VesselMaskMorphometry.skeletonLinkLengths (summed in Float there).
        let sim = OCTASimulator(config: SimulatorConfig(sizePX: 200, fovMM: 3))
        for seed in [UInt64(3), 4] {
            let eye = sim.generate(seed: seed, severity: 0.5)
            let w = eye.vesselMask.width, h = eye.vesselMask.height
            let a = try! VesselGraphBuilder().analyze(eye.image)
            let sk = a.skeleton.bits
            let pixels = (0..<(w * h)).filter { sk[$0] != 0 }.map { Int32($0) }
            XCTAssertGreaterThan(pixels.count, 500)
            let ours = Biomarkers.chainLengthPX(sk, pixels: pixels, width: w, height: h)
            let retina = Double(VesselMaskMorphometry.skeletonLinkLengths(sk, width: w, height: h).reduce(0, +))
            XCTAssertEqual(ours, retina, accuracy: 1e-3 * retina, "seed \(seed)")
            // The biomarker is this length per field area; the traced segments miss the branch-point interiors.
            let field = Double(w * h) * eye.image.pixelSizeMM * eye.image.pixelSizeMM
            XCTAssertEqual(a.graph.biomarkers["skeleton_length_density_mm_per_mm2"]!, ours * eye.image.pixelSizeMM / field, accuracy: 1e-9)
            let segmentsUM = a.graph.vessel.column("length_um").reduce(0) { $0 + Double($1) }
            XCTAssertLessThan(segmentsUM, ours * eye.image.pixelSizeMM * 1000)
        }
    }

    func testYCountsTheBranchPoint() throws {
        var m = BinaryMask(width: 100, height: 100)
        GeometricPhantom.drawLine(&m, from: (50, 50), to: (50, 8), widthPX: 3)
        GeometricPhantom.drawLine(&m, from: (50, 50), to: (14, 86), widthPX: 3)
        GeometricPhantom.drawLine(&m, from: (50, 50), to: (86, 86), widthPX: 3)
        let a = try VesselGraphBuilder().analyze(GeometricPhantom.image(of: m, pixelSizeMM: 0.01), vesselMask: m)
        let segmentsUM = a.graph.vessel.column("length_um").reduce(0) { $0 + Double($1) }
        let skeletonUM = a.graph.biomarkers["skeleton_length_density_mm_per_mm2"]! * 1.0 * 1000   // field 1 mm2
        // The skeleton is the three segments plus at most a few px of branch point.
        XCTAssertGreaterThanOrEqual(skeletonUM, segmentsUM - 1e-3)
        XCTAssertLessThan(skeletonUM, segmentsUM + 40)
    }
}
