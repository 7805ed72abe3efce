import VesselGraph

/// The node types of an `OCTAGraph`, in the fixed order every per-type array of GraphNet uses.
public enum NodeType: Int, CaseIterable, Sendable, Codable {
    case vessel = 0, ica = 1, faz = 2

    /// Name used in graph JSON and relation names ("vessel", "ica", "faz").
    public var name: String { ["vessel", "ica", "faz"][rawValue] }

    /// The type with this JSON name, nil otherwise.
    public init?(name: String) {
        guard let i = ["vessel", "ica", "faz"].firstIndex(of: name) else { return nil }
        self.init(rawValue: i)
    }

    /// The node set of this type in `graph`.
    public func nodes(of graph: OCTAGraph) -> NodeSet {
        switch self {
        case .vessel: return graph.vessel
        case .ica: return graph.ica
        case .faz: return graph.faz
        }
    }
}

/// One stored relation of an `OCTAGraph` (edge lists as in the JSON) in GraphNet's fixed order.
public struct RelationType: Sendable, Equatable {
    /// Name in the graph JSON ("vessel-ica", ...).
    public let name: String
    /// Type of the edges' sources.
    public let source: NodeType
    /// Type of the edges' targets.
    public let target: NodeType
    /// Same-type relations list both directions already; cross-type ones are also used reversed.
    public var isSameType: Bool { source == target }
}

/// One direction messages flow in: a stored relation read forwards or (cross-type only) reversed.
public struct MessageChannel: Sendable, Equatable {
    /// Index into `GraphSchema.relations` (and into a batch's relation and edge-mask arrays).
    public let relation: Int
    /// True when messages flow from the relation's targets to its sources.
    public let reversed: Bool
    /// Node type the messages come from.
    public let from: NodeType
    /// Node type that receives them.
    public let to: NodeType
    /// Stable name used for weight names, e.g. "vessel-ica" or "vessel-ica.rev".
    public var name: String { GraphSchema.relations[relation].name + (reversed ? ".rev" : "") }
}

/// The fixed heterogeneous schema GraphNet is built for (the paper's graph, docs/GRAPH_FORMAT.md).
public enum GraphSchema {
    /// The five stored relations, in this order everywhere (batches, edge masks, weights).
    public static let relations: [RelationType] = [
        RelationType(name: "vessel-vessel", source: .vessel, target: .vessel),
        RelationType(name: "ica-ica", source: .ica, target: .ica),
        RelationType(name: "vessel-ica", source: .vessel, target: .ica),
        RelationType(name: "faz-ica", source: .faz, target: .ica),
        RelationType(name: "faz-vessel", source: .faz, target: .vessel),
    ]

    /// The eight message directions: same-type relations once, cross-type relations both ways.
    public static let channels: [MessageChannel] = {
        var out: [MessageChannel] = []
        for (i, r) in relations.enumerated() {
            out.append(MessageChannel(relation: i, reversed: false, from: r.source, to: r.target))
            if !r.isSameType { out.append(MessageChannel(relation: i, reversed: true, from: r.target, to: r.source)) }
        }
        return out
    }()

    /// The channels that deliver messages to nodes of type `t`, in `channels` order.
    public static func incoming(_ t: NodeType) -> [MessageChannel] { channels.filter { $0.to == t } }

    /// Default feature names per node type (the VesselGraph builder's columns).
    public static let defaultFeatureNames: [[String]] = [
        VesselGraphBuilder.vesselFeatureNames, VesselGraphBuilder.icaFeatureNames, VesselGraphBuilder.fazFeatureNames,
    ]

    /// Global biomarkers the GNN head and the logistic-regression baseline read (present in every graph;
    /// the per-sector perfusion densities are left out because sectors outside the field are missing).
    public static let globalBiomarkers: [String] = [
        "perfusion_density", "skeleton_length_density_mm_per_mm2", "faz_found", "faz_area_mm2", "faz_perimeter_mm",
        "faz_circularity", "fractal_dimension", "vessel_segment_count", "bifurcation_count", "endpoint_count",
        "ica_count", "vessel_curveness_mean", "vessel_radius_mean_um", "ica_area_mean_um2",
    ]
}
