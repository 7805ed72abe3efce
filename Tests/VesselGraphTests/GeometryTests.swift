import Foundation
import Retina
import XCTest
@testable import VesselGraph

/// Exact geometric cases with known answers (masks drawn analytically, pixel size 10 um).
final class GeometryTests: XCTestCase {
    let px = 0.01  // mm per pixel

    func graph(of mask: BinaryMask, pixelSizeMM: Double = 0.01) throws -> VesselAnalysis {
        let img = GeometricPhantom.image(of: mask, pixelSizeMM: pixelSizeMM)
        return try VesselGraphBuilder().analyze(img, vesselMask: mask)
    }

    func testStraightLineIsOneSegmentOfTheDrawnLength() throws {
        var m = BinaryMask(width: 100, height: 40)
        GeometricPhantom.drawLine(&m, from: (10, 20), to: (90, 20), widthPX: 3)
        let a = try graph(of: m)
        XCTAssertEqual(a.graph.vessel.count, 1)
        let length = try XCTUnwrap(a.graph.vessel.feature("length_um", node: 0))
        // 80 px drawn; the centreline stops about one radius short of each rounded cap.
        XCTAssertEqual(Double(length), 800, accuracy: 30)
        XCTAssertEqual(Double(a.graph.vessel.feature("curveness", node: 0)!), 1, accuracy: 0.01)
        XCTAssertEqual(Double(a.graph.vessel.feature("radius_mean_um", node: 0)!), 15, accuracy: 3)
        XCTAssertEqual(Double(a.graph.vessel.feature("orientation_deg", node: 0)!), 0, accuracy: 1)
        XCTAssertEqual(a.graph.vessel.feature("degree_start", node: 0), 1)
        XCTAssertEqual(a.graph.vessel.feature("degree_end", node: 0), 1)
        XCTAssertEqual(a.graph.biomarkers["bifurcation_count"], 0)
        XCTAssertEqual(a.graph.biomarkers["endpoint_count"], 2)
        // The footprint is the whole drawn vessel.
        XCTAssertEqual(a.graph.vessel.footprints[0].count, m.count)
        XCTAssertEqual(a.graph.relation("vessel-vessel")?.count, 0)
    }

    func testLengthIsPhysicalWhateverThePixelSize() throws {
        var coarse = BinaryMask(width: 100, height: 40), fine = BinaryMask(width: 200, height: 80)
        GeometricPhantom.drawLine(&coarse, from: (10, 20), to: (90, 20), widthPX: 3)
        GeometricPhantom.drawLine(&fine, from: (20, 40), to: (180, 40), widthPX: 6)
        let a = try graph(of: coarse, pixelSizeMM: 0.01), b = try graph(of: fine, pixelSizeMM: 0.005)
        let la = Double(a.graph.vessel.feature("length_um", node: 0)!), lb = Double(b.graph.vessel.feature("length_um", node: 0)!)
        XCTAssertEqual(la, lb, accuracy: 25)
        XCTAssertEqual(Double(a.graph.vessel.feature("radius_mean_um", node: 0)!),
                       Double(b.graph.vessel.feature("radius_mean_um", node: 0)!), accuracy: 3)
    }

    func testDiagonalLineLengthCountsDiagonalSteps() throws {
        var m = BinaryMask(width: 100, height: 100)
        GeometricPhantom.drawLine(&m, from: (10, 10), to: (90, 90), widthPX: 3)
        let a = try graph(of: m)
        XCTAssertEqual(a.graph.vessel.count, 1)
        XCTAssertEqual(Double(a.graph.vessel.feature("length_um", node: 0)!), 80 * 2.0.squareRoot() * 10, accuracy: 40)
        XCTAssertEqual(Double(a.graph.vessel.feature("orientation_deg", node: 0)!), 135, accuracy: 2)
    }

    func testYGivesThreeSegmentsAndOneBifurcation() throws {
        var m = BinaryMask(width: 100, height: 100)
        GeometricPhantom.drawLine(&m, from: (50, 50), to: (50, 8), widthPX: 3)
        GeometricPhantom.drawLine(&m, from: (50, 50), to: (14, 86), widthPX: 3)
        GeometricPhantom.drawLine(&m, from: (50, 50), to: (86, 86), widthPX: 3)
        let a = try graph(of: m)
        let g = a.graph
        XCTAssertEqual(g.vessel.count, 3)
        XCTAssertEqual(g.biomarkers["bifurcation_count"], 1)
        XCTAssertEqual(g.biomarkers["endpoint_count"], 3)
        // Every segment joins the branch point (degree 3) to a free end (degree 1).
        for i in 0..<3 {
            let d = [g.vessel.feature("degree_start", node: i)!, g.vessel.feature("degree_end", node: i)!].sorted()
            XCTAssertEqual(d, [1, 3])
        }
        // All three share the bifurcation: 3 pairs, both directions.
        let vv = try XCTUnwrap(g.relation("vessel-vessel"))
        XCTAssertEqual(vv.count, 6)
        XCTAssertEqual(Set(zip(vv.source, vv.target).map { "\($0)-\($1)" }).count, 6)
        // The three footprints partition the mask.
        XCTAssertEqual(g.vessel.footprints.map(\.count).reduce(0, +), m.count)
        let lengths = g.vessel.column("length_um").sorted()
        XCTAssertEqual(Double(lengths[0]), 420, accuracy: 40)
        XCTAssertEqual(Double(lengths[2]), 36 * 2.0.squareRoot() * 10, accuracy: 40)
    }

    func testRingEnclosesExactlyOneICA() throws {
        var m = BinaryMask(width: 120, height: 120)
        GeometricPhantom.drawRing(&m, centre: (40, 45), inner: 12, outer: 15)
        let a = try graph(of: m)
        let g = a.graph
        XCTAssertEqual(g.ica.count, 1)
        XCTAssertEqual(Double(g.ica.xPX[0]), 40, accuracy: 0.5)
        XCTAssertEqual(Double(g.ica.yPX[0]), 45, accuracy: 0.5)
        let areaPX = Double(g.ica.feature("area_um2", node: 0)!) / 100
        XCTAssertEqual(areaPX, Double.pi * 144, accuracy: 0.08 * Double.pi * 144)
        XCTAssertGreaterThan(Double(g.ica.feature("solidity", node: 0)!), 0.9)
        XCTAssertLessThan(Double(g.ica.feature("eccentricity", node: 0)!), 0.2)
        // The ring is one closed vessel, bordering the region it encloses.
        XCTAssertEqual(g.vessel.count, 1)
        XCTAssertEqual(g.relation("vessel-ica")?.source, [0])
        XCTAssertEqual(g.relation("vessel-ica")?.target, [0])
        XCTAssertEqual(g.faz.count, 0)
    }

    func testTwoRegionsAcrossOneVesselAreICANeighbours() throws {
        // A box split by a vertical vessel: two enclosed regions separated by one centreline.
        var m = BinaryMask(width: 90, height: 60)
        GeometricPhantom.drawLine(&m, from: (10, 10), to: (80, 10), widthPX: 3)
        GeometricPhantom.drawLine(&m, from: (10, 50), to: (80, 50), widthPX: 3)
        GeometricPhantom.drawLine(&m, from: (10, 10), to: (10, 50), widthPX: 3)
        GeometricPhantom.drawLine(&m, from: (80, 10), to: (80, 50), widthPX: 3)
        GeometricPhantom.drawLine(&m, from: (45, 10), to: (45, 50), widthPX: 3)
        let g = try graph(of: m).graph
        XCTAssertEqual(g.ica.count, 2)
        let ii = try XCTUnwrap(g.relation("ica-ica"))
        XCTAssertEqual(Set(zip(ii.source, ii.target).map { [$0, $1] }), [[0, 1], [1, 0]])
        // The middle vessel borders both regions.
        let vi = try XCTUnwrap(g.relation("vessel-ica"))
        let middle = (0..<g.vessel.count).first { abs(g.vessel.xPX[$0] - 45) < 2 && abs(g.vessel.yPX[$0] - 30) < 5 }
        let m0 = try XCTUnwrap(middle)
        XCTAssertEqual(Set(zip(vi.source, vi.target).filter { $0.0 == Int32(m0) }.map(\.1)), [0, 1])
    }

    func testRegionsApartAcrossOpenSpaceAreNotICANeighbours() throws {
        // Two rings far apart: their insides meet only across the open (border-touching) background.
        var m = BinaryMask(width: 140, height: 70)
        GeometricPhantom.drawRing(&m, centre: (35, 35), inner: 10, outer: 13)
        GeometricPhantom.drawRing(&m, centre: (105, 35), inner: 10, outer: 13)
        let g = try graph(of: m).graph
        XCTAssertEqual(g.ica.count, 2)
        XCTAssertEqual(g.relation("ica-ica")?.count, 0)
        XCTAssertEqual(g.relation("vessel-vessel")?.count, 0)
    }

    func testEmptyImageGivesEmptyGraph() throws {
        let img = GrayImage(width: 64, height: 64, pixelSizeMM: px)
        let g = try VesselGraphBuilder().build(img)
        XCTAssertEqual(g.vessel.count, 0)
        XCTAssertEqual(g.ica.count, 0)
        XCTAssertEqual(g.faz.count, 0)
        XCTAssertTrue(g.relations.allSatisfy { $0.count == 0 })
        XCTAssertEqual(g.biomarkers["perfusion_density"], 0)
        XCTAssertEqual(g.biomarkers["skeleton_length_density_mm_per_mm2"], 0)
    }

    func testSegmentationRecoversACleanLineFromPixels() throws {
        var m = BinaryMask(width: 120, height: 60)
        GeometricPhantom.drawLine(&m, from: (10, 30), to: (110, 30), widthPX: 4)
        let img = GeometricPhantom.image(of: m, pixelSizeMM: px)
        let a = try VesselGraphBuilder().analyze(img)
        XCTAssertGreaterThan(a.vesselMask.dice(m), 0.9)
        XCTAssertEqual(a.graph.vessel.count, 1)
    }

    func testFAZIsFoundAsTheCentralAvascularDisc() throws {
        // A 3 mm field of parallel vessels every 60 um with a vessel-free disc of radius 0.3 mm in the middle.
        let w = 304, p = 3.0 / 304
        var m = BinaryMask(width: w, height: w)
        var x = 3.0
        while x < Double(w) { GeometricPhantom.drawLine(&m, from: (x, 0), to: (x, Double(w - 1)), widthPX: 2); x += 6 }
        var y = 3.0
        while y < Double(w) { GeometricPhantom.drawLine(&m, from: (0, y), to: (Double(w - 1), y), widthPX: 2); y += 6 }
        let r = 0.3 / p, c = Double(w - 1) / 2
        for i in 0..<(w * w) {
            let dx = Double(i % w) - c, dy = Double(i / w) - c
            if dx * dx + dy * dy <= r * r { m.bits[i] = 0 }
        }
        let img = GeometricPhantom.image(of: m, pixelSizeMM: p, vessel: 0.8, background: 0.2)
        let disc = Double.pi * 0.09
        // Default: the dark core, whose threshold on a 40 um blur sits about half a sigma inside a sharp edge.
        let core = try VesselGraphBuilder().build(img)
        XCTAssertEqual(core.faz.count, 1)
        let coreArea = try XCTUnwrap(core.biomarkers["faz_area_mm2"])
        XCTAssertLessThan(coreArea, disc)
        XCTAssertGreaterThan(coreArea, 0.75 * disc)
        XCTAssertGreaterThan(core.biomarkers["faz_circularity"]!, 0.85)
        XCTAssertEqual(core.gridCentrePX[0], c, accuracy: 1.5)
        XCTAssertEqual(core.gridCentrePX[1], c, accuracy: 1.5)
        XCTAssertEqual(core.faz.sector, [0])
        // Grown to the vessel walls (the OCTA-500 annotators' convention): the whole disc, bordering the vessels.
        var config = VesselGraphConfig()
        config.fazGrowToVesselsUM = 60
        let g = try VesselGraphBuilder(config: config).build(img)
        XCTAssertEqual(g.biomarkers["faz_area_mm2"]!, disc, accuracy: 0.1 * disc)
        XCTAssertGreaterThan(g.biomarkers["faz_circularity"]!, 0.85)
        XCTAssertGreaterThan(g.relation("faz-vessel")!.count, 4)
        XCTAssertGreaterThan(g.relation("faz-ica")!.count, 4)
    }
}
