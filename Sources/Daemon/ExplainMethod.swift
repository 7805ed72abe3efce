import Foundation
import Retina
import RPC
import VLM

/// `explain {image, maxTokens?, temperature?, seed?, topK?, topP?, question?, model?}`: the student VLM's
/// staged explanation, streamed token by token.
///
/// With a `partialResultToken`, each generated piece of text goes out at once as
/// `$/progress {token, value: {"kind": "delta", "text": ...}}`; the deltas concatenate to the final text.
/// The result: `{text, stage (parsed "Stage:" line or null), tokens, stopReason, ttftMS, tokensPerSecond,
/// model, image, timings}`. `$/cancelRequest`, a disconnect or shutdown stop generation before the next
/// token (the generator checks its flag before every token; each token's callback re-checks the request).
struct ExplainMethod {
    let images: ImageParameter
    let registry: ModelRegistry
    let defaultModel: String

    struct Options: Decodable {
        var maxTokens: Int?
        var temperature: Double?
        var seed: UInt64?
        var topK: Int?
        var topP: Double?
        var question: String?
        var model: String?
    }

    func handle(_ ctx: RequestContext) throws -> JSONValue {
        let o = try ctx.decodeParams(Options.self)
        let options = GenerationOptions(maxTokens: o.maxTokens ?? 160, temperature: Float(o.temperature ?? 0), topK: o.topK ?? 0,
                                        topP: Float(o.topP ?? 1), seed: o.seed ?? 0)
        do { try options.validate() } catch { throw DaemonError.invalidParams("\(error)") }
        guard options.maxTokens <= 4096 else { throw DaemonError.invalidParams("field 'maxTokens' must be <= 4096, got \(options.maxTokens)") }
        let input = try ModelInput(ctx, images: images, registry: registry, model: o.model ?? defaultModel)
        let decoded = input.decoded, lease = input.lease
        defer { lease.release() }
        let vlm = try lease.model(as: WarmVLM.self, for: "explain", needs: "a VLM (kind vlm)")
        let r = try Self.generate(vlm, image: decoded.image, question: o.question ?? GroundTruthCaptions.diagnosisQuestion,
                                  options: options, ctx: ctx, stream: true)
        try ctx.checkCancelled()
        let stage = StageLine.parse(r.text)
        return ["text": .string(r.text), "stage": stage.map { .string($0.rawValue) } ?? .null,
                "tokens": .int(Int64(r.tokenIDs.count)), "stopReason": .string(r.stopReason.rawValue),
                "ttftMS": .double(r.timeToFirstTokenSeconds * 1000),
                "tokensPerSecond": .double(Self.tokensPerSecond(r)),
                "model": lease.json,
                "image": decoded.json,
                "timings": ["decodeMS": .double(decoded.decodeMS),
                            "generateMS": .double((r.timeToFirstTokenSeconds + r.decodeSeconds) * 1000),
                            "totalMS": .double((ProcessStats.monotonicSeconds() - input.startSeconds) * 1000)]]
    }

    /// Decode rate after the first token (the first token's time is the TTFT).
    static func tokensPerSecond(_ r: GenerationResult) -> Double {
        r.decodeSeconds > 0 ? Double(max(0, r.tokenIDs.count - 1)) / r.decodeSeconds : 0
    }

    /// Generates on `vlm`, streaming deltas to `ctx` when `stream` and the client asked for partial results,
    /// and stopping before the next token once the request is cancelled.
    static func generate(_ vlm: WarmVLM, image: GrayImage, question: String, options: GenerationOptions,
                         ctx: RequestContext, stream: Bool) throws -> GenerationResult {
        // The generator checks this flag before every token; the callback after each token sets it once the
        // request is cancelled, so at most the token in progress completes.
        let flag = CancellationFlag()
        let send = stream && ctx.wantsPartialResults
        let result: GenerationResult
        do {
            result = try vlm.loaded.generator.generate(image: image, question: question, options: options, cancel: flag) { token in
                if ctx.isCancelled { flag.cancel(); return }
                guard send, !token.text.isEmpty else { return }
                // Blocks while the client lags (write watermarks); throws once cancelled or disconnected.
                do { try ctx.sendPartialResult(["kind": "delta", "text": .string(token.text)]) } catch { flag.cancel() }
            }
        } catch let e as VLMError {
            throw DaemonError.invalidParams("\(e)")
        }
        try ctx.checkCancelled()
        return result
    }
}

