import Foundation
import Retina
import XCTest
@testable import VLM

/// Captions from a real (small) simulated cohort: stage line, facts consistent with meta/*.json, JSON round trip.
final class GroundTruthCaptionTests: XCTestCase {
    func testCaptionsStateTheGroundTruthAndRoundTripThroughLLaVAJSON() throws {
        let dir = Fixtures.tempDir("cohort")
        let mix = try StageMix(parsing: "healthy:0.34,npdr:0.33,pdr:0.33")
        _ = try CohortGenerator(config: SimulatorConfig(sizePX: 96, fovMM: 3)).write(count: 6, seed: 3, mix: mix, to: dir) { _, _ in }
        let (truthData, truths) = try GroundTruthCaptions.dataset(cohort: dir, style: .truth)
        XCTAssertEqual(truthData.records.count, 6)
        let parser = CaptionFactParser()
        for r in truthData.records {
            let t = try XCTUnwrap(truths[r.id])
            XCTAssertEqual(r.turns.count, 4)
            let diagnosis = try XCTUnwrap(r.diagnosisTurn)
            XCTAssertEqual(diagnosis.question, GroundTruthCaptions.diagnosisQuestion)
            XCTAssertTrue(diagnosis.answer.hasPrefix(StageLine.render(t.stage) + "\n"))
            XCTAssertEqual(StageLine.parse(diagnosis.answer), t.stage)
            let facts = parser.facts(in: diagnosis.answer)
            XCTAssertTrue(facts.contains("stage=\(t.stage.rawValue)"))
            XCTAssertEqual(facts.contains("microaneurysm=present"), t.microaneurysmCount > 0, r.id)
            XCTAssertEqual(facts.contains("microaneurysm=absent"), t.microaneurysmCount == 0, r.id)
            XCTAssertEqual(facts.contains("neovascularization=present"), t.neovascularizationCount > 0, r.id)
            XCTAssertEqual(facts.contains("nonperfusion=present"), t.nonPerfusionCount > 0, r.id)
            XCTAssertTrue(r.turns[0].answer.contains(String(format: "%.2f mm2", t.fazAreaMM2)), "FAZ area with units")
            XCTAssertTrue(FileManager.default.fileExists(atPath: r.imagePath))
        }
        let out = dir + "/captions/truth.json"
        try FileManager.default.createDirectory(atPath: dir + "/captions", withIntermediateDirectories: true)
        try truthData.write(to: out)
        let back = try InstructionDataset.load(path: out)
        XCTAssertEqual(back.records.map(\.turns), truthData.records.map(\.turns))
        XCTAssertEqual(back.records.map { URL(fileURLWithPath: $0.imagePath).standardizedFileURL.path },
                       truthData.records.map { URL(fileURLWithPath: $0.imagePath).standardizedFileURL.path })
        let (labels, _) = try GroundTruthCaptions.dataset(cohort: dir, style: .label)
        XCTAssertTrue(labels.records.allSatisfy { $0.turns.count == 1 && StageLine.parse($0.turns[0].answer) != nil
            && !$0.turns[0].answer.contains("\n") })
    }
}
