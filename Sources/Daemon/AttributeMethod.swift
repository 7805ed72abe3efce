import Attribution
import Foundation
import GraphNet
import Retina
import RPC
import Tensors
import VesselGraph

/// `attribute {image, model?, target?, steps?, quadrature?, topK?, heatmap?}`: integrated gradients of a warm
/// GNN's class logit for one image (docs/EXPLANATIONS.md).
///
/// Result: `{stage, target: {index, name}, probabilities: {class: p}, targetLogit, baselineLogit,
/// convergenceDelta, relativeDelta, steps, quadrature, baseline, relevant: {count, nodes, fraction},
/// top: [{type, index, score, share, sector, quadrant, xMM, yMM, topFeatures: [{name, score}]}],
/// featureTotals: {type: {feature: score}}, edges: {relation: {count, sum, absSum}},
/// heatmap?: {pngBase64} | {path}, model, image, timings}`. Scores are in logits of the target class:
/// positive pushes towards it, and all of them sum to targetLogit - baselineLogit up to convergenceDelta.
struct AttributeMethod {
    let images: ImageParameter
    let registry: ModelRegistry
    let defaultModel: String

    struct Options: Decodable {
        var model: String?
        var target: String?
        var steps: Int?
        var quadrature: String?
        var topK: Int?
        var heatmap: HeatmapRequest?
    }

    /// `"base64"` (PNG inline in the result) or `{"path": "/abs/out.png"}` (written by the daemon).
    enum HeatmapRequest: Decodable {
        case base64
        case path(String)

        init(from decoder: Decoder) throws {
            if let s = try? decoder.singleValueContainer().decode(String.self) {
                guard s == "base64" else {
                    throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                            debugDescription: "must be \"base64\" or {\"path\": ...}, got \"\(s)\""))
                }
                self = .base64
                return
            }
            struct P: Decodable { var path: String }
            self = .path(try P(from: decoder).path)
        }
    }

    /// Quadrature steps per batched pass. Ten steps per pass is the fastest setting on 2 cores
    /// (`capillary bench-attribution`: 199-223 ms against 254 ms for all 50 in one pass on the peer's shapes)
    /// and holds a fifth of the memory, which matters when several requests attribute at once.
    static let stepsPerPass = 10

    func handle(_ ctx: RequestContext) throws -> JSONValue {
        // Integrated gradients free hundreds of MB of batch temporaries; hand the pages back afterwards so
        // the daemon's RSS returns to its serving size between requests. The temporaries land in Tensors'
        // buffer cache first (kept for reuse, up to 1 GiB, one list per buffer size: graphs of other sizes
        // never reuse them), so empty it before the trim or RSS creeps up under varied images.
        defer {
            Tensor.releaseCachedMemory()
            _ = releaseFreedHeapMemory(0)
        }
        let o = try ctx.decodeParams(Options.self)
        var options = IntegratedGradientsOptions()
        options.stepsPerPass = Self.stepsPerPass
        // One pass at a time: the daemon's workers already serve requests side by side, and concurrent passes
        // inside one request would double its batch memory and oversubscribe the cores.
        options.concurrentPasses = 1
        if let steps = o.steps {
            guard (2...512).contains(steps) else { throw DaemonError.invalidParams("field 'steps' must be in 2...512, got \(steps)") }
            options.steps = steps
        }
        if let q = o.quadrature {
            guard let quadrature = Quadrature(rawValue: q) else {
                throw DaemonError.invalidParams("field 'quadrature' must be \"gl\" or \"trapezoid\", got \"\(q)\"")
            }
            options.quadrature = quadrature
        }
        let topK = o.topK ?? 10
        guard (1...1000).contains(topK) else { throw DaemonError.invalidParams("field 'topK' must be in 1...1000, got \(topK)") }
        if case .path(let p)? = o.heatmap { try Self.checkWritable(p) }

        let input = try ModelInput(ctx, images: images, registry: registry, model: o.model ?? defaultModel)
        let decoded = input.decoded, lease = input.lease, t0 = input.startSeconds
        defer { lease.release() }
        let gnn = try lease.model(as: WarmStagingModel.self, for: "attribute", needs: "a GNN (kind graphnet)")
        let classNames = gnn.model.classNames
        if let target = o.target {
            guard let i = classNames.firstIndex(of: target.lowercased()) else {
                throw DaemonError.invalidParams("field 'target' must be one of \(classNames.joined(separator: ", ")), got \"\(target)\"")
            }
            options.targetClass = i
        }
        let t1 = ProcessStats.monotonicSeconds()
        let graph = try gnn.graph(of: decoded.image)
        try ctx.checkCancelled()
        let t2 = ProcessStats.monotonicSeconds()
        let a: GraphAttribution
        do { a = try IntegratedGradients(model: gnn.model).attribute(graph, options: options) } catch let e as GraphNetError {
            throw DaemonError.invalidParams("the image's graph does not fit model '\(lease.stored.name)': \(e)")
        } catch let e as AttributionError {
            throw DaemonError.invalidParams("\(e)")
        }
        try ctx.checkCancelled()
        let t3 = ProcessStats.monotonicSeconds()

        var result: JSONObject = Self.summary(a, graph: graph, topK: topK)
        if let h = o.heatmap {
            var ho = HeatmapOptions()
            ho.topK = min(topK, 9)
            let picture = try AttributionHeatmap.render(image: decoded.image, graph: graph, attribution: a, options: ho)
            switch h {
            case .base64: result["heatmap"] = ["pngBase64": .string(try ImageIO.pngData(picture).base64EncodedString())]
            case .path(let p):
                do { try ImageIO.writePNG(picture, to: p) } catch {
                    throw DaemonError.invalidParams("field 'heatmap.path': cannot write \(p): \(error)")
                }
                result["heatmap"] = ["path": .string(p)]
            }
        }
        let t4 = ProcessStats.monotonicSeconds()
        result["model"] = lease.json
        result["image"] = decoded.json
        result["timings"] = ["decodeMS": .double(decoded.decodeMS), "graphMS": .double((t2 - t1) * 1000),
                             "attributeMS": .double((t3 - t2) * 1000), "heatmapMS": .double((t4 - t3) * 1000),
                             "totalMS": .double((t4 - t0) * 1000)]
        return .object(result)
    }

    /// A heatmap path must be absolute and its folder must exist (checked before the work is done).
    static func checkWritable(_ path: String) throws {
        guard path.hasPrefix("/") else { throw DaemonError.invalidParams("field 'heatmap.path' must be an absolute path, got \"\(path)\"") }
        var isDir: ObjCBool = false
        let dir = (path as NSString).deletingLastPathComponent
        guard FileManager.default.fileExists(atPath: dir, isDirectory: &isDir), isDir.boolValue else {
            throw DaemonError.invalidParams("field 'heatmap.path': folder \(dir) does not exist")
        }
    }

    /// The JSON summary of `a` over `graph`: prediction, completeness, the top nodes with where they are and
    /// their strongest features, per-type feature totals and per-relation edge sums.
    static func summary(_ a: GraphAttribution, graph: OCTAGraph, topK: Int) -> JSONObject {
        var probs = JSONObject()
        for (c, p) in zip(a.classNames, a.probabilities) { probs[c] = .double(p) }
        let gap = a.targetLogit - a.baselineLogit
        let totalAbs = a.totalAbsoluteNodeScore
        var top: [JSONValue] = []
        for s in a.topK(topK) {
            guard let nodes = NodeType(name: s.nodeType)?.nodes(of: graph), s.index < nodes.count, let t = a.nodeTypes[s.nodeType] else { continue }
            let fs = t.featureScores[s.index]
            let strongest = fs.indices.sorted { abs(fs[$0]) > abs(fs[$1]) }.prefix(3)
            let sector = Int(nodes.sector[s.index]), quadrant = Int(nodes.quadrant[s.index])
            top.append(["type": .string(s.nodeType), "index": .int(Int64(s.index)), "score": finite(Double(s.score)),
                        "share": finite(totalAbs > 0 ? Double(abs(s.score)) / totalAbs : 0),
                        "sector": sector >= 0 && sector < graph.sectorNames.count ? .string(graph.sectorNames[sector]) : .null,
                        "quadrant": quadrant >= 0 && quadrant < graph.quadrantNames.count ? .string(graph.quadrantNames[quadrant]) : .null,
                        "xMM": finite(Double(nodes.xMM[s.index])), "yMM": finite(Double(nodes.yMM[s.index])),
                        "topFeatures": .array(strongest.map { ["name": .string(t.featureNames[$0]), "score": finite(Double(fs[$0]))] })])
        }
        var totals = JSONObject()
        for (type, t) in a.nodeTypes {
            var o = JSONObject()
            for (k, v) in t.featureTotals { o[k] = finite(Double(v)) }
            totals[type] = .object(o)
        }
        if !a.globalFeatureNames.isEmpty {
            var o = JSONObject()
            for (k, v) in zip(a.globalFeatureNames, a.globalScores) { o[k] = finite(Double(v)) }
            totals["global"] = .object(o)
        }
        var edges = JSONObject()
        for (r, scores) in a.edgeScores {
            edges[r] = ["count": .int(Int64(scores.count)), "sum": finite(scores.reduce(0) { $0 + Double($1) }),
                        "absSum": finite(scores.reduce(0) { $0 + Double(abs($1)) })]
        }
        return ["stage": .string(a.predictedClass.name),
                "target": ["index": .int(Int64(a.targetClass.index)), "name": .string(a.targetClass.name)],
                "probabilities": .object(probs), "targetLogit": finite(a.targetLogit), "baselineLogit": finite(a.baselineLogit),
                "convergenceDelta": finite(a.convergenceDelta),
                "relativeDelta": finite(abs(gap) > 1e-12 ? abs(a.convergenceDelta) / abs(gap) : 0),
                "steps": .int(Int64(a.steps)), "quadrature": .string(a.quadrature.rawValue), "baseline": .string(a.baseline),
                "relevant": ["count": .int(Int64(a.relevantSet.count)), "nodes": .int(Int64(a.rankedNodes().count)),
                             "fraction": .double(a.relevantFraction)],
                "top": .array(top), "featureTotals": .object(totals), "edges": .object(edges)]
    }

    static func finite(_ x: Double) -> JSONValue { x.isFinite ? .double(x) : .null }
}
