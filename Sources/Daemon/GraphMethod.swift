import Foundation
import Retina
import RPC
import VesselGraph

/// `graph {image, includeGraph?}`: image -> vessel graph summary, biomarkers and timings; with
/// `includeGraph: true` also the whole graph in the docs/GRAPH_FORMAT.md JSON.
struct GraphMethod {
    let images: ImageParameter
    let builder = VesselGraphBuilder()

    func handle(_ ctx: RequestContext) throws -> JSONValue {
        let includeGraph: Bool = try ctx.params.optional("includeGraph", default: false)
        let t0 = ProcessStats.monotonicSeconds()
        let decoded = try images.decode(ctx.params)
        try ctx.checkCancelled()
        let t1 = ProcessStats.monotonicSeconds()
        let analysis: VesselAnalysis
        do { analysis = try builder.analyze(decoded.image) } catch let e as VesselGraphError {
            throw DaemonError.badImage("\(e)")
        }
        let graphMS = (ProcessStats.monotonicSeconds() - t1) * 1000
        try ctx.checkCancelled()
        var result: JSONObject = [
            "image": decoded.json,
            "summary": Self.summary(analysis.graph),
            "biomarkers": Self.biomarkers(analysis.graph),
        ]
        var timings: JSONObject = ["decodeMS": .double(decoded.decodeMS), "graphMS": .double(graphMS)]
        var stages = JSONObject()
        for k in analysis.stageMS.keys.sorted() { stages[k] = .double(analysis.stageMS[k]!) }
        timings["stagesMS"] = .object(stages)
        if includeGraph {
            let t2 = ProcessStats.monotonicSeconds()
            let data = analysis.graph.jsonData()
            result["graph"] = try data.withUnsafeBytes { try JSONCodec.decode($0) }
            timings["graphJSONMS"] = .double((ProcessStats.monotonicSeconds() - t2) * 1000)
        }
        timings["totalMS"] = .double((ProcessStats.monotonicSeconds() - t0) * 1000)
        result["timings"] = .object(timings)
        return .object(result)
    }

    /// Node and edge counts per type and relation.
    static func summary(_ g: OCTAGraph) -> JSONValue {
        var relations = JSONObject()
        for r in g.relations { relations[r.name] = .int(Int64(r.count)) }
        return ["vesselNodes": .int(Int64(g.vessel.count)), "icaNodes": .int(Int64(g.ica.count)),
                "fazNodes": .int(Int64(g.faz.count)), "edges": .int(Int64(g.relations.reduce(0) { $0 + $1.count })),
                "relations": .object(relations), "format": .string(g.format)]
    }

    /// Biomarkers sorted by name (non-finite values as null).
    static func biomarkers(_ g: OCTAGraph) -> JSONValue {
        var o = JSONObject()
        for k in g.biomarkers.keys.sorted() {
            let v = g.biomarkers[k]!
            o[k] = v.isFinite ? .double(v) : .null
        }
        return .object(o)
    }
}
