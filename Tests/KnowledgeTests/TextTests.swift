import GraphNet
import VesselGraph
@testable import Knowledge
import VLM
import XCTest

/// Templates: every phrasing parses back to its findings, units are present, seeds decide the wording,
/// and a graph without significant findings gets a short truthful answer.
final class TextTests: XCTestCase {
    let extractor = FindingExtractor(references: Fixtures.references())
    let parser = FactParser()

    /// The finding sets the round trip is checked on: diseased without and with evidence, healthy, no FAZ,
    /// a PDR call on a normal-looking graph, evidence against the call.
    func cases() throws -> [(String, [Finding], Bool)] {
        let d = Fixtures.diseasedGraph(), h = Fixtures.healthyGraph()
        var noFAZ = Fixtures.healthyGraph(); noFAZ.biomarkers["faz_found"] = 0
        var small = Fixtures.diseasedGraph()
        small.biomarkers["faz_area_mm2"] = 0.15; small.biomarkers["faz_circularity"] = 0.95
        small.biomarkers["perfusion_density"] = 0.40; small.biomarkers["skeleton_length_density_mm_per_mm2"] = 14
        small.biomarkers["vessel_radius_mean_um"] = 8
        var against = Fixtures.evidence(d, target: "pdr")
        against.featureTotals["faz"]!["area_mm2"] = -0.5
        func f(_ g: OCTAGraph, _ s: String, _ e: AttributionEvidence?) throws -> [Finding] {
            try extractor.findings(graph: g, prediction: Fixtures.prediction(s, s == "healthy" ? [0.8, 0.15, 0.05] : [0.1, 0.3, 0.6]),
                                   classNames: Fixtures.classNames, evidence: e)
        }
        return [("diseased", try f(d, "npdr", nil), false), ("diseased+evidence", try f(d, "npdr", Fixtures.evidence(d)), true),
                ("healthy", try f(h, "healthy", nil), false), ("no FAZ", try f(noFAZ, "healthy", nil), false),
                ("pdr on normal graph", try f(h, "pdr", nil), false), ("small FAZ, high density", try f(small, "pdr", nil), false),
                ("evidence against", try f(d, "pdr", against), true),
                ("healthy+evidence", try f(h, "healthy", Fixtures.evidence(h, target: "healthy")), true)]
    }

    func testEveryAnswerOfEveryPhrasingParsesBackToItsFindings() throws {
        var checked = 0
        for (name, findings, ev) in try cases() {
            let expected = KnowledgeText.statedFindings(findings).map { Set($0.map(\.fact)) }
            for variant in 0..<6 {
                let turns = KnowledgeText.turns(findings, chooser: PhraseChooser(fixed: variant), hasEvidence: ev)
                XCTAssertEqual(turns.count, 5)
                for (i, t) in turns.enumerated() {
                    let got = parser.parse(t.answer)
                    XCTAssertEqual(got, expected[i], "\(name), variant \(variant), turn \(i):\n\(t.answer)\nmissing \(expected[i].subtracting(got)), extra \(got.subtracting(expected[i]))")
                    checked += 1
                }
            }
        }
        XCTAssertEqual(checked, 8 * 6 * 5)
    }

    /// Every template family on its own: each subject/direction the extractor can produce, each phrasing.
    func testEverySentenceTemplateParsesAlone() throws {
        let m = Measurement(name: "x", value: 0.5, unit: "mm2", digits: 2)
        let r = ReferenceRange(p5: 0.2, p50: 0.3, p95: 0.4, count: 20)
        let loc = FindingLocation(sector: "IT", quadrant: "inferotemporal", distanceFromFAZMM: 0.9)
        let combos: [(FindingSubject, FindingDirection)] = [
            (.fazDetection, .undetected), (.perfusionDensity, .reduced), (.perfusionDensity, .increased), (.perfusionDensity, .normal),
            (.sectorPerfusion, .reduced), (.avascularArea, .present), (.vesselDensity, .reduced), (.vesselDensity, .increased),
            (.vesselDensity, .normal), (.tortuosity, .tortuous), (.tortuosity, .normal), (.caliber, .dilated), (.caliber, .narrowed),
            (.caliber, .normal), (.complexity, .reduced), (.complexity, .normal), (.attributionFocus, .concentrated)]
        var phrasings = Set<String>()
        // Deviations: none, borderline (inside the margin), mild, plain, marked.
        let deviations: [Double?] = [nil, -0.05, -0.3, 1.0, 2.0]
        for (s, d) in combos {
            for (share, dev) in zip([nil, 0.3, -0.3, nil, 0.3] as [Double?], deviations) {
                for v in 0..<4 {
                    let f = Finding(subject: s, direction: d, structure: FindingStructure(nodeType: "ica", nodeIDs: [1, 2]),
                                    location: s.isLocated ? loc : nil, measurement: m, reference: r, deviation: dev,
                                    attributionShare: share, weighedMost: share == 0.3)
                    var c = PhraseChooser(fixed: v)
                    let text = FindingSentences.sentence(f, stage: "npdr", threshold: 0.1, &c)
                    phrasings.insert(text)
                    XCTAssertEqual(parser.parse(text), [f.fact], text)
                    var c2 = PhraseChooser(fixed: v)
                    if let short = FindingSentences.short(f, &c2) {
                        XCTAssertEqual(parser.parse("Measured deviations: \(short)."), [f.fact], short)
                    }
                }
            }
        }
        // FAZ area x border, each direction and phrasing.
        for a in [FindingDirection.enlarged, .small, .normal] {
            for b in [FindingDirection.irregular, .regular] {
                for (v, dev) in (0..<10).map({ ($0, deviations[$0 % deviations.count]) }) {
                    let area = Finding(subject: .fazArea, direction: a, measurement: m, reference: r, deviation: dev,
                                       attributionShare: 0.4, weighedMost: true)
                    let border = Finding(subject: .fazBorder, direction: b, measurement: Measurement(name: "c", value: 0.6, unit: "circularity", digits: 2),
                                         reference: r, deviation: dev)
                    var c = PhraseChooser(fixed: v)
                    let text = FindingSentences.faz(area: area, border: border, stage: "pdr", threshold: 0.1, &c)
                    phrasings.insert(text)
                    XCTAssertEqual(parser.parse(text), [area.fact, border.fact], text)
                    var c2 = PhraseChooser(fixed: v)
                    XCTAssertEqual(parser.parse(FindingSentences.faz(area: nil, border: border, stage: "pdr", threshold: 0.1, &c2)), [border.fact])
                }
            }
        }
        XCTAssertGreaterThan(phrasings.count, 100)
    }

    func testUnitsAndRangesAreWrittenForEveryMeasuredFinding() throws {
        for (name, findings, ev) in try cases() {
            let report = KnowledgeText.turns(findings, chooser: PhraseChooser(seed: 3, imageID: name), hasEvidence: ev)[4].answer
            for f in findings {
                guard let m = f.measurement, f.subject != .attributionFocus else { continue }
                XCTAssertTrue(report.contains(m.text), "\(name): \(m.text) missing in\n\(report)")
                XCTAssertTrue(m.isIndex || m.text.contains(m.unit), m.text)
                if let r = f.reference { XCTAssertTrue(report.contains("healthy " + m.rangeText(r)), "\(name): range of \(f.fact)") }
            }
        }
        XCTAssertEqual(Measurement(name: "p", value: 31.25, unit: "%", digits: 1).text, "31.2%")
        XCTAssertEqual(Measurement(name: "a", value: 0.5234, unit: "mm2", digits: 2).text, "0.52 mm2")
    }

    func testTextWithoutEvidenceNeverSaysWhatWeighed() throws {
        for (name, findings, ev) in try cases() where !ev {
            for t in KnowledgeText.turns(findings, chooser: PhraseChooser(seed: 1, imageID: name), hasEvidence: false) {
                for phrase in ["weighed", "evidence for", "supported the", "argued against", "rested", "concentrates"] {
                    XCTAssertFalse(t.answer.contains(phrase), "\(name): \"\(phrase)\" in\n\(t.answer)")
                }
            }
        }
    }

    func testEvidenceTextNamesWhatWeighedMost() throws {
        let (_, findings, _) = try cases()[1]
        let t = KnowledgeText.turns(findings, chooser: PhraseChooser(fixed: 0), hasEvidence: true)
        XCTAssertTrue(t[0].answer.hasPrefix("The FAZ is markedly enlarged (0.55 mm2; healthy 0.24-0.34 mm2), with a markedly irregular border (circularity 0.60; healthy 0.79-0.89); this weighed most towards NPDR."), t[0].answer)
        XCTAssertTrue(t[3].answer.contains("Of these, a markedly enlarged FAZ weighed most towards NPDR."), t[3].answer)
        XCTAssertTrue(t[3].answer.contains("The decision rested mostly on the inner temporal sector (73% of the positive node attribution)."), t[3].answer)
        XCTAssertTrue(t[1].answer.contains("this weighed against NPDR"), t[1].answer)
    }

    func testSameSeedSameTextDifferentSeedsVary() throws {
        let g = Fixtures.diseasedGraph()
        let p = Fixtures.prediction("npdr", [0.1, 0.8, 0.1])
        func text(_ seed: UInt64, _ id: String = "eye_1") throws -> [String] {
            try KnowledgeBuilder(references: Fixtures.references(), classNames: Fixtures.classNames, seed: seed)
                .knowledge(id: id, imagePath: "/x.png", split: "train", label: "npdr", graph: g, prediction: p, evidence: nil,
                           evidenceSource: "none").turns.map(\.answer)
        }
        XCTAssertEqual(try text(7), try text(7))
        let reports = Set(try (1...12).map { try text($0)[4] })
        XCTAssertGreaterThanOrEqual(reports.count, 8, "12 seeds gave only \(reports.count) distinct reports")
        XCTAssertNotEqual(try text(7, "eye_1"), try text(7, "eye_2"), "two images with equal findings read identically")
        // Wording varies, facts do not.
        for r in reports { XCTAssertEqual(parser.parse(r), Set(try cases()[0].1.map(\.fact))) }
    }

    func testGraphWithoutSignificantFindingsGetsAShortTruthfulAnswer() throws {
        let healthy = try cases()[2].1
        let t = KnowledgeText.turns(healthy, chooser: PhraseChooser(fixed: 0), hasEvidence: false)
        XCTAssertEqual(t[3].answer, "Stage: healthy\nThe graph model predicts healthy with a probability of 80% (NPDR 15%, PDR 5%). No measured biomarker deviates from its healthy reference.")
        XCTAssertEqual(t[0].answer, "The FAZ area is within the healthy range (0.29 mm2; healthy 0.24-0.34 mm2), with a regular border (circularity 0.84; healthy 0.79-0.89).")
        // A disease call without any deviation says so instead of inventing a reason.
        let pdr = try cases()[4].1
        let d = KnowledgeText.turns(pdr, chooser: PhraseChooser(fixed: 0), hasEvidence: false)[3].answer
        XCTAssertTrue(d.hasPrefix("Stage: PDR\n"), d)
        XCTAssertTrue(d.hasSuffix("No measured biomarker deviates from its healthy reference, so no finding can be named behind this prediction."), d)
        XCTAssertEqual(StageLine.parse(d), .pdr)
        XCTAssertLessThan(d.split(separator: " ").count, 40)
    }
}

/// Text for an image-only student: no graph model to quote.
final class StudentTextTests: XCTestCase {
    func testStudentTextLeavesOutTheModelsProbabilitiesAndKeepsEveryFact() throws {
        let g = Fixtures.diseasedGraph()
        func k(_ quotes: Bool) throws -> ImageKnowledge {
            try KnowledgeBuilder(references: Fixtures.references(), classNames: Fixtures.classNames, seed: 3, quotesModel: quotes)
                .knowledge(id: "e", imagePath: "/e.png", split: "train", label: "npdr", graph: g,
                           prediction: Fixtures.prediction("npdr", [0.1, 0.7, 0.2]), evidence: Fixtures.evidence(g), evidenceSource: "fixture")
        }
        let teacher = try k(true), student = try k(false)
        XCTAssertTrue(teacher.turns[3].answer.contains("70%"), teacher.turns[3].answer)
        for turn in student.turns {
            XCTAssertFalse(turn.answer.contains("graph model") || turn.answer.contains("graph neural network") || turn.answer.contains("70%"), turn.answer)
        }
        let diag = student.turns[3].answer
        XCTAssertTrue(diag.hasPrefix("Stage: NPDR\n") && !diag.contains("\n "), diag)
        XCTAssertEqual(StageLine.parse(diag), .npdr)
        // Same findings, and every answer still states exactly its facts.
        XCTAssertEqual(student.facts, teacher.facts)
        for (turn, stated) in zip(student.turns, KnowledgeText.statedFindings(student.findings)) {
            XCTAssertEqual(FactParser().parse(turn.answer), Set(stated.map(\.fact)), turn.answer)
        }
    }
}

/// Stating the manifest label instead of the model's stage.
final class StatedLabelTests: XCTestCase {
    func testLabelStageLineQuotesTheDisagreeingModel() throws {
        let b = KnowledgeBuilder(references: Fixtures.references(), classNames: Fixtures.classNames, seed: 1)
        let g = Fixtures.diseasedGraph()
        let k = try b.knowledge(id: "e", imagePath: "/e.png", split: "test", label: "pdr", graph: g,
                                prediction: Fixtures.prediction("npdr", [0.1, 0.7, 0.2]), evidence: Fixtures.evidence(g),
                                evidenceSource: "fixture", stateLabel: true)
        XCTAssertEqual(k.stage, "pdr")
        let diag = k.turns[3].answer
        XCTAssertEqual(StageLine.parse(diag), .pdr)
        XCTAssertTrue(diag.contains("NPDR most likely, at 70% (healthy 10%, PDR 20%)") || diag.contains("NPDR instead, with a probability of 70% (healthy 10%, PDR 20%)"), diag)
        // Attribution wording names the class the attributions explain (the model's), not the label.
        XCTAssertTrue(diag.contains("weighed most towards NPDR"), diag)
        XCTAssertEqual(k.findings.last?.modelStage, "npdr")
        XCTAssertEqual(FactParser().parse(diag), Set(KnowledgeText.statedFindings(k.findings)[3].map(\.fact)))
        // Agreeing label: the usual sentence.
        let same = try b.knowledge(id: "e", imagePath: "/e.png", split: "test", label: "npdr", graph: g,
                                   prediction: Fixtures.prediction("npdr", [0.1, 0.7, 0.2]), evidence: nil,
                                   evidenceSource: "none", stateLabel: true)
        XCTAssertFalse(same.turns[3].answer.contains("disagrees") || same.turns[3].answer.contains("instead"))
    }
}
