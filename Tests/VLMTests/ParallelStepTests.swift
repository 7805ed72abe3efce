import Common
import Foundation
import Tensors
import XCTest
@testable import VLM

/// The two-thread paths give the numbers of the one-thread ones: the decoder's parts on the worker team
/// against the same parts run in order, and the batch split in two blocks against one graph for the batch.
final class ParallelStepTests: XCTestCase {
    /// Logits of a prefill and 20 steps on the peer-like `small` shapes at a reduced vocabulary.
    func decodeLogits(_ model: VLMModel, patches: [Float], prompt: [Int], tokens: [Int]) -> [[Float]] {
        let session = DecoderSession(model: model, parts: WorkerTeam.parts)
        session.prefill(patches: patches, prompt: prompt)
        let v = model.config.vocabSize
        var out = [Array(UnsafeBufferPointer(start: session.logits, count: v))]
        for t in tokens {
            session.step(token: t)
            out.append(Array(UnsafeBufferPointer(start: session.logits, count: v)))
        }
        return out
    }

    func testDecoderTeamAndSerialPartsGiveIdenticalLogits() throws {
        var cfg = VLMConfig.small
        cfg.vocabSize = 300
        let model = try VLMModel(config: cfg, seed: 4)
        var g = SeededGenerator(seed: 12)
        let patches = (0..<(cfg.visualTokens * cfg.patchDim)).map { _ in Float(g.normal()) }
        let prompt = (0..<9).map { _ in 6 + g.int(below: cfg.vocabSize - 6) }
        let tokens = (0..<20).map { _ in 6 + g.int(below: cfg.vocabSize - 6) }
        let parallel = decodeLogits(model, patches: patches, prompt: prompt, tokens: tokens)
        // Holding the team makes every session inside run its parts one after another on this thread.
        let serial = WorkerTeam.withTeam { team -> [[Float]] in
            if WorkerTeam.parts > 1 { XCTAssertNotNil(team) }
            return decodeLogits(model, patches: patches, prompt: prompt, tokens: tokens)
        }
        XCTAssertEqual(parallel, serial, "who runs a part must not change the numbers")
        // And the cached decoder still equals the full forward pass at this shape.
        let ids = prompt + tokens
        let full = Tensor.withoutGrad { model.textLogits(patches: patches, ids: ids, batch: 1, length: ids.count) }.array
        var worst: Float = 0
        for (k, row) in parallel.enumerated() {
            let pos = prompt.count - 1 + k
            for j in 0..<cfg.vocabSize { worst = max(worst, abs(row[j] - full[pos * cfg.vocabSize + j])) }
        }
        XCTAssertLessThan(worst, 1e-3)
    }

    func testBatchSplitGradientEqualsOneGraphGradient() throws {
        var cfg = VLMConfig.tiny
        cfg.vocabSize = 40
        let model = try VLMModel(config: cfg, seed: 7)
        var g = SeededGenerator(seed: 3)
        let images = (0..<5).map { _ in (0..<(cfg.visualTokens * cfg.patchDim)).map { _ in Float(g.normal()) } }
        // Unequal lengths and answer counts, so the blocks' weights differ from one half each.
        let examples = (0..<5).map { i in
            let n = 6 + 3 * i
            return EncodedExample(imageIndex: i, ids: (0..<n).map { _ in 6 + g.int(below: cfg.vocabSize - 6) },
                                  lossMask: (0..<n).map { $0 >= 2 + i })
        }
        model.zeroGrad()
        let (loss, _) = model.loss(batch: examples, images: images)
        loss.backward()
        let reference = model.parameters().map(\.gradArray)
        model.zeroGrad()
        let split = try BatchSplitStep(model: model)
        let value = split.lossAndBackward(batch: examples, images: images)
        XCTAssertEqual(value, loss.item, accuracy: 1e-5 * max(1, abs(loss.item)))
        var worst: Float = 0, scale: Float = 0
        for (r, p) in zip(reference, model.parameters().map(\.gradArray)) {
            for i in r.indices { worst = max(worst, abs(r[i] - p[i])); scale = max(scale, abs(r[i])) }
        }
        XCTAssertGreaterThan(scale, 0)
        XCTAssertLessThan(worst, 1e-5 * scale, "split gradient must equal the whole batch's")
        // Same inputs twice: bit-identical (the cut does not depend on thread timing).
        let first = model.parameters().map(\.gradArray)
        model.zeroGrad()
        _ = split.lossAndBackward(batch: examples, images: images)
        XCTAssertEqual(first, model.parameters().map(\.gradArray))
    }
}
