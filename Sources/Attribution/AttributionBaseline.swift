import GraphNet
import VesselGraph

/// The reference input x' that integrated gradients walks from (attributions explain F(x) - F(x')).
public enum AttributionBaseline: Sendable, Equatable {
    /// Every node feature and global biomarker at z = 0, i.e. at the training mean (the paper's choice);
    /// edge masks at 0 (no messages) when edges are attributed.
    case trainingMean
    /// A user-given baseline in z-scored space (see `GraphBaseline`); edge masks at 0 when attributed.
    case zScored(GraphBaseline)

    /// Short text for reports and JSON ("training_mean" or "custom").
    public var name: String {
        switch self {
        case .trainingMean: return "training_mean"
        case .zScored: return "custom"
        }
    }
}

/// A user-given baseline in the model's z-scored feature space.
public struct GraphBaseline: Sendable, Equatable {
    /// Per node type (`NodeType` order): either one row of F_t values (the same baseline for every node of
    /// that type) or N_t x F_t values row-major (one per node). An empty array means z = 0.
    public var nodeFeatures: [[Float]]
    /// The global biomarkers' baseline (G values), or empty for z = 0.
    public var globalFeatures: [Float]

    /// A baseline from its parts.
    public init(nodeFeatures: [[Float]], globalFeatures: [Float] = []) {
        self.nodeFeatures = nodeFeatures; self.globalFeatures = globalFeatures
    }

    /// The z-scored baseline of a raw graph with the same nodes as the explained one (e.g. the same graph
    /// with pathological features replaced by healthy reference values), normalised with `normalizer`.
    /// - Throws: `GraphNetError.featureMismatch` if its columns differ from the normaliser's.
    public init(rawGraph: OCTAGraph, normalizer: FeatureNormalizer) throws {
        try normalizer.check(rawGraph)
        nodeFeatures = NodeType.allCases.map { normalizer.nodes[$0.rawValue].normalize($0.nodes(of: rawGraph).features) }
        globalFeatures = normalizer.global.normalize(FeatureNormalizer.globalRow(rawGraph, names: normalizer.global.names))
    }

    /// The full per-node baseline of type `t` for `nodes` nodes of `width` features.
    /// - Throws: `AttributionError.badBaseline` naming the type and the expected counts.
    func expanded(_ t: NodeType, nodes: Int, width: Int) throws -> [Float] {
        let v = t.rawValue < nodeFeatures.count ? nodeFeatures[t.rawValue] : []
        if v.isEmpty { return [Float](repeating: 0, count: nodes * width) }
        if v.count == nodes * width { return v }
        if v.count == width { return (0..<nodes).flatMap { _ in v } }
        throw AttributionError.badBaseline(reason: "\(t.name) baseline has \(v.count) values; need \(width) (one row) or \(nodes * width) (\(nodes) nodes x \(width) features)")
    }

    /// The global baseline for `width` biomarkers.
    /// - Throws: `AttributionError.badBaseline`.
    func expandedGlobal(width: Int) throws -> [Float] {
        if globalFeatures.isEmpty { return [Float](repeating: 0, count: width) }
        guard globalFeatures.count == width else {
            throw AttributionError.badBaseline(reason: "global baseline has \(globalFeatures.count) values; need \(width)")
        }
        return globalFeatures
    }
}
