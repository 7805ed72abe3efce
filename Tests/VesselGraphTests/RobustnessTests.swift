import Common
import Foundation
import Retina
import XCTest
@testable import VesselGraph

/// Inputs that real users bring by accident: each gives a valid graph or a typed error, never a crash or hang.
final class RobustnessTests: XCTestCase {
    /// Checks the structural invariants of a graph and that its JSON reads back.
    func assertValid(_ g: OCTAGraph, file: StaticString = #filePath, line: UInt = #line) throws {
        for set in [g.vessel, g.ica, g.faz] {
            XCTAssertEqual(set.features.count, set.count * set.featureNames.count, file: file, line: line)
            XCTAssertTrue(set.features.allSatisfy(\.isFinite), file: file, line: line)
            for a in [set.xPX.count, set.yPX.count, set.xMM.count, set.yMM.count, set.sector.count, set.quadrant.count, set.footprints.count] {
                XCTAssertEqual(a, set.count, file: file, line: line)
            }
            XCTAssertTrue(set.footprints.allSatisfy { $0.allSatisfy { $0 >= 0 && Int($0) < g.widthPX * g.heightPX } })
        }
        let sizes = ["vessel": g.vessel.count, "ica": g.ica.count, "faz": g.faz.count]
        for r in g.relations {
            XCTAssertEqual(r.source.count, r.target.count, file: file, line: line)
            XCTAssertTrue(r.source.allSatisfy { Int($0) < sizes[r.sourceType]! && $0 >= 0 }, r.name, file: file, line: line)
            XCTAssertTrue(r.target.allSatisfy { Int($0) < sizes[r.targetType]! && $0 >= 0 }, r.name, file: file, line: line)
        }
        XCTAssertTrue(g.biomarkers.values.allSatisfy(\.isFinite), file: file, line: line)
        let back = try JSONDecoder().decode(OCTAGraph.self, from: g.jsonData())
        XCTAssertEqual(back.vessel.count, g.vessel.count, file: file, line: line)
        XCTAssertEqual(back.relations, g.relations, file: file, line: line)
    }

    func testBlankImage() throws {
        try assertValid(try VesselGraphBuilder().build(GrayImage(width: 304, height: 304, pixelSizeMM: 3.0 / 304, fill: 0.5)))
    }

    func testSaturatedImage() throws {
        let g = try VesselGraphBuilder().build(GrayImage(width: 304, height: 304, pixelSizeMM: 3.0 / 304, fill: 1))
        try assertValid(g)
        XCTAssertEqual(g.vessel.count, 0)
    }

    func testPureNoise() throws {
        var rng = SeededGenerator(seed: 7)
        let px = (0..<(200 * 200)).map { _ in Float(rng.uniform()) }
        try assertValid(try VesselGraphBuilder().build(GrayImage(width: 200, height: 200, pixelSizeMM: 0.01, pixels: px)))
    }

    func testTinyImage() throws {
        var rng = SeededGenerator(seed: 8)
        let px = (0..<(16 * 16)).map { _ in Float(rng.uniform()) }
        try assertValid(try VesselGraphBuilder().build(GrayImage(width: 16, height: 16, pixelSizeMM: 3.0 / 304, pixels: px)))
    }

    func testNonSquareImage() throws {
        let img = GeometricPhantom.network(width: 240, height: 90, pixelSizeMM: 3.0 / 304, seed: 3, lines: 40)
        let g = try VesselGraphBuilder().build(img)
        try assertValid(g)
        XCTAssertGreaterThan(g.vessel.count, 0)
    }

    func testTooSmallAndNaNAreTypedErrors() {
        XCTAssertThrowsError(try VesselGraphBuilder().build(GrayImage(width: 4, height: 30, pixelSizeMM: 0.01))) { e in
            XCTAssertEqual(e as? VesselGraphError, .imageTooSmall(width: 4, height: 30, minimumSidePX: 8))
        }
        var img = GrayImage(width: 20, height: 20, pixelSizeMM: 0.01)
        img.pixels[5] = .nan
        XCTAssertThrowsError(try VesselGraphBuilder().build(img)) { e in
            XCTAssertEqual(e as? VesselGraphError, .nonFinitePixels(count: 1))
        }
        XCTAssertThrowsError(try VesselGraphBuilder().build(GrayImage(width: 20, height: 20, pixelSizeMM: 0))) { e in
            XCTAssertEqual(e as? VesselGraphError, .invalidPixelSize(0))
            XCTAssertTrue("\(e)".contains("--fov-mm"))
        }
        XCTAssertThrowsError(try VesselGraphBuilder().analyze(GrayImage(width: 20, height: 20, pixelSizeMM: 0.01),
                                                              vesselMask: BinaryMask(width: 10, height: 20)))
    }

    func testSameInputGivesByteIdenticalJSON() throws {
        let img = GeometricPhantom.network(width: 304, height: 304, pixelSizeMM: 3.0 / 304, seed: 11)
        let a = try VesselGraphBuilder().build(img).jsonData(), b = try VesselGraphBuilder().build(img).jsonData()
        XCTAssertEqual(a, b)
    }

    func testJSONRoundTripKeepsEveryNumberToFourDecimals() throws {
        let img = GeometricPhantom.network(width: 304, height: 304, pixelSizeMM: 3.0 / 304, seed: 12)
        let g = try VesselGraphBuilder().build(img)
        let back = try JSONDecoder().decode(OCTAGraph.self, from: g.jsonData())
        XCTAssertEqual(back.widthPX, 304)
        XCTAssertEqual(back.vessel.featureNames, VesselGraphBuilder.vesselFeatureNames)
        XCTAssertEqual(back.vessel.footprints, g.vessel.footprints)
        XCTAssertEqual(back.ica.sector, g.ica.sector)
        XCTAssertEqual(back.biomarkers.keys.sorted(), g.biomarkers.keys.sorted())
        for (x, y) in zip(back.vessel.features + back.ica.features, g.vessel.features + g.ica.features) {
            XCTAssertEqual(Double(x), Double(y), accuracy: max(1e-4, 1e-6 * abs(Double(y))))
        }
        for (k, v) in g.biomarkers { XCTAssertEqual(back.biomarkers[k]!, v, accuracy: 1e-9 * max(1, abs(v)), k) }
    }

    func testConfigRoundTripsThroughJSON() throws {
        var c = VesselGraphConfig()
        c.spurLengthUM = 42
        c.laterality = .os
        let back = try JSONDecoder().decode(VesselGraphConfig.self, from: JSONEncoder().encode(c))
        XCTAssertEqual(back, c)
        // A partial file changes only what it names.
        let partial = try JSONDecoder().decode(VesselGraphConfig.self, from: Data(#"{"fazGrowToVesselsUM": 60}"#.utf8))
        var expected = VesselGraphConfig()
        expected.fazGrowToVesselsUM = 60
        XCTAssertEqual(partial, expected)
        XCTAssertThrowsError(try JSONDecoder().decode(VesselGraphConfig.self, from: Data(#"{"spurLengthUM": "long"}"#.utf8)))
    }

    /// Rim-completion settings out of any sensible range give a graph, never a trap.
    func testExtremeRimSettingsDoNotTrap() throws {
        let img = GeometricPhantom.network(width: 64, height: 64, pixelSizeMM: 0.01, seed: 3)
        let plain = try VesselGraphBuilder().analyze(img).vesselMask.count
        for (fraction, radius) in [(-1.0, 30.0), (2.0, 30.0), (0.6, 1e300), (0.6, -5), (.nan, .infinity), (0.6, .nan)] {
            var c = VesselGraphConfig()
            c.rimFraction = fraction
            c.rimFloorRadiusUM = radius
            let a = try VesselGraphBuilder(config: c).analyze(img)
            // Completion only ever adds pixels; off (fraction <= 0 or NaN) leaves the plain mask.
            var off = c
            off.rimFraction = 0
            let without = try VesselGraphBuilder(config: off).analyze(img).vesselMask.count
            if fraction > 0 { XCTAssertGreaterThanOrEqual(a.vesselMask.count, without) } else { XCTAssertEqual(a.vesselMask.count, without) }
            XCTAssertGreaterThan(a.vesselMask.count, 0, "fraction \(fraction) radius \(radius)")
        }
        XCTAssertGreaterThan(plain, 0)
    }
}
