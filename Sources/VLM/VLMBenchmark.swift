import Common
import Foundation
import Retina
import Tensors

/// Speed measurements of a VLM configuration on random weights (speed does not depend on the values).
public enum VLMBenchmark {
    /// Inference timings at batch 1. Wall-clock numbers depend on the CPU share the process gets on a busy
    /// machine; the CPU-time numbers count only the time the process actually ran (process CPU time, all
    /// threads: prefill and decode both split their work over the cores).
    public struct Inference: Sendable, Codable {
        /// Median time to first token: image patches + visual encoding + prefill of the prompt, ms (wall).
        public var ttftMS: Double
        /// Median decode speed over `decodeTokens` KV-cached steps, tokens/s (wall).
        public var decodeTokensPerSecond: Double
        /// Median process CPU time of the TTFT work, ms (an upper bound of TTFT on an idle machine).
        public var ttftCPUMS: Double
        /// Decode tokens per second of process CPU time (all threads: the decoder splits each step over the
        /// cores when they are free).
        public var decodeTokensPerCPUSecond: Double
        /// Fastest of the repeats (the least disturbed by other load): TTFT ms and decode tokens/s.
        public var ttftMinMS: Double, decodeMaxTokensPerSecond: Double
        /// Median of the TTFT's parts, ms: image resize + standardisation + patches, then the vision encoder
        /// and decoder prefill up to the first logits.
        public var patchesMS: Double, prefillMS: Double
        enum CodingKeys: String, CodingKey {
            case ttftMS = "ttft_ms", decodeTokensPerSecond = "decode_tokens_per_s", ttftCPUMS = "ttft_cpu_ms"
            case decodeTokensPerCPUSecond = "decode_tokens_per_cpu_s", ttftMinMS = "ttft_min_ms"
            case decodeMaxTokensPerSecond = "decode_max_tokens_per_s", patchesMS = "patches_ms", prefillMS = "prefill_ms"
        }
    }

    /// CPU seconds used by the whole process so far (all threads).
    public static func processCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
    }

    /// CPU seconds used by the calling thread so far (kept for callers that time single-threaded work).
    public static func threadCPUSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
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
        var ttft: [Double] = [], decode: [Double] = [], ttftCPU: [Double] = [], decodeCPU: [Double] = []
        var patchTimes: [Double] = [], prefillTimes: [Double] = []
        for r in 0..<(repeats + 1) {
            let c0 = processCPUSeconds()
            let t0 = DispatchTime.now().uptimeNanoseconds
            let patches = ImagePatches.patches(of: image, config: config)
            let tp = DispatchTime.now().uptimeNanoseconds
            session.prefill(patches: patches, prompt: prompt)
            let t1 = DispatchTime.now().uptimeNanoseconds
            let c1 = processCPUSeconds()
            var token = Kernels.argmax(session.logits, count: config.vocabSize)
            let steps = min(decodeTokens, session.remaining)
            for _ in 0..<steps {
                session.step(token: token)
                token = Kernels.argmax(session.logits, count: config.vocabSize)
            }
            let t2 = DispatchTime.now().uptimeNanoseconds
            let c2 = processCPUSeconds()
            if r > 0 {  // the first run warms caches and BLAS
                ttft.append(Double(t1 - t0) / 1e6)
                patchTimes.append(Double(tp - t0) / 1e6)
                prefillTimes.append(Double(t1 - tp) / 1e6)
                decode.append(Double(steps) / (Double(t2 - t1) / 1e9))
                ttftCPU.append((c1 - c0) * 1000)
                decodeCPU.append(Double(steps) / max(c2 - c1, 1e-9))
            }
        }
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
        return Inference(ttftMS: median(ttft), decodeTokensPerSecond: median(decode), ttftCPUMS: median(ttftCPU),
                         decodeTokensPerCPUSecond: median(decodeCPU), ttftMinMS: ttft.min() ?? 0,
                         decodeMaxTokensPerSecond: decode.max() ?? 0, patchesMS: median(patchTimes),
                         prefillMS: median(prefillTimes))
    }

    /// Training throughput: text tokens (prompt + answer) per second of full AdamW steps (forward, backward,
    /// clipping, update) on batches of `batch` images with `textTokens` text tokens each; median of `steps`
    /// steps after one warm-up step.
    /// Training throughput, wall clock and per process-CPU-second (text tokens / CPU s; on an idle machine with
    /// n cores the wall rate is at most n times this).
    public struct Training: Sendable, Codable {
        /// Text tokens per wall-clock second.
        public var textTokensPerSecond: Double
        /// Text tokens per second of process CPU time (all threads).
        public var textTokensPerCPUSecond: Double
        /// Fastest step of the run, text tokens per wall-clock second.
        public var maxTextTokensPerSecond: Double
        enum CodingKeys: String, CodingKey {
            case textTokensPerSecond = "text_tokens_per_s", textTokensPerCPUSecond = "text_tokens_per_cpu_s"
            case maxTextTokensPerSecond = "max_text_tokens_per_s"
        }
    }

    /// Times `steps` training steps (after one warm-up) of a fresh model of `config`.
    public static func training(config: VLMConfig, batch: Int, textTokens: Int, steps: Int, seed: UInt64 = 1) throws -> Training {
        let model = try VLMModel(config: config, seed: seed)
        var g = SeededGenerator(seed: seed)
        let images = (0..<batch).map { _ in (0..<(config.visualTokens * config.patchDim)).map { _ in Float(g.normal()) } }
        let examples = (0..<batch).map { i in
            EncodedExample(imageIndex: i,
                           ids: (0..<textTokens).map { _ in Tokenizer.firstPieceID + g.int(below: config.vocabSize - Tokenizer.firstPieceID) },
                           lossMask: (0..<textTokens).map { $0 >= 16 })
        }
        let opt = ResumableAdamW(parameters: model.namedParameters(), learningRate: 1e-4)
        let split = try BatchSplitStep(model: model)  // the trainer's step: the batch in two blocks on two threads
        var rates: [Double] = [], cpuRates: [Double] = []
        for s in 0..<(steps + 1) {
            let c0 = processCPUSeconds()
            let t0 = DispatchTime.now().uptimeNanoseconds
            model.zeroGrad()
            _ = split.lossAndBackward(batch: examples, images: images)
            _ = clipGradNorm(model.parameters(), maxNorm: 1)
            opt.step()
            let t1 = DispatchTime.now().uptimeNanoseconds
            let c1 = processCPUSeconds()
            if s > 0 {
                rates.append(Double(batch * textTokens) / (Double(t1 - t0) / 1e9))
                cpuRates.append(Double(batch * textTokens) / max(c1 - c0, 1e-9))
            }
        }
        func median(_ v: [Double]) -> Double { let s = v.sorted(); return s[s.count / 2] }
        return Training(textTokensPerSecond: median(rates), textTokensPerCPUSecond: median(cpuRates),
                        maxTextTokensPerSecond: rates.max() ?? 0)
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
