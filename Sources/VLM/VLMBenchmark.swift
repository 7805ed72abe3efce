import Common
import Foundation
import Retina
import Tensors

/// Speed measurements of a VLM configuration on random weights (speed does not depend on the values).
public enum VLMBenchmark {
    /// Inference timings at batch 1.
    public struct Inference: Sendable, Codable {
        /// Median time to first token: image patches + visual encoding + prefill of the prompt, ms.
        public var ttftMS: Double
        /// Median decode speed over `decodeTokens` KV-cached steps, tokens/s.
        public var decodeTokensPerSecond: Double
        enum CodingKeys: String, CodingKey { case ttftMS = "ttft_ms", decodeTokensPerSecond = "decode_tokens_per_s" }
    }

    /// Times `repeats` generations of `decodeTokens` forced tokens after a `promptTokens` prompt, on a
    /// synthetic image of `imageSizePX` (the config's input size).
    public static func inference(config: VLMConfig, promptTokens: Int, decodeTokens: Int, repeats: Int,
                                 seed: UInt64 = 1) throws -> Inference {
        let model = try VLMModel(config: config, seed: seed)
        var g = SeededGenerator(seed: seed)
        let side = config.imageSizePX
        let image = GrayImage(width: side, height: side, pixelSizeMM: 3.0 / Double(side),
                              pixels: (0..<(side * side)).map { _ in Float(g.uniform()) })
        let prompt = (0..<promptTokens).map { _ in Tokenizer.firstPieceID + g.int(below: config.vocabSize - Tokenizer.firstPieceID) }
        let session = DecoderSession(model: model)
        var ttft: [Double] = [], decode: [Double] = []
        for r in 0..<(repeats + 1) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            let patches = ImagePatches.patches(of: image, config: config)
            session.prefill(patches: patches, prompt: prompt)
            let t1 = DispatchTime.now().uptimeNanoseconds
            var token = Kernels.argmax(session.logits, count: config.vocabSize)
            let steps = min(decodeTokens, session.remaining)
            for _ in 0..<steps {
                session.step(token: token)
                token = Kernels.argmax(session.logits, count: config.vocabSize)
            }
            let t2 = DispatchTime.now().uptimeNanoseconds
            if r > 0 {  // the first run warms caches and BLAS
                ttft.append(Double(t1 - t0) / 1e6)
                decode.append(Double(steps) / (Double(t2 - t1) / 1e9))
            }
        }
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
        return Inference(ttftMS: median(ttft), decodeTokensPerSecond: median(decode))
    }

    /// Training throughput: text tokens (prompt + answer) per second of full AdamW steps (forward, backward,
    /// clipping, update) on batches of `batch` images with `textTokens` text tokens each; median of `steps`
    /// steps after one warm-up step.
    public static func training(config: VLMConfig, batch: Int, textTokens: Int, steps: Int, seed: UInt64 = 1) throws -> Double {
        let model = try VLMModel(config: config, seed: seed)
        var g = SeededGenerator(seed: seed)
        let images = (0..<batch).map { _ in (0..<(config.visualTokens * config.patchDim)).map { _ in Float(g.normal()) } }
        let examples = (0..<batch).map { i in
            EncodedExample(imageIndex: i,
                           ids: (0..<textTokens).map { _ in Tokenizer.firstPieceID + g.int(below: config.vocabSize - Tokenizer.firstPieceID) },
                           lossMask: (0..<textTokens).map { $0 >= 16 })
        }
        let opt = ResumableAdamW(parameters: model.namedParameters(), learningRate: 1e-4)
        var rates: [Double] = []
        for s in 0..<(steps + 1) {
            let t0 = DispatchTime.now().uptimeNanoseconds
            model.zeroGrad()
            let (loss, _) = model.loss(batch: examples, images: images)
            loss.backward()
            _ = clipGradNorm(model.parameters(), maxNorm: 1)
            opt.step()
            let t1 = DispatchTime.now().uptimeNanoseconds
            if s > 0 { rates.append(Double(batch * textTokens) / (Double(t1 - t0) / 1e9)) }
        }
        let sorted = rates.sorted()
        return sorted[sorted.count / 2]
    }

    /// Resident set size now and its peak (VmRSS, VmHWM from /proc/self/status), MiB; nil off Linux.
    public static func residentMemoryMiB() -> (current: Double, peak: Double)? {
        guard let text = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        func field(_ key: String) -> Double? {
            guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix(key) }) else { return nil }
            return line.split(separator: " ").compactMap { Double($0) }.first.map { $0 / 1024 }
        }
        guard let c = field("VmRSS:"), let p = field("VmHWM:") else { return nil }
        return (c, p)
    }
}
