import Foundation
import VesselGraph

// OCTAGraph and Relation (VesselGraph) have no public memberwise initialisers, so graphs made outside the
// builder (random benchmark graphs, hand-made test graphs, a future importer) are decoded from a minimal
// JSON document and then filled in through their public properties. Kept here rather than in VesselGraph,
// which this module must not edit.

extension Relation {
    /// A relation with these edges (source type and target type from the name "<source>-<target>").
    public static func make(name: String, source: [Int32], target: [Int32]) -> Relation {
        let parts = name.split(separator: "-").map(String.init)
        let json = "{\"name\":\"\(name)\",\"source_type\":\"\(parts.first ?? "")\",\"target_type\":\"\(parts.last ?? "")\",\"source\":[],\"target\":[]}"
        var r = try! JSONDecoder().decode(Relation.self, from: Data(json.utf8))  // constant, valid document
        r.source = source; r.target = target
        return r
    }
}

extension OCTAGraph {
    /// An empty graph (no nodes, the five relations empty, no biomarkers) of a `widthPX` x `heightPX`
    /// image with the VesselGraph builder's feature columns.
    public static func empty(widthPX: Int = 304, heightPX: Int = 304, pixelSizeMM: Double = 3.0 / 304) -> OCTAGraph {
        let node = "{\"count\":0,\"feature_names\":[],\"features\":[],\"x_px\":[],\"y_px\":[],\"x_mm\":[],\"y_mm\":[],\"sector\":[],\"quadrant\":[],\"footprints\":[]}"
        let json = """
        {"format":"capillary-octa-graph/1","width_px":\(widthPX),"height_px":\(heightPX),"pixel_size_mm":\(pixelSizeMM),
         "grid_centre_px":[\(Double(widthPX) / 2),\(Double(heightPX) / 2)],"sector_names":[],"quadrant_names":[],
         "vessel":\(node),"ica":\(node),"faz":\(node),"relations":[],"biomarkers":{}}
        """
        var g = try! JSONDecoder().decode(OCTAGraph.self, from: Data(json.utf8))  // constant, valid document
        g.vessel = NodeSet(featureNames: GraphSchema.defaultFeatureNames[0])
        g.ica = NodeSet(featureNames: GraphSchema.defaultFeatureNames[1])
        g.faz = NodeSet(featureNames: GraphSchema.defaultFeatureNames[2])
        g.relations = GraphSchema.relations.map { Relation.make(name: $0.name, source: [], target: []) }
        return g
    }

    /// Sets the nodes of type `t`: `features` row-major with the type's columns; positions 0.
    public mutating func setNodes(_ t: NodeType, features: [Float]) {
        var ns = NodeSet(featureNames: GraphSchema.defaultFeatureNames[t.rawValue])
        let n = features.count / max(ns.featureNames.count, 1)
        ns.count = n; ns.features = features
        ns.xPX = [Float](repeating: 0, count: n); ns.yPX = ns.xPX; ns.xMM = ns.xPX; ns.yMM = ns.xPX
        ns.sector = [Int32](repeating: 0, count: n); ns.quadrant = ns.sector
        ns.footprints = []
        switch t {
        case .vessel: vessel = ns
        case .ica: ica = ns
        case .faz: faz = ns
        }
    }

    /// Replaces the edges of relation `name` (added if absent).
    public mutating func setEdges(_ name: String, source: [Int32], target: [Int32]) {
        let r = Relation.make(name: name, source: source, target: target)
        if let i = relations.firstIndex(where: { $0.name == name }) { relations[i] = r } else { relations.append(r) }
    }
}
