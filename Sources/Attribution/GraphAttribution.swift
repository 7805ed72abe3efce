import Foundation
import GraphNet

/// A class of the explained model: index (logit column) and name.
public struct AttributedClass: Codable, Sendable, Equatable {
    /// Logit column.
    public var index: Int
    /// Class name ("healthy", "npdr", "pdr").
    public var name: String

    /// A class from its parts.
    public init(index: Int, name: String) { self.index = index; self.name = name }
}

/// Integrated-gradients scores of the nodes of one type.
public struct NodeTypeAttribution: Codable, Sendable, Equatable {
    /// Column names of `featureScores` (the model's feature names for this type, units in the name).
    public var featureNames: [String]
    /// Attribution per node per feature, [node][feature], in logit units (positive = pushes the target
    /// class's logit up, compared with the baseline).
    public var featureScores: [[Float]]
    /// Attribution per node: the sum of its feature scores (node order = the graph's node order).
    public var nodeScores: [Float]
    /// Attribution per feature name summed over all nodes of this type.
    public var featureTotals: [String: Float]

    enum CodingKeys: String, CodingKey {
        case featureNames = "feature_names", featureScores = "feature_scores", nodeScores = "node_scores"
        case featureTotals = "feature_totals"
    }
}

/// One node's attribution, for ranked lists (relevant set, top-k).
public struct NodeScore: Codable, Sendable, Equatable {
    /// Node type name ("vessel", "ica", "faz").
    public var nodeType: String
    /// Node index within its type (row of the graph's node set).
    public var index: Int
    /// Node score (sum over its features), logit units.
    public var score: Float

    /// A node score from its parts.
    public init(nodeType: String, index: Int, score: Float) { self.nodeType = nodeType; self.index = index; self.score = score }

    enum CodingKeys: String, CodingKey { case nodeType = "node_type", index, score }
}

/// The explanation of one graph's prediction by integrated gradients: what `capillary attribute` writes as
/// JSON and what the Knowledge and Daemon modules consume.
///
/// Units: every score is in logits of the target class; the scores of all inputs (node features, edge
/// masks, global biomarkers) sum to `targetLogit - baselineLogit` up to `convergenceDelta` (completeness).
/// Node types are keyed by GraphNet's names ("vessel", "ica", "faz"), relations by theirs
/// ("vessel-vessel", "ica-ica", "vessel-ica", "faz-ica", "faz-vessel").
public struct GraphAttribution: Codable, Sendable, Equatable {
    /// Format tag, "capillary-attribution/1".
    public var format: String = GraphAttribution.formatTag
    /// Format tag of this version.
    public static let formatTag = "capillary-attribution/1"
    /// Class whose logit is explained.
    public var targetClass: AttributedClass
    /// Class the model predicts for the graph.
    public var predictedClass: AttributedClass
    /// Class names, index = logit column.
    public var classNames: [String]
    /// Softmax probability per class at the input (`classNames` order).
    public var probabilities: [Double]
    /// Logits at the input (`classNames` order).
    public var logits: [Double]
    /// F(x): the target logit at the input.
    public var targetLogit: Double
    /// F(x'): the target logit at the baseline.
    public var baselineLogit: Double
    /// Sum of all attributions minus (F(x) - F(x')): the quadrature error (0 for exact integration).
    public var convergenceDelta: Double
    /// Number of quadrature points.
    public var steps: Int
    /// Quadrature rule.
    public var quadrature: Quadrature
    /// Baseline name ("training_mean" or "custom").
    public var baseline: String
    /// Per node type name.
    public var nodeTypes: [String: NodeTypeAttribution]
    /// Per relation name: attribution of each edge's mask (edge order = the graph's relation order); empty
    /// arrays when edges were not attributed.
    public var edgeScores: [String: [Float]]
    /// Names of the global biomarkers (empty when they were not attributed).
    public var globalFeatureNames: [String]
    /// Attribution per global biomarker, same order.
    public var globalScores: [Float]
    /// Fraction of total |node attribution| that `relevantSet` covers (0.95).
    public var relevantFraction: Double
    /// The fewest nodes (all types) whose |score| sum reaches `relevantFraction` of the total |node score|,
    /// sorted by |score| descending (ties: type order, then index).
    public var relevantSet: [NodeScore]

    /// Every node of every type ranked by |score| descending (ties: type order vessel, ica, faz, then index).
    public func rankedNodes() -> [NodeScore] {
        var all: [NodeScore] = []
        for t in NodeType.allCases {
            guard let a = nodeTypes[t.name] else { continue }
            for (i, s) in a.nodeScores.enumerated() { all.append(NodeScore(nodeType: t.name, index: i, score: s)) }
        }
        return all.enumerated().sorted { l, r in
            abs(l.element.score) != abs(r.element.score) ? abs(l.element.score) > abs(r.element.score) : l.offset < r.offset
        }.map(\.element)
    }

    /// Which nodes `topK` ranks by.
    public enum Ranking: String, Sendable {
        /// |score|: the most influential either way.
        case magnitude
        /// Largest positive scores: the nodes that push towards the target class.
        case towards
        /// Most negative scores: the nodes that push against it.
        case against
    }

    /// The `k` highest-ranked nodes (fewer if the graph has fewer nodes of the wanted sign).
    public func topK(_ k: Int, by ranking: Ranking = .magnitude) -> [NodeScore] {
        let ranked = rankedNodes()
        switch ranking {
        case .magnitude: return Array(ranked.prefix(max(k, 0)))
        case .towards: return Array(ranked.filter { $0.score > 0 }.sorted { $0.score > $1.score }.prefix(max(k, 0)))
        case .against: return Array(ranked.filter { $0.score < 0 }.sorted { $0.score < $1.score }.prefix(max(k, 0)))
        }
    }

    /// Sum of every attribution (node features, edge masks, global biomarkers), logit units.
    public var attributionSum: Double {
        nodeTypes.values.reduce(0) { $0 + $1.featureScores.joined().reduce(0) { $0 + Double($1) } }
            + edgeScores.values.reduce(0) { $0 + $1.reduce(0) { $0 + Double($1) } }
            + globalScores.reduce(0) { $0 + Double($1) }
    }

    /// Sum of |node score| over all nodes.
    public var totalAbsoluteNodeScore: Double {
        nodeTypes.values.reduce(0) { $0 + $1.nodeScores.reduce(0) { $0 + Double(abs($1)) } }
    }

    /// JSON (sorted keys, pretty when asked).
    /// - Throws: `EncodingError` only for non-finite numbers (never produced by `IntegratedGradients`).
    public func jsonData(pretty: Bool = false) throws -> Data {
        let enc = JSONEncoder()
        enc.outputFormatting = pretty ? [.sortedKeys, .prettyPrinted] : [.sortedKeys]
        return try enc.encode(self)
    }

    enum CodingKeys: String, CodingKey {
        case format, steps, quadrature, baseline, probabilities, logits
        case targetClass = "target_class", predictedClass = "predicted_class", classNames = "class_names"
        case targetLogit = "target_logit", baselineLogit = "baseline_logit", convergenceDelta = "convergence_delta"
        case nodeTypes = "node_types", edgeScores = "edge_scores", globalFeatureNames = "global_feature_names"
        case globalScores = "global_scores", relevantFraction = "relevant_fraction", relevantSet = "relevant_set"
    }

    /// Names and aggregates the flat arrays of an integration.
    init(_ raw: RawAttribution, classNames: [String], normalizer: FeatureNormalizer, options: IntegratedGradientsOptions) {
        self.classNames = classNames
        targetClass = AttributedClass(index: raw.target, name: classNames[raw.target])
        predictedClass = AttributedClass(index: raw.predicted, name: classNames[raw.predicted])
        logits = raw.logits
        let m = raw.logits.max() ?? 0
        let e = raw.logits.map { Foundation.exp($0 - m) }
        let z = e.reduce(0, +)
        probabilities = e.map { $0 / z }
        targetLogit = raw.targetLogit
        baselineLogit = raw.baselineLogit
        steps = raw.steps; quadrature = raw.quadrature; baseline = raw.baselineName
        var types: [String: NodeTypeAttribution] = [:]
        for t in NodeType.allCases {
            let names = normalizer.nodes[t.rawValue].names, f = names.count, n = raw.nodeCounts[t.rawValue]
            let a = raw.node[t.rawValue]
            let rows = (0..<n).map { Array(a[($0 * f)..<(($0 + 1) * f)]) }
            var totals: [String: Float] = [:]
            for (j, name) in names.enumerated() { totals[name] = Float((0..<n).reduce(0.0) { $0 + Double(a[$1 * f + j]) }) }
            types[t.name] = NodeTypeAttribution(featureNames: names, featureScores: rows,
                                                nodeScores: rows.map { Float($0.reduce(0.0) { $0 + Double($1) }) }, featureTotals: totals)
        }
        nodeTypes = types
        var edges: [String: [Float]] = [:]
        for (r, rel) in GraphSchema.relations.enumerated() { edges[rel.name] = raw.edge[r] }
        edgeScores = edges
        globalFeatureNames = raw.global.isEmpty ? [] : normalizer.global.names
        globalScores = raw.global
        relevantFraction = 0.95
        convergenceDelta = 0
        relevantSet = []
        convergenceDelta = attributionSum - (raw.targetLogit - raw.baselineLogit)
        relevantSet = Self.covering(rankedNodes(), fraction: relevantFraction)
    }

    /// The shortest prefix of `ranked` whose |score| sum reaches `fraction` of the total.
    static func covering(_ ranked: [NodeScore], fraction: Double) -> [NodeScore] {
        let total = ranked.reduce(0.0) { $0 + Double(abs($1.score)) }
        guard total > 0 else { return [] }
        var out: [NodeScore] = [], sum = 0.0
        for s in ranked {
            out.append(s); sum += Double(abs(s.score))
            if sum >= fraction * total { break }
        }
        return out
    }
}
