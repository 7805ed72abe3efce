import Common
import Foundation
import XCTest
@testable import Retina

/// Known analytic cases for the simulator's geometry: Murray's law, outline area, segment clipping,
/// space-colonization growth.
final class GeometryTests: XCTestCase {
    func testMurrayRadiiFollowTheLaw() {
        // root -> a -> (b, c); b -> d. Leaves c, d get r = 2; a gets (2^k + 2^k)^(1/k).
        var t = VascularTree()
        let root = t.append(x: 0, y: 0, parent: -1, dx: 1, dy: 0, kind: .artery)
        let a = t.append(x: 1, y: 0, parent: Int32(root), dx: 1, dy: 0, kind: .artery)
        let b = t.append(x: 2, y: 0, parent: Int32(a), dx: 1, dy: 0, kind: .artery)
        let c = t.append(x: 2, y: 1, parent: Int32(a), dx: 1, dy: 0, kind: .artery)
        let d = t.append(x: 3, y: 0, parent: Int32(b), dx: 1, dy: 0, kind: .artery)
        let k = 2.55
        t.assignMurrayRadii(range: 0..<t.count, leafRadiusMM: 2, exponent: k)
        XCTAssertEqual(t.radiusMM[c], 2); XCTAssertEqual(t.radiusMM[d], 2)
        XCTAssertEqual(t.radiusMM[b], 2, accuracy: 1e-12)  // a chain keeps its radius
        XCTAssertEqual(pow(t.radiusMM[a], k), pow(2, k) + pow(2, k), accuracy: 1e-9)
        XCTAssertEqual(t.radiusMM[root], t.radiusMM[a], accuracy: 1e-12)
    }

    func testStarShapeHasTheRequestedAreaAndCircularityFallsWithIrregularity() {
        var rng = SeededGenerator(seed: 5)
        let smooth = StarShape(centreX: 1.5, centreY: 1.5, areaMM2: 0.3, irregularity: 0, ovality: 0.02, rng: &rng)
        let rough = StarShape(centreX: 1.5, centreY: 1.5, areaMM2: 0.3, irregularity: 1, ovality: 0.02, rng: &rng)
        // The scaling uses the sector-sum area; the polygon area agrees to discretisation error.
        XCTAssertEqual(smooth.areaMM2, 0.3, accuracy: 1e-4)
        XCTAssertEqual(rough.areaMM2, 0.3, accuracy: 1e-4)
        XCTAssertGreaterThan(smooth.circularity, rough.circularity)
        XCTAssertLessThanOrEqual(smooth.circularity, 1)
        XCTAssertTrue(smooth.contains(1.5, 1.5))
        XCTAssertFalse(smooth.contains(0.1, 0.1))
    }

    func testSegmentClippingToTheField() {
        // Fully inside, crossing one edge, crossing two edges, fully outside.
        XCTAssertEqual(OCTARenderer.clippedLength(1, 1, 2, 1, F: 3), 1, accuracy: 1e-12)
        XCTAssertEqual(OCTARenderer.clippedLength(-1, 1, 1, 1, F: 3), 1, accuracy: 1e-12)
        XCTAssertEqual(OCTARenderer.clippedLength(-1, -1, 4, 4, F: 3), 3 * 2.0.squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(OCTARenderer.clippedLength(4, 4, 5, 5, F: 3), 0)
    }

    func testSpaceColonizationReachesTheSinksAndAvoidsBlockedRegions() {
        var growth = PlexusGrowth.superficial
        growth.maxIterations = 500
        let grower = SpaceColonization(growth: growth, fieldMM: 2)
        var rng = SeededGenerator(seed: 3)
        // Sinks on a 0.05 mm lattice over the right half; a blocked disc in the middle of it.
        var sinks: [(x: Double, y: Double)] = []
        for i in 0..<20 { for j in 0..<40 { sinks.append((1.0 + 0.05 * Double(i) + 0.025, 0.05 * Double(j) + 0.025)) } }
        let blocked: (Double, Double) -> Bool = { x, y in (x - 1.5) * (x - 1.5) + (y - 1) * (y - 1) < 0.04 }
        let open = sinks.filter { !blocked($0.x, $0.y) }
        var tree = VascularTree()
        let r = grower.grow(into: &tree, roots: [(1.0 - growth.perceptionDistanceMM / 2, 1.0, 1, 0)], kind: .artery, sinks: open, rng: &rng, blocked: blocked)
        XCTAssertGreaterThan(r.count, 100)
        for i in r { XCTAssertFalse(blocked(tree.x[i], tree.y[i]), "node \(i) inside the blocked disc") }
        // Every sink ends within reach of the tree (killed, or given up only next to the blocked disc).
        var far = 0
        for s in open {
            var best = Double.infinity
            for i in r { best = min(best, hypot(tree.x[i] - s.x, tree.y[i] - s.y)) }
            if best > growth.perceptionDistanceMM { far += 1 }
        }
        XCTAssertEqual(far, 0)
        // Steps have the configured length.
        for i in r where tree.parent[i] >= 0 {
            let p = Int(tree.parent[i])
            XCTAssertEqual(hypot(tree.x[i] - tree.x[p], tree.y[i] - tree.y[p]), growth.stepMM, accuracy: 1e-9)
        }
    }
}
