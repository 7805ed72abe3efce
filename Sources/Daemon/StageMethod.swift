import Foundation
import GraphNet
import Retina
import RPC
import VesselGraph

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
        let t0 = ProcessStats.monotonicSeconds()
        let decoded = try images.decode(ctx.params)
        try ctx.checkCancelled()
        let tl = ProcessStats.monotonicSeconds()
        let lease = try registry.acquire(name)
        defer { lease.release() }
        let loadMS = (ProcessStats.monotonicSeconds() - tl) * 1000
        guard let gnn = lease.model as? WarmStagingModel else {
            throw DaemonError.invalidParams("model '\(name)' is of kind '\(lease.stored.kind)', which stage cannot use (kinds: graphnet)")
        }
        let t1 = ProcessStats.monotonicSeconds()
        let graph: OCTAGraph
        do { graph = try VesselGraphBuilder(config: gnn.model.storedConfig.builder).build(decoded.image) } catch let e as VesselGraphError {
            throw DaemonError.badImage("\(e)")
        }
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
                "model": ["name": .string(lease.stored.name), "version": .string(lease.stored.version),
                          "kind": .string(lease.stored.kind)],
                "image": decoded.json, "timings": .object(timings)]
    }
}
