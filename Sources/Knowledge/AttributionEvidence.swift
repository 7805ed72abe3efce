import GraphNet
import VesselGraph

/// Attribution evidence for one graph, in the plain form the Knowledge module reads. It is deliberately
/// independent of the Attribution module (integrated gradients): an adapter turns that module's result into
/// this struct, so Knowledge depends only on numbers, not on how they were computed.
public struct AttributionEvidence: Codable, Sendable, Equatable {
    /// Class the attributions explain (a `LabelScheme` class name, e.g. "npdr").
    public var targetClassName: String
    /// Per node type name ("vessel", "ica", "faz"): one signed score per node, in the graph's node order;
    /// positive = pushes towards `targetClassName`.
    public var nodeScores: [String: [Float]]
    /// Per node type name ("vessel", "ica", "faz", and "global" for the head's biomarkers): feature name ->
    /// signed attribution summed over that type's nodes.
    public var featureTotals: [String: [String: Float]]
    /// Completeness error of the attributions: |sum of attributions - (f(input) - f(baseline))|, in logit units.
    public var convergenceDelta: Float

    /// Evidence from its parts.
    public init(targetClassName: String, nodeScores: [String: [Float]], featureTotals: [String: [String: Float]],
                convergenceDelta: Float) {
        self.targetClassName = targetClassName; self.nodeScores = nodeScores
        self.featureTotals = featureTotals; self.convergenceDelta = convergenceDelta
    }

    /// Sum of |feature attribution| over every node type and feature (the denominator of feature shares).
    public var totalAbsoluteFeatureAttribution: Double {
        featureTotals.values.reduce(0) { $0 + $1.values.reduce(0) { $0 + Double(abs($1)) } }
    }

    /// Sum of |node score| over every node of every type (the denominator of node shares).
    public var totalAbsoluteNodeAttribution: Double {
        nodeScores.values.reduce(0) { $0 + $1.reduce(0) { $0 + Double(abs($1)) } }
    }

    enum CodingKeys: String, CodingKey {
        case targetClassName = "target_class_name", nodeScores = "node_scores", featureTotals = "feature_totals"
        case convergenceDelta = "convergence_delta"
    }
}

/// Where attribution evidence comes from. `capillary knowledge` asks its source once per graph; the source
/// for integrated gradients plugs in here once the Attribution module is merged. A source that returns nil
/// for a graph means "no attribution for this image": findings then come from deviations against the
/// healthy references alone, and the text never says what weighed on the decision.
public protocol EvidenceSource: Sendable {
    /// Short name for reports and the dataset's metadata ("none", "integrated-gradients").
    var name: String { get }
    /// Evidence for `graph` explaining `prediction`, or nil when this source has none for it.
    /// - Throws: whatever the source's computation throws (the caller reports it per image).
    func evidence(for graph: OCTAGraph, prediction: StagePrediction) throws -> AttributionEvidence?
}

/// The source that never has attributions: deviations-only knowledge, stated as such in the text.
public struct NoAttributionEvidence: EvidenceSource {
    /// The source.
    public init() {}
    /// "none".
    public var name: String { "none" }
    /// Always nil.
    public func evidence(for graph: OCTAGraph, prediction: StagePrediction) throws -> AttributionEvidence? { nil }
}
