import Attribution
import GraphNet
import VesselGraph

extension AttributionEvidence {
    /// The evidence Knowledge reads from an integrated-gradients result: per-node scores and per-feature
    /// totals of every node type, the head's global biomarkers under "global", and the convergence delta.
    public init(_ attribution: GraphAttribution) {
        var nodeScores: [String: [Float]] = [:], featureTotals: [String: [String: Float]] = [:]
        for (type, a) in attribution.nodeTypes {
            nodeScores[type] = a.nodeScores
            featureTotals[type] = a.featureTotals
        }
        if !attribution.globalFeatureNames.isEmpty {
            var g: [String: Float] = [:]
            for (name, s) in zip(attribution.globalFeatureNames, attribution.globalScores) { g[name, default: 0] += s }
            featureTotals["global"] = g
        }
        self.init(targetClassName: attribution.targetClass.name, nodeScores: nodeScores, featureTotals: featureTotals,
                  convergenceDelta: Float(abs(attribution.convergenceDelta)))
    }
}

/// Evidence from integrated gradients of the staging model's predicted class (training-mean baseline),
/// the source `capillary knowledge` uses by default. Explaining the predicted class is what the text says:
/// "this weighed most towards NPDR".
public struct IntegratedGradientsEvidence: EvidenceSource, @unchecked Sendable {
    /// The model whose prediction is explained.
    public let model: StagingModel
    /// Quadrature and path options (the target class is always the prediction).
    public let options: IntegratedGradientsOptions

    /// Evidence of `model`'s predictions with `options` (default: 50 Gauss-Legendre steps).
    public init(model: StagingModel, options: IntegratedGradientsOptions = IntegratedGradientsOptions()) {
        self.model = model
        var o = options
        o.targetClass = nil
        self.options = o
    }

    /// "integrated-gradients".
    public var name: String { "integrated-gradients" }

    /// Integrated gradients of `graph` for the predicted class. Throws the Attribution module's errors.
    public func evidence(for graph: OCTAGraph, prediction: StagePrediction) throws -> AttributionEvidence? {
        var o = options
        o.targetClass = prediction.classIndex
        return AttributionEvidence(try IntegratedGradients(model: model).attribute(graph, options: o))
    }
}
