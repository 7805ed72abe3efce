@testable import Knowledge
import VLM
import XCTest

/// The fact parser on free text and as VLM's `FactScorer`.
final class FactScorerTests: XCTestCase {
    let scorer = KnowledgeFactScorer()

    func testFreeTextParaphrasesAreRead() {
        let text = """
        Stage: NPDR
        The foveal avascular zone appears enlarged, and its contour is irregular. Perfusion is reduced in the outer nasal sector. \
        The vessels look tortuous, mostly in the inner superior sector. Vessel density is within the healthy range.
        """
        XCTAssertEqual(scorer.facts(in: text), ["stage=npdr", "faz.area=enlarged", "faz.border=irregular", "perfusion.sector@ON=reduced",
                                                "vessels.tortuosity@IS=tortuous", "vessels.density=normal"])
        // Numbers and ranges in parentheses never make facts; "abnormal" is not "normal".
        XCTAssertEqual(scorer.facts(in: "The FAZ is abnormal (0.9 mm2; healthy 0.2-0.3 mm2)."), [])
        XCTAssertEqual(scorer.facts(in: "No FAZ could be delineated on this image."), ["faz.detection=undetected"])
    }

    func testScoresAgainstAReference() throws {
        let reference = "Stage: NPDR\nThe FAZ is enlarged. Perfusion is reduced in the inner temporal sector. Vessels are tortuous."
        let perfect = scorer.score(generated: [reference], reference: [reference])
        XCTAssertEqual(perfect.precision, 1); XCTAssertEqual(perfect.recall, 1); XCTAssertEqual(perfect.f1, 1)
        // Right stage and FAZ, wrong sector, a hallucinated finding, a missed one.
        let gen = "Stage: NPDR\nThe FAZ is enlarged. Perfusion is reduced in the inner nasal sector. Vessels are dilated."
        let s = scorer.score(generated: [gen], reference: [reference])
        // Generated: stage, faz, perf@IN, caliber (4); reference: stage, faz, perf@IT, tortuosity (4); 2 shared.
        XCTAssertEqual(s.precision, 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.recall, 0.5, accuracy: 1e-12)
        XCTAssertEqual(s.f1, 0.5, accuracy: 1e-12)
        // Findings generated: faz enlarged, perf@IN, dilated -> 2 of 3 not in the reference.
        XCTAssertEqual(s.hallucinationRate, 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(s.localizationAccuracy, 0)
        XCTAssertTrue(scorer.isFinding("faz.area=enlarged"))
        XCTAssertFalse(scorer.isFinding("faz.area=normal"))
        XCTAssertFalse(scorer.isFinding("stage=npdr"))
    }
}
