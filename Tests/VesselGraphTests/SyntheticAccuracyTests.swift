import Foundation
import Retina
import XCTest
@testable import VesselGraph

/// The graph's biomarkers against the simulator's pixel-exact ground truth on a small cohort (8 eyes,
/// 304 px / 3 mm, severities spread over 0-1). Full-size numbers: `capillary graph --evaluate-synthetic 40`.
final class SyntheticAccuracyTests: XCTestCase {
    struct Row { var dice, fazErr, perfErr, sld, trueSLD: Double }

    static let rows: [Row] = {
        let sim = OCTASimulator(config: SimulatorConfig(sizePX: 304, fovMM: 3))
        let builder = VesselGraphBuilder()
        return (0..<8).map { i in
            let eye = sim.generate(seed: 500 + UInt64(i), severity: Double(i) / 7)
            let a = try! builder.analyze(eye.image)
            let b = a.graph.biomarkers, t = eye.truth
            return Row(dice: a.vesselMask.dice(eye.vesselMask),
                       fazErr: abs(b["faz_area_mm2"]! - t.fazAreaMM2) / t.fazAreaMM2,
                       perfErr: abs(b["perfusion_density"]! - t.perfusionDensity),
                       sld: b["skeleton_length_density_mm_per_mm2"]!, trueSLD: t.skeletonLengthDensityMMPerMM2)
        }
    }()

    func median(_ v: [Double]) -> Double { let s = v.sorted(); return (s[(s.count - 1) / 2] + s[s.count / 2]) / 2 }

    func testVesselSegmentationDice() {
        let d = Self.rows.map(\.dice)
        XCTAssertGreaterThanOrEqual(d.reduce(0, +) / Double(d.count), 0.79, "\(d)")
        XCTAssertTrue(d.allSatisfy { $0 > 0.75 }, "\(d)")
    }

    func testMedianFAZAreaErrorWithinTenPercent() {
        XCTAssertLessThanOrEqual(median(Self.rows.map(\.fazErr)), 0.10, "\(Self.rows.map(\.fazErr))")
    }

    func testPerfusionDensityError() {
        // Issue target 0.03 (met on 40 eyes by `--evaluate-synthetic 40` since rim completion; 0.052 before).
        let e = Self.rows.map(\.perfErr)
        XCTAssertLessThanOrEqual(e.reduce(0, +) / Double(e.count), 0.035, "\(e)")
    }

    func testSkeletonLengthDensityMatchesTheTrueMasksSkeleton() {
        // The truth is the skeleton length of the true vessel mask (Retina's VesselMaskMorphometry: plain
        // Zhang-Suen, chain length, no spur pruning). Issue target: relative error <= 10% (40 eyes:
        // `capillary graph --evaluate-synthetic 40`, docs/GRAPH_FORMAT.md); 8 eyes get a little slack.
        let rows = Self.rows
        let errors = rows.map { abs($0.sld - $0.trueSLD) / $0.trueSLD }
        XCTAssertLessThanOrEqual(errors.reduce(0, +) / Double(errors.count), 0.12, "\(errors)")
        for r in rows { XCTAssertGreaterThan(r.sld, 0.75 * r.trueSLD); XCTAssertLessThan(r.sld, 1.2 * r.trueSLD) }
    }

    func testSkeletonLengthDensityRanksEyesLikeTheTruth() {
        let rows = Self.rows
        var concordant = 0, pairs = 0
        for i in 0..<rows.count {
            for j in (i + 1)..<rows.count {
                pairs += 1
                if (rows[i].sld - rows[j].sld) * (rows[i].trueSLD - rows[j].trueSLD) > 0 { concordant += 1 }
            }
        }
        XCTAssertGreaterThanOrEqual(Double(concordant) / Double(pairs), 0.75, "\(concordant) of \(pairs) eye pairs in the true order")
    }
}
