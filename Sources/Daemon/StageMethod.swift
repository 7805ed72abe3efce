import Foundation
import GraphNet
import Retina
import RPC
import VesselGraph
import VLM

/// `stage {image, model?}`: DR stage of an image with a warm model (default: the GNN "graphnet").
///
/// Result: `{stage, classIndex, probabilities: {class: p}, model: {name, version, kind}, image, timings:
/// {decodeMS, graphMS, inferenceMS, totalMS, loadMS?}}`. The model is checked out for the request, so a
/// hot swap meanwhile does not change the version this request uses.
struct StageMethod {
    let images: ImageParameter
    let registry: ModelRegistry
    let defaultModel: String

    func handle(_ ctx: RequestContext) throws -> JSONValue {
        let name: String = try ctx.params.optional("model", default: defaultModel)
        let input = try ModelInput(ctx, images: images, registry: registry, model: name)
        let decoded = input.decoded, lease = input.lease, t0 = input.startSeconds, loadMS = input.loadMS
        defer { lease.release() }
        if let vlm = lease.model as? WarmVLM {
            return try stageWithVLM(vlm, lease: lease, decoded: decoded, ctx: ctx, t0: t0, loadMS: loadMS)
        }
        guard let gnn = lease.model as? WarmStagingModel else {
            throw DaemonError.invalidParams("model '\(name)' is of kind '\(lease.stored.kind)', which stage cannot use (kinds: graphnet, vlm)")
        }
        let t1 = ProcessStats.monotonicSeconds()
        let graph = try gnn.graph(of: decoded.image)
        try ctx.checkCancelled()
        let t2 = ProcessStats.monotonicSeconds()
        let p: StagePrediction
        do { p = try gnn.model.predict([graph])[0] } catch let e as GraphNetError {
            throw DaemonError.invalidParams("the image's graph does not fit model '\(name)': \(e)")
        }
        let t3 = ProcessStats.monotonicSeconds()
        var probs = JSONObject()
        for (c, q) in zip(gnn.model.classNames, p.probabilities) { probs[c] = .double(q) }
        var timings: JSONObject = ["decodeMS": .double(decoded.decodeMS), "graphMS": .double((t2 - t1) * 1000),
                                   "inferenceMS": .double((t3 - t2) * 1000), "totalMS": .double((t3 - t0) * 1000)]
        if loadMS >= 1 { timings["loadMS"] = .double(loadMS) }
        return ["stage": .string(p.className), "classIndex": .int(Int64(p.classIndex)), "probabilities": .object(probs),
                "model": lease.json,
                "image": decoded.json, "timings": .object(timings)]
    }

    /// The VLM's answer to the diagnosis question (greedy), reduced to its "Stage:" line. The VLM gives no
    /// class probabilities, so `probabilities` is null and the generated `text` is included.
    func stageWithVLM(_ vlm: WarmVLM, lease: ModelLease, decoded: DecodedImage, ctx: RequestContext, t0: Double,
                      loadMS: Double) throws -> JSONValue {
        let r = try ExplainMethod.generate(vlm, image: decoded.image, question: GroundTruthCaptions.diagnosisQuestion,
                                           options: GenerationOptions(maxTokens: 160), ctx: ctx, stream: false)
        let stage = StageLine.parse(r.text)
        var timings: JSONObject = ["decodeMS": .double(decoded.decodeMS),
                                   "inferenceMS": .double((r.timeToFirstTokenSeconds + r.decodeSeconds) * 1000),
                                   "totalMS": .double((ProcessStats.monotonicSeconds() - t0) * 1000)]
        if loadMS >= 1 { timings["loadMS"] = .double(loadMS) }
        return ["stage": stage.map { .string($0.rawValue) } ?? .null, "classIndex": stage.map { .int(Int64($0.index)) } ?? .null,
                "probabilities": .null, "text": .string(r.text),
                "model": lease.json,
                "image": decoded.json, "timings": .object(timings)]
    }
}
