import Foundation
import Retina
import XCTest
@testable import VLM

/// LLaVA loading, answer-only masks, staging metrics and caption facts.
final class DataAndMetricsTests: XCTestCase {
    func testLLaVAFileLoadsWithRelativeImagesAndAnswerOnlyMask() throws {
        let dir = Fixtures.tempDir("llava")
        try FileManager.default.createDirectory(atPath: dir + "/img", withIntermediateDirectories: true)
        try ImageIO.writePNG(Fixtures.image(kind: 0), to: dir + "/img/a.png")
        let json = """
        [{"id": "a", "image": "img/a.png", "split": "train", "findings": [],
          "conversations": [{"from": "human", "value": "<image>\\nDescribe the FAZ."}, {"from": "gpt", "value": "The FAZ is enlarged."},
                            {"from": "human", "value": "Stage?"}, {"from": "gpt", "value": "Stage: NPDR"}]},
         {"id": "b", "image": "img/a.png", "split": "test",
          "conversations": [{"from": "human", "value": "<image>\\nStage?"}, {"from": "gpt", "value": "Stage: PDR"}]}]
        """
        try Data(json.utf8).write(to: URL(fileURLWithPath: dir + "/d.json"))
        let train = try InstructionDataset.load(path: dir + "/d.json", split: "train")
        XCTAssertEqual(train.records.map(\.id), ["a"])
        XCTAssertEqual(train.records[0].imagePath, dir + "/img/a.png")
        XCTAssertEqual(train.records[0].turns, [InstructionTurn(question: "Describe the FAZ.", answer: "The FAZ is enlarged."),
                                                 InstructionTurn(question: "Stage?", answer: "Stage: NPDR")])
        XCTAssertEqual(train.records[0].diagnosisTurn?.answer, "Stage: NPDR")
        let tok = Tokenizer.train(texts: ["Describe the FAZ.", "The FAZ is enlarged.", "Stage: NPDR"], maxVocab: 400)
        let corpus = try EncodedCorpus(dataset: train, tokenizer: tok, config: Fixtures.tinyConfig(vocab: tok.vocabSize))
        XCTAssertEqual(corpus.images.count, 1)
        XCTAssertEqual(corpus.examples.count, 2)
        let ex = corpus.examples[1]
        let prompt = EncodedCorpus.promptIDs(question: "Stage?", tokenizer: tok)
        XCTAssertEqual(Array(ex.ids.prefix(prompt.count)), prompt)
        XCTAssertEqual(ex.lossMask, [Bool](repeating: false, count: prompt.count) + [Bool](repeating: true, count: ex.ids.count - prompt.count))
        XCTAssertEqual(ex.ids.last, Tokenizer.eos)
        XCTAssertEqual(tok.decode(Array(ex.ids[prompt.count...])), "Stage: NPDR")

        // JSONL and folder forms.
        let lines = "{\"id\": \"c\", \"image\": \"img/a.png\", \"conversations\": [{\"from\": \"human\", \"value\": \"<image>\\nq\"}, {\"from\": \"gpt\", \"value\": \"Stage: healthy\"}]}\n"
        try Data(lines.utf8).write(to: URL(fileURLWithPath: dir + "/test.jsonl"))
        XCTAssertEqual(try InstructionDataset.load(path: dir, split: "test").records.map(\.id), ["c"])
    }

    func testMalformedRecordsAreTypedErrorsNamingFileAndRecord() throws {
        let dir = Fixtures.tempDir("badllava")
        try Data("[{\"id\": \"x\", \"image\": \"a.png\", \"conversations\": [{\"from\": \"gpt\", \"value\": \"a\"}]}]".utf8)
            .write(to: URL(fileURLWithPath: dir + "/d.json"))
        XCTAssertThrowsError(try InstructionDataset.load(path: dir + "/d.json")) { e in
            guard case VLMError.badRecord(let p, let i, _) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(p.hasSuffix("d.json")); XCTAssertEqual(i, 0)
        }
        XCTAssertThrowsError(try InstructionDataset.load(path: dir + "/none.json"))
    }

    func testStagingMetricsOnKnownCases() {
        let t: [DRStage] = [.healthy, .healthy, .npdr, .npdr, .pdr, .pdr]
        let perfect = StagingMetrics(truth: t, predicted: t)
        XCTAssertEqual(perfect.accuracy, 1); XCTAssertEqual(perfect.balancedAccuracy, 1)
        XCTAssertEqual(perfect.macroF1, 1); XCTAssertEqual(perfect.quadraticWeightedKappa, 1, accuracy: 1e-12)
        // One NPDR called PDR, one PDR unparsed.
        let m = StagingMetrics(truth: t, predicted: [.healthy, .healthy, .npdr, .pdr, .pdr, nil])
        XCTAssertEqual(m.accuracy, 4.0 / 6, accuracy: 1e-12)
        XCTAssertEqual(m.unparsed, 1)
        XCTAssertEqual(m.balancedAccuracy, (1 + 0.5 + 0.5) / 3, accuracy: 1e-12)
        // F1: healthy 1; npdr p=1 r=.5 -> 2/3; pdr p=.5 r=.5 -> .5
        XCTAssertEqual(m.macroF1, (1 + 2.0 / 3 + 0.5) / 3, accuracy: 1e-12)
        XCTAssertEqual(m.confusion[2], [0, 0, 1, 1])
        // QWK by hand for [[2,0,0],[0,1,1],[0,0,1]]: O = (1/4)/5, E = sum w r c / 25.
        let cm = [[2, 0, 0], [0, 1, 1], [0, 0, 1]]
        let rows = [2.0, 2, 1], cols = [2.0, 1, 2]
        var e = 0.0
        for i in 0..<3 { for j in 0..<3 { e += Double((i - j) * (i - j)) / 4 * rows[i] * cols[j] / 25 } }
        XCTAssertEqual(StagingMetrics.qwk(cm), 1 - 0.25 / 5 / e, accuracy: 1e-12)
        XCTAssertEqual(StageLine.parse("blah\nStage: NPDR\nx"), .npdr)
        XCTAssertEqual(StageLine.parse("Stage: healthy."), .healthy)
        XCTAssertNil(StageLine.parse("Stage: maybe"))
        XCTAssertEqual(StageLine.render(.pdr), "Stage: PDR")
    }

    func testCaptionFactsParseBackFromTheTemplates() throws {
        let lesions = [Lesion(type: .microaneurysm, centerMM: (2.6, 1.5), radiusUM: 10, pixelSizeMM: 0.01),
                       Lesion(type: .microaneurysm, centerMM: (2.5, 1.6), radiusUM: 10, pixelSizeMM: 0.01),
                       Lesion(type: .nonPerfusion, centerMM: (1.5, 0.3), radiusUM: 200, pixelSizeMM: 0.01)]
        XCTAssertEqual(ImageSector.of(pointMM: [1.5, 1.6], fovMM: 3), .central)
        XCTAssertEqual(ImageSector.of(pointMM: [2.6, 1.5], fovMM: 3), .nasal)
        XCTAssertEqual(ImageSector.of(pointMM: [1.5, 0.3], fovMM: 3), .superior)
        let text = "Stage: NPDR\nThe FAZ is enlarged. Perfusion density is within the healthy range. "
            + GroundTruthCaptions.lesionSentence(.nonPerfusion, lesions, fovMM: 3) + " "
            + GroundTruthCaptions.lesionSentence(.microaneurysm, lesions, fovMM: 3) + " "
            + GroundTruthCaptions.lesionSentence(.neovascularization, lesions, fovMM: 3)
        let facts = CaptionFactParser().facts(in: text)
        XCTAssertEqual(facts, ["stage=npdr", "faz=enlarged", "perfusion=normal", "nonperfusion=present",
                               "nonperfusion@superior", "microaneurysm=present", "microaneurysm@nasal",
                               "neovascularization=absent"])
        let score = FactScore(pairs: [(generated: facts.union(["neovascularization=present"]), reference: facts)],
                              isFinding: CaptionFactParser().isFinding)
        XCTAssertEqual(score.recall, 1)
        XCTAssertEqual(score.precision, 8.0 / 9, accuracy: 1e-12)
        XCTAssertEqual(score.hallucinationRate, 1.0 / 6, accuracy: 1e-12)  // 6 findings, 1 absent from the truth
        XCTAssertEqual(score.localizationAccuracy, 1)
    }
}
