import Foundation
import Retina
import Tensors
import XCTest
@testable import VLM

/// Two-stage training: overfitting to exact text, store round trips, resuming after a kill.
final class TrainingTests: XCTestCase {
    let answers = ["Stage: healthy\nNo lesions are seen.", "Stage: NPDR\nMicroaneurysms: 4, mostly nasal.",
                   "Stage: PDR\nNeovascularization: 2, mostly superior.", "Stage: NPDR\nThe FAZ is enlarged."]

    func setUpRun(_ name: String) throws -> (file: String, store: String) {
        let dir = Fixtures.tempDir(name)
        return (try Fixtures.writeDataset(in: dir, answers: answers), dir + "/store")
    }

    func testTinyConfigOverfitsAHandfulOfPairsToExactTextAndSaveLoadKeepsGenerations() throws {
        let (file, store) = try setUpRun("overfit")
        let options = TrainingOptions(alignmentSteps: 40, instructionSteps: 260, batchSize: 4, learningRate: 3e-3,
                                      minLearningRate: 3e-4, warmupSteps: 10, seed: 2, checkpointEvery: 0)
        let result = try VLMTrainingRun.run(data: file, config: .tiny, options: options, store: store, maxVocab: 400)
        XCTAssertFalse(result.outcome.cancelled)
        XCTAssertLessThan(result.outcome.finalLoss, 0.05)
        let dir = try XCTUnwrap(result.modelDirectory)
        XCTAssertTrue(dir.hasSuffix("vlm/v1"))
        for f in ["config.json", "weights.safetensors", "metrics.json", "tokenizer.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: dir + "/" + f), f)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: store + "/vlm/checkpoint"), "checkpoint removed after success")
        let loaded = try VLMStore.load(store: store)
        let data = try InstructionDataset.load(path: file)
        for r in data.records {
            let img = try ImageIO.read(path: r.imagePath)
            let out = try loaded.generator.generate(image: img, question: r.turns[0].question)
            XCTAssertEqual(out.text, r.turns[0].answer, "exact text for \(r.id)")
            XCTAssertEqual(out.stopReason, .endOfText)
        }
        // Save the loaded model again and load that copy: sampled generations are identical.
        let v2 = try VLMStore.save(model: loaded.model, tokenizer: loaded.tokenizer, metrics: [:], store: store)
        XCTAssertTrue(v2.hasSuffix("v2"))
        let copy = try VLMStore.load(store: store)
        XCTAssertEqual(copy.directory, v2)
        let img = try ImageIO.read(path: data.records[1].imagePath)
        let opts = GenerationOptions(maxTokens: 30, temperature: 1.5, topK: 20, seed: 7)
        XCTAssertEqual(try copy.generator.generate(image: img, question: "What is the stage?", options: opts).tokenIDs,
                       try loaded.generator.generate(image: img, question: "What is the stage?", options: opts).tokenIDs)
    }

    func testKilledRunResumesToTheSameWeightsAsAnUninterruptedOne() throws {
        let (file, storeA) = try setUpRun("resumeA")
        let storeB = Fixtures.tempDir("resumeB")
        let options = TrainingOptions(alignmentSteps: 6, instructionSteps: 10, batchSize: 3, learningRate: 2e-3,
                                      minLearningRate: 1e-4, warmupSteps: 2, seed: 4, checkpointEvery: 5)
        let straight = try VLMTrainingRun.run(data: file, config: .tiny, options: options, store: storeA, maxVocab: 400)
        XCTAssertFalse(straight.outcome.cancelled)
        XCTAssertEqual(straight.outcome.stepsDone, 16, "the uninterrupted reference run did all its steps")
        let flag = CancellationFlag()
        let first = try VLMTrainingRun.run(data: file, config: .tiny, options: options, store: storeB, maxVocab: 400,
                                           cancel: flag) { p in if p.step == 7 { flag.cancel() } }
        XCTAssertTrue(first.outcome.cancelled)
        XCTAssertNil(first.modelDirectory)
        XCTAssertEqual(first.outcome.stepsDone, 7)
        XCTAssertTrue(FileManager.default.fileExists(atPath: storeB + "/vlm/checkpoint/checkpoint.safetensors"))
        var steps: [Int] = []
        let second = try VLMTrainingRun.run(data: file, config: .tiny, options: options, store: storeB, maxVocab: 400) {
            steps.append($0.step)
        }
        XCTAssertEqual(second.outcome.resumedFrom, 7)
        XCTAssertEqual(steps, Array(8...16))
        let a = try VLMStore.load(store: storeA).model.namedParameters()
        let b = try VLMStore.load(store: storeB).model.namedParameters()
        for (x, y) in zip(a, b) { XCTAssertEqual(x.tensor.array, y.tensor.array, x.name) }
    }

    func testProgressReportsAndScheduleShape() throws {
        let (file, store) = try setUpRun("progress")
        let options = TrainingOptions(alignmentSteps: 4, instructionSteps: 8, batchSize: 2, learningRate: 1e-3,
                                      minLearningRate: 1e-4, warmupSteps: 2, seed: 1, checkpointEvery: 0)
        var reports: [TrainingProgress] = []
        _ = try VLMTrainingRun.run(data: file, config: .tiny, options: options, store: store, maxVocab: 400) { reports.append($0) }
        XCTAssertEqual(reports.map(\.step), Array(1...12))
        XCTAssertEqual(reports.map(\.stage), [1, 1, 1, 1] + [Int](repeating: 2, count: 8))
        // Warmup is capped at a quarter of a stage: 1 step in stage 1 (4 steps), 2 steps in stage 2 (8 steps).
        XCTAssertEqual(reports[0].learningRate, 1e-3, accuracy: 1e-9)
        XCTAssertEqual(reports[4].learningRate, 5e-4, accuracy: 1e-9, "warmup restarts: half the peak after 1 of 2 steps")
        XCTAssertEqual(reports[5].learningRate, 1e-3, accuracy: 1e-9)
        XCTAssertLessThan(reports[11].learningRate, reports[6].learningRate, "cosine decays")
        XCTAssertTrue(reports.allSatisfy { $0.loss.isFinite && $0.textTokensPerSecond > 0 })
        let json = try JSONSerialization.jsonObject(with: Data(reports[3].jsonLine.utf8)) as? [String: Any]
        XCTAssertEqual(json?["step"] as? Int, 4)
        XCTAssertNotNil(json?["eta_s"])
    }
}
