import Common
import Foundation
import Retina
import Tensors
import XCTest
@testable import VLM

/// KV-cached generation against full recomputation, streaming callback, cancellation, seeds, threads.
final class GenerationTests: XCTestCase {
    func makeGenerator(seed: UInt64 = 3) throws -> VLMGenerator {
        let tok = Tokenizer.train(texts: ["Stage: NPDR. The FAZ is enlarged. Perfusion is reduced."], maxVocab: 400)
        let model = try VLMModel(config: Fixtures.tinyConfig(vocab: tok.vocabSize), seed: seed)
        return try VLMGenerator(model: model, tokenizer: tok)
    }

    func testKVCacheStepsEqualFullRecomputation() throws {
        let gen = try makeGenerator()
        let model = gen.model, cfg = model.config
        let patches = ImagePatches.patches(of: Fixtures.image(kind: 2), config: cfg)
        var g = SeededGenerator(seed: 9)
        let prompt = [Tokenizer.human] + (0..<5).map { _ in 6 + g.int(below: cfg.vocabSize - 6) } + [Tokenizer.gpt]
        let continuation = (0..<30).map { _ in 6 + g.int(below: cfg.vocabSize - 6) }
        let session = DecoderSession(model: model)
        session.prefill(patches: patches, prompt: prompt)
        var cached: [[Float]] = [Array(UnsafeBufferPointer(start: session.logits, count: cfg.vocabSize))]
        for t in continuation {
            session.step(token: t)
            cached.append(Array(UnsafeBufferPointer(start: session.logits, count: cfg.vocabSize)))
        }
        let ids = prompt + continuation
        let full = Tensor.withoutGrad { model.textLogits(patches: patches, ids: ids, batch: 1, length: ids.count) }.array
        var worst: Float = 0
        for (k, row) in cached.enumerated() {
            let pos = prompt.count - 1 + k
            for v in 0..<cfg.vocabSize { worst = max(worst, abs(row[v] - full[pos * cfg.vocabSize + v])) }
        }
        XCTAssertLessThan(worst, 1e-4, "KV-cached logits must match the full forward pass at every position")
    }

    func testCallbackSeesEveryTokenInOrderAndSameSeedSameText() throws {
        let gen = try makeGenerator()
        let image = Fixtures.image(kind: 1)
        let opts = GenerationOptions(maxTokens: 25, temperature: 1.0, topK: 50, topP: 0.95, seed: 42)
        var seen: [GeneratedToken] = []
        let r = try gen.generate(image: image, question: "stage?", options: opts) { seen.append($0) }
        XCTAssertEqual(seen.map(\.id), r.tokenIDs)
        XCTAssertEqual(seen.map(\.index), Array(0..<r.tokenIDs.count))
        XCTAssertEqual(seen.map(\.text).joined(), r.text)
        // The text is the decoded tokens, less a character left incomplete by a final byte token.
        let full = Array(gen.tokenizer.decode(r.tokenIDs).unicodeScalars), text = Array(r.text.unicodeScalars)
        XCTAssertEqual(Array(full.prefix(text.count)), text)
        XCTAssertLessThanOrEqual(full.count - text.count, 1)
        let again = try gen.generate(image: image, question: "stage?", options: opts)
        XCTAssertEqual(again.tokenIDs, r.tokenIDs, "same seed, same tokens")
        var other = opts; other.seed = 43
        let different = try gen.generate(image: image, question: "stage?", options: other)
        XCTAssertNotEqual(different.tokenIDs, r.tokenIDs, "another seed samples other tokens from a random model")
    }

    func testCancelStopsWithinOneToken() throws {
        let gen = try makeGenerator()
        let flag = CancellationFlag()
        var count = 0
        let r = try gen.generate(image: Fixtures.image(kind: 0), question: "q",
                                 options: GenerationOptions(maxTokens: 50, temperature: 1, seed: 1), cancel: flag) { _ in
            count += 1
            flag.cancel()
        }
        XCTAssertEqual(r.stopReason, .cancelled)
        XCTAssertEqual(count, 1)
        XCTAssertEqual(r.tokenIDs.count, 1)
        let pre = CancellationFlag(); pre.cancel()
        let none = try gen.generate(image: Fixtures.image(kind: 0), question: "q", cancel: pre)
        XCTAssertEqual(none.tokenIDs, [])
        XCTAssertEqual(none.stopReason, .cancelled)
    }

    func testMaxTokensAndStopStringsAndBadOptions() throws {
        let gen = try makeGenerator()
        let img = Fixtures.image(kind: 3)
        let r = try gen.generate(image: img, question: "q", options: GenerationOptions(maxTokens: 7, temperature: 1, seed: 5))
        XCTAssertLessThanOrEqual(r.tokenIDs.count, 7)
        if r.stopReason != .endOfText { XCTAssertEqual(r.tokenIDs.count, 7) }
        XCTAssertThrowsError(try gen.generate(image: img, question: "q", options: GenerationOptions(topP: 0)))
        XCTAssertThrowsError(try gen.generate(image: img, question: "q", options: GenerationOptions(temperature: -1)))
        // A stop string that is the first generated piece ends generation right there and is trimmed.
        let first = try gen.generate(image: img, question: "q", options: GenerationOptions(maxTokens: 1))
        if let piece = first.tokenIDs.first.map({ gen.tokenizer.decode([$0]) }), !piece.isEmpty {
            let s = try gen.generate(image: img, question: "q", options: GenerationOptions(maxTokens: 20, stopStrings: [piece]))
            XCTAssertEqual(s.stopReason, .stopString)
            XCTAssertEqual(s.text, "")
        }
    }

    func testConcurrentGenerationsOnOneModelMatchSequentialOnes() throws {
        let gen = try makeGenerator()
        let opts = (0..<4).map { GenerationOptions(maxTokens: 20, temperature: 0.8, seed: UInt64($0)) }
        let images = (0..<4).map { Fixtures.image(kind: $0) }
        let sequential = try (0..<4).map { try gen.generate(image: images[$0], question: "q", options: opts[$0]).tokenIDs }
        final class Box: @unchecked Sendable { var out = [[Int]](repeating: [], count: 4); let lock = NSLock() }
        let box = Box()
        DispatchQueue.concurrentPerform(iterations: 4) { i in
            let ids = (try? gen.generate(image: images[i], question: "q", options: opts[i]).tokenIDs) ?? [-1]
            box.lock.lock(); box.out[i] = ids; box.lock.unlock()
        }
        XCTAssertEqual(box.out, sequential)
    }
}
