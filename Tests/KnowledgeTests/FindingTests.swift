import GraphNet
import VesselGraph
@testable import Knowledge
import XCTest

/// Which findings are stated, and that none is stated without a deviation or an attribution behind it.
final class FindingTests: XCTestCase {
    let extractor = FindingExtractor(references: Fixtures.references())

    func findings(_ g: OCTAGraph, _ stage: String = "npdr", evidence: AttributionEvidence? = nil) throws -> [Finding] {
        try extractor.findings(graph: g, prediction: Fixtures.prediction(stage, [0.1, 0.8, 0.1]), classNames: Fixtures.classNames,
                               evidence: evidence)
    }

    func testDiseasedGraphStatesEveryDeviationWithItsReference() throws {
        let f = try findings(Fixtures.diseasedGraph())
        let facts = Set(f.map(\.fact.canonical))
        XCTAssertEqual(facts, ["faz.area=enlarged", "faz.border=irregular", "perfusion.density=reduced",
                               "perfusion.sector@IT=reduced", "perfusion.sector@II=reduced", "vessels.density=reduced",
                               "vessels.tortuosity@IT=tortuous", "vessels.caliber=dilated", "vessels.complexity=reduced",
                               "stage=npdr"])
        let area = f.first { $0.subject == .fazArea }!
        XCTAssertEqual(area.measurement?.value ?? 0, 0.55, accuracy: 1e-9)
        XCTAssertEqual(area.measurement?.unit, "mm2")
        XCTAssertEqual(area.reference!.p5, 0.24 + 0.10 * 0.05, accuracy: 1e-9)  // 5th percentile of 20 even values
        XCTAssertEqual(area.structure, FindingStructure(nodeType: "faz", nodeIDs: [0]))
        // The worse sector comes first; the tortuous segments are the long, most curved ones in IT.
        XCTAssertEqual(f.filter { $0.subject == .sectorPerfusion }.map { $0.location!.sector }, ["IT", "II"])
        let tort = f.first { $0.subject == .tortuosity }!
        // Top 10 by curveness = segments 11...2; those in IT (the most frequent sector among them): 11, 10, 9, 7, 3.
        XCTAssertEqual(tort.structure?.nodeIDs, [11, 10, 9, 7, 3])
        XCTAssertEqual(tort.location?.quadrant, "inferotemporal")  // of the most curved one (11, quadrant code 3)
        XCTAssertEqual(tort.location!.distanceFromFAZMM!, (1150.0 + 1100 + 1050 + 950 + 750) / 5 / 1000, accuracy: 1e-6)
        XCTAssertEqual(f.last?.classProbabilities?["npdr"] ?? 0, 0.8, accuracy: 1e-12)
    }

    func testNoFindingWithoutDeviationOrEvidence() throws {
        let margin = KnowledgeThresholds().deviationMargin
        for g in [Fixtures.diseasedGraph(), Fixtures.healthyGraph()] {
            for f in try findings(g) where f.topic != .diagnosis {
                XCTAssertNil(f.attributionShare, "no evidence, no attribution share: \(f.fact)")
                XCTAssertFalse(f.weighedMost)
                if f.direction.isAbnormal { XCTAssertGreaterThan(abs(f.deviation!), margin, "\(f.fact) stated without a deviation") }
                else { XCTAssertTrue([.fazArea, .fazBorder, .perfusionDensity, .vesselDensity].contains(f.subject),
                                     "only headline values are stated when normal: \(f.fact)") }
            }
        }
        // The healthy graph states no abnormality at all.
        XCTAssertFalse(try findings(Fixtures.healthyGraph()).contains { $0.direction.isAbnormal })
    }

    func testValueJustOutsideTheRangeIsNotCalledWithinTheMargin() throws {
        var g = Fixtures.healthyGraph()
        let r = Fixtures.references().first { $0.name == "faz_area_mm2" }!
        let margin = KnowledgeThresholds().deviationMargin
        g.biomarkers["faz_area_mm2"] = r.p95 + 0.5 * margin * (r.p95 - r.p5)  // half the margin beyond p95
        XCTAssertEqual(try findings(g).first { $0.subject == .fazArea }?.direction, .normal)
        g.biomarkers["faz_area_mm2"] = r.p95 + 2 * margin * (r.p95 - r.p5)
        XCTAssertEqual(try findings(g).first { $0.subject == .fazArea }?.direction, .enlarged)
    }

    func testMissingReferenceOrBiomarkerStatesNothing() throws {
        let bare = FindingExtractor(references: [])
        let f = try bare.findings(graph: Fixtures.diseasedGraph(), prediction: Fixtures.prediction("npdr", [0.1, 0.8, 0.1]),
                                  classNames: Fixtures.classNames, evidence: nil)
        XCTAssertEqual(f.map(\.fact.canonical), ["stage=npdr"])
        var g = Fixtures.healthyGraph()
        g.biomarkers["faz_found"] = 0
        XCTAssertEqual(try findings(g).filter { $0.topic == .faz }.map(\.fact.canonical), ["faz.detection=undetected"])
    }

    func testEvidenceMarksWhatWeighedMostAndItsFocus() throws {
        let g = Fixtures.diseasedGraph()
        let f = try findings(g, evidence: Fixtures.evidence(g))
        let most = f.filter(\.weighedMost)
        XCTAssertEqual(most.map(\.subject), [.fazArea])
        // FAZ area share = 0.5 / (0.5 + 0.1 + 0.2 + 0.15 + 0.05).
        XCTAssertEqual(most[0].attributionShare!, 0.5, accuracy: 1e-6)
        XCTAssertEqual(f.first { $0.subject == .perfusionDensity }!.attributionShare!, -0.15, accuracy: 1e-6)
        let focus = f.first { $0.subject == .attributionFocus }
        XCTAssertEqual(focus?.location?.sector, "IT")
        let lesion = f.first { $0.subject == .avascularArea }
        XCTAssertEqual(lesion?.location?.sector, "IT")
        XCTAssertEqual(lesion?.structure?.nodeIDs, [3, 7])
        // Marked but not larger than the healthy p95 of the mean intercapillary area (~21,150 um2): not a lesion.
        var smallICA = g
        for i in 0..<smallICA.ica.count { smallICA.ica.features[i * smallICA.ica.featureNames.count] = 15000 }
        XCTAssertNil(try findings(smallICA, evidence: Fixtures.evidence(smallICA)).first { $0.subject == .avascularArea })
        // A normal value is stated when (and only when) its attribution passes the threshold.
        var h = Fixtures.healthyGraph()
        h.biomarkers["vessel_curveness_mean"] = Fixtures.median("vessel_curveness_mean")
        let withE = try findings(h, evidence: Fixtures.evidence(h))
        XCTAssertEqual(withE.first { $0.subject == .tortuosity }?.direction, .normal)
        XCTAssertNil(try findings(h).first { $0.subject == .tortuosity })
    }

    func testUnconvergedEvidenceIsNotUsed() throws {
        let g = Fixtures.diseasedGraph()
        let f = try findings(g, evidence: Fixtures.evidence(g, delta: 0.5))  // 0.5 > 10% of 1.0
        XCTAssertTrue(f.allSatisfy { $0.attributionShare == nil })
        XCTAssertNil(f.first { $0.subject == .attributionFocus })
    }

    func testGradeClassesStateTheirStage() throws {
        XCTAssertEqual(try FindingExtractor.stageName(ofClass: "grade3"), "npdr")
        XCTAssertEqual(try FindingExtractor.stageName(ofClass: "grade4"), "pdr")
        XCTAssertThrowsError(try FindingExtractor.stageName(ofClass: "cat"))
    }
}
