import Common
import Foundation
import Retina
import Tensors
import XCTest
@testable import VLM

/// The staging aids of stage 1 (encoder distillation, class-balanced batches, symmetry augmentation), the
/// teacher-agreement metric and the fused linear + GELU kernel the blocks use.
final class DistillationTests: XCTestCase {
    let answers = ["Stage: healthy\nNo lesions are seen.", "Stage: NPDR\nMicroaneurysms: 4, mostly nasal.",
                   "Stage: PDR\nNeovascularization: 2, mostly superior.", "Stage: NPDR\nThe FAZ is enlarged."]
    let teacher = ["healthy", "pdr", "pdr", "npdr"]

    /// The four-record dataset with graph-knowledge fields: the teacher's stage and two biomarkers.
    func writeKnowledgeDataset(_ name: String) throws -> String {
        let dir = Fixtures.tempDir(name)
        let file = try Fixtures.writeDataset(in: dir, answers: answers)
        var extra: [String: [String: Any]] = [:]
        for i in 0..<answers.count {
            extra["img\(i)"] = ["findings": [
                ["subject": "diagnosis.stage", "model_stage": teacher[i]],
                ["subject": "faz.area", "measurement": ["name": "faz_area_mm2", "value": 0.2 + 0.1 * Double(i)]],
                ["subject": "perfusion.density", "measurement": ["name": "perfusion_density", "value": 40 - 3 * Double(i)]],
                // Present for one image only: not a distillation target.
                i == 0 ? ["subject": "lesions.avascular", "measurement": ["name": "area_um2", "value": 0.3]] : [:],
            ]]
        }
        try InstructionDataset.load(path: file).write(to: file, extraFields: extra)
        return file
    }

    func testTeacherStageAndBiomarkersAreReadAndAgreementIsScored() throws {
        let file = try writeKnowledgeDataset("teacher")
        let data = try InstructionDataset.load(path: file)
        XCTAssertEqual(data.records.map { $0.teacherStage?.rawValue }, teacher)
        XCTAssertEqual(data.records[2].measurements["faz_area_mm2"] ?? .nan, 0.4, accuracy: 1e-12)
        XCTAssertEqual(data.records[0].measurements["area_um2"], 0.3)
        XCTAssertNil(data.records[1].measurements["area_um2"])
        // The teacher stage survives a write/load round trip (as a top-level teacher_stage key).
        let copy = Fixtures.tempDir("teacher-copy") + "/copy.json"
        try data.write(to: copy)
        XCTAssertEqual(try InstructionDataset.load(path: copy).records.map { $0.teacherStage?.rawValue }, teacher)

        let tok = Tokenizer.train(texts: answers + ["What is the stage?"], maxVocab: 400)
        let model = try VLMModel(config: Fixtures.tinyConfig(vocab: tok.vocabSize), seed: 3)
        let report = try VLMEvaluation.run(generator: try VLMGenerator(model: model, tokenizer: tok), dataset: data,
                                           maxTokens: 12)
        XCTAssertEqual(report.teacherCount, 4)
        let agreeing = zip(report.answers, teacher).filter { $0.0.predicted == $0.1 }.count
        XCTAssertEqual(report.teacherAgreement ?? -1, Double(agreeing) / 4, accuracy: 1e-12)
        XCTAssertEqual(report.answers.map(\.teacher), teacher)
    }

    func testDistillationTargetsAndTrainingLowersTheProbeLoss() throws {
        let file = try writeKnowledgeDataset("probe")
        let data = try InstructionDataset.load(path: file)
        let tok = Tokenizer.train(texts: answers + ["What is the stage?"], maxVocab: 400)
        let cfg = Fixtures.tinyConfig(vocab: tok.vocabSize)
        let corpus = try EncodedCorpus(dataset: data, tokenizer: tok, config: cfg)
        XCTAssertEqual(corpus.stages, [0, 1, 2, 1])
        let model = try VLMModel(config: cfg, seed: 3)
        let probe = VisualDistillation(corpus: corpus, dModel: cfg.dModel, seed: 3)
        XCTAssertEqual(probe.names, ["faz_area_mm2", "perfusion_density"], "only biomarkers every image has")
        XCTAssertEqual(probe.mean[0], 0.35, accuracy: 1e-6)
        // Inverse-frequency class weights: NPDR (2 images) weighs half of healthy and PDR (1 each).
        XCTAssertEqual(probe.classWeights[0], 2 * probe.classWeights[1], accuracy: 1e-6)
        let params = model.namedParameters() + probe.namedParameters(prefix: "distill.")
        let opt = ResumableAdamW(parameters: params, learningRate: 3e-3)
        func probeLoss() -> Float {
            let v = model.encodeImages(Tensor(corpus.images.flatMap { $0 }, shape: [4, cfg.visualTokens, cfg.patchDim]))
            return probe.loss(visual: v, imageIndices: [0, 1, 2, 3]).item
        }
        let before = Tensor.withoutGrad { probeLoss() }
        for _ in 0..<40 {
            for (_, p) in params { p.zeroGrad() }
            let v = model.encodeImages(Tensor(corpus.images.flatMap { $0 }, shape: [4, cfg.visualTokens, cfg.patchDim]))
            probe.loss(visual: v, imageIndices: [0, 1, 2, 3]).backward()
            opt.step()
        }
        let after = Tensor.withoutGrad { probeLoss() }
        XCTAssertLessThan(after, 0.2 * before, "the encoder + probe fit 4 images' stages and biomarkers")
    }

    func testDistilledBalancedAugmentedRunResumesToTheSameWeights() throws {
        let file = try writeKnowledgeDataset("resume-distill")
        let storeA = Fixtures.tempDir("resume-distill-a"), storeB = Fixtures.tempDir("resume-distill-b")
        let options = TrainingOptions(alignmentSteps: 6, instructionSteps: 6, batchSize: 3, learningRate: 2e-3,
                                      minLearningRate: 1e-4, warmupSteps: 2, seed: 4, checkpointEvery: 4,
                                      distillWeight: 1, balancedAlignment: true, augmentAlignment: true)
        _ = try VLMTrainingRun.run(data: file, config: .tiny, options: options, store: storeA, maxVocab: 400)
        let flag = CancellationFlag()
        let first = try VLMTrainingRun.run(data: file, config: .tiny, options: options, store: storeB, maxVocab: 400,
                                           cancel: flag) { p in if p.step == 5 { flag.cancel() } }
        XCTAssertTrue(first.outcome.cancelled)
        let (saved, _) = try SafeTensors.read(path: storeB + "/vlm/checkpoint/checkpoint.safetensors")
        XCTAssertTrue(saved.contains { $0.name == "distill.head.weight" }, "the probe is checkpointed")
        let second = try VLMTrainingRun.run(data: file, config: .tiny, options: options, store: storeB, maxVocab: 400)
        XCTAssertEqual(second.outcome.resumedFrom, 5)
        let a = try VLMStore.load(store: storeA).model.namedParameters()
        let b = try VLMStore.load(store: storeB).model.namedParameters()
        XCTAssertEqual(a.map(\.name), b.map(\.name))
        for (x, y) in zip(a, b) { XCTAssertEqual(x.tensor.array, y.tensor.array, x.name) }
    }

    func testBalancedAlignmentBatchesCycleThroughTheStages() throws {
        let file = try writeKnowledgeDataset("balanced")
        let data = try InstructionDataset.load(path: file)
        let tok = Tokenizer.train(texts: answers + ["What is the stage?"], maxVocab: 400)
        let cfg = Fixtures.tinyConfig(vocab: tok.vocabSize)
        let corpus = try EncodedCorpus(dataset: data, tokenizer: tok, config: cfg)
        let trainer = try VLMTrainer(model: try VLMModel(config: cfg, seed: 1), alignment: corpus, instruction: corpus,
                                     options: TrainingOptions(alignmentSteps: 4, instructionSteps: 1, batchSize: 6,
                                                              balancedAlignment: true))
        for s in 0..<4 {
            let stages = trainer.batchIndices(at: s).map { corpus.stages[corpus.examples[$0].imageIndex] }
            XCTAssertEqual(stages.sorted(), [0, 0, 1, 1, 2, 2], "step \(s): each stage twice in a batch of 6")
            XCTAssertEqual(trainer.batchIndices(at: s), trainer.batchIndices(at: s), "seeded by the step")
        }
    }

    func testPatchAugmentationIsTheSymmetryGroupOfTheSquare() {
        let cfg = VLMConfig.tiny  // 32 px, 8 px patches
        let aug = PatchAugmentation(config: cfg)
        let n = cfg.imageSizePX * cfg.imageSizePX
        let x = (0..<n).map { Float($0) }
        XCTAssertEqual(aug.apply(0, to: x), x)
        var images = Set<[Float]>()
        for t in 0..<8 {
            let y = aug.apply(t, to: x)
            XCTAssertEqual(Set(y).count, n, "transform \(t) is a permutation")
            images.insert(y)
        }
        XCTAssertEqual(images.count, 8, "eight distinct symmetries")
        var r = x
        for _ in 0..<4 { r = aug.apply(1, to: r) }
        XCTAssertEqual(r, x, "four quarter turns are the identity")
        XCTAssertEqual(aug.apply(1, to: aug.apply(1, to: x)), aug.apply(2, to: x))
        XCTAssertEqual(aug.apply(4, to: aug.apply(4, to: x)), x, "a mirror twice is the identity")
        // A bright pixel at image (row 0, column 1) mirrors to (row 0, column 30) on a real image.
        var px = [Float](repeating: 0, count: n); px[1] = 1
        let img = GrayImage(width: 32, height: 32, pixelSizeMM: 0.1, pixels: px)
        let patches = ImagePatches.patches(of: img, config: cfg)
        let mirrored = aug.apply(4, to: patches)
        let top = patches.max()!
        // Column 30 lies in patch column 3 (of 4), pixel column 6 of that patch, row 0.
        XCTAssertEqual(mirrored[3 * 64 + 6], top)
        XCTAssertEqual(mirrored.filter { $0 == top }.count, 1)
    }

    func testLinearGELUEqualsLinearThenGELUWithGradients() {
        var g = SeededGenerator(seed: 9)
        func randn(_ shape: [Int]) -> Tensor {
            Tensor.parameter(Tensor((0..<shape.reduce(1, *)).map { _ in Float(g.normal()) * 1.5 }, shape: shape))
        }
        let x = randn([2, 5, 7]), w = randn([6, 7]), b = randn([6])
        let r = Tensor((0..<60).map { _ in Float(g.normal()) }, shape: [2, 5, 6])
        let fused = Tensor.linearGELU(x, weight: w, bias: b)
        (fused * r).sum().backward()
        let fusedGrads = [x, w, b].map(\.gradArray)
        for p in [x, w, b] { p.zeroGrad() }
        let plain = Tensor.linear(x, weight: w, bias: b).gelu()
        (plain * r).sum().backward()
        XCTAssertEqual(fused.shape, plain.shape)
        for (u, v) in zip(fused.array, plain.array) { XCTAssertEqual(u, v, accuracy: 1e-5 * max(1, abs(v))) }
        for (name, (p, fg)) in zip(["x", "w", "b"], zip([x, w, b], fusedGrads)) {
            for (u, v) in zip(fg, p.gradArray) { XCTAssertEqual(u, v, accuracy: 1e-4 * max(1, abs(v)), name) }
        }
    }
}
