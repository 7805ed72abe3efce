import Foundation
import GraphNet
import VesselGraph

/// Completeness of integrated gradients on one graph at several quadrature step counts.
public struct CompletenessEye: Codable, Sendable {
    /// Manifest id (or any name).
    public var id: String
    /// True label name, if known.
    public var trueClass: String?
    /// Explained (predicted) class.
    public var explainedClass: String
    /// F(x) - F(x') of the explained logit.
    public var gap: Double
    /// |sum(attr) - (F(x) - F(x'))| / |F(x) - F(x')| per step count (keys are the step counts).
    public var relativeDelta: [String: Double]

    enum CodingKeys: String, CodingKey {
        case id, gap
        case trueClass = "true_class", explainedClass = "explained_class", relativeDelta = "relative_delta"
    }
}

/// Summary of the relative convergence delta over the graphs at one step count.
public struct CompletenessSummary: Codable, Sendable, Equatable {
    /// Quadrature points.
    public var steps: Int
    /// Median, 90th percentile and largest relative delta over the graphs.
    public var median: Double
    /// See `median`.
    public var p90: Double
    /// See `median`.
    public var worst: Double
    /// The graph with the largest relative delta.
    public var worstID: String
    /// Graphs whose relative delta is below 1e-3 (the issue's target), and the number of graphs.
    public var below1e3: Int
    /// See `below1e3`.
    public var graphs: Int

    enum CodingKeys: String, CodingKey {
        case steps, median, p90, worst, graphs
        case worstID = "worst_id", below1e3 = "below_1e-3"
    }
}

/// How exactly integrated gradients satisfies completeness (attributions summing to F(x) - F(x')) on a
/// model, per quadrature step count: the check behind "|delta| / |F(x) - F(x')| < 1e-3 with 50
/// Gauss-Legendre steps" (docs/EXPLANATIONS.md).
public enum CompletenessCheck {
    /// Relative deltas of every graph at every step count in `steps` (other settings from `options`).
    /// Graphs whose gap |F(x) - F(x')| is below `minimumGap` logits are skipped (the ratio is meaningless).
    /// - Throws: `AttributionError.invalidOption` for empty `steps`; errors of `IntegratedGradients.attribute`.
    public static func run(model: AttributableModel, graphs: [(id: String, trueClass: String?, graph: OCTAGraph)], steps: [Int],
                           options: IntegratedGradientsOptions = IntegratedGradientsOptions(), minimumGap: Double = 1e-3,
                           progress: (Int, Int) -> Void = { _, _ in }) throws -> (eyes: [CompletenessEye], summaries: [CompletenessSummary]) {
        guard !steps.isEmpty else { throw AttributionError.invalidOption(name: "completeness", reason: "give at least one step count") }
        let ig = IntegratedGradients(model: model)
        var eyes: [CompletenessEye] = []
        for (n, g) in graphs.enumerated() {
            var rel: [String: Double] = [:], gap = 0.0, explained = ""
            for s in steps {
                var o = options
                o.steps = s
                let a = try ig.attribute(g.graph, options: o)
                gap = a.targetLogit - a.baselineLogit
                explained = a.targetClass.name
                rel[String(s)] = abs(gap) >= minimumGap ? abs(a.convergenceDelta) / abs(gap) : .nan
            }
            if abs(gap) >= minimumGap {
                eyes.append(CompletenessEye(id: g.id, trueClass: g.trueClass, explainedClass: explained, gap: gap, relativeDelta: rel))
            }
            progress(n + 1, graphs.count)
        }
        let summaries = steps.map { s -> CompletenessSummary in
            let v = eyes.map { ($0.id, $0.relativeDelta[String(s)]!) }.sorted { $0.1 < $1.1 }
            func q(_ p: Double) -> Double { v.isEmpty ? .nan : v[min(v.count - 1, Int((Double(v.count - 1) * p).rounded()))].1 }
            return CompletenessSummary(steps: s, median: q(0.5), p90: q(0.9), worst: v.last?.1 ?? .nan, worstID: v.last?.0 ?? "",
                                       below1e3: v.filter { $0.1 < 1e-3 }.count, graphs: v.count)
        }
        return (eyes, summaries)
    }

    /// A markdown table of the summaries.
    public static func markdown(_ summaries: [CompletenessSummary], quadrature: Quadrature) -> String {
        var s = "| \(quadrature == .gaussLegendre ? "Gauss-Legendre" : "trapezoid") steps | graphs | median rel. delta | p90 | worst (graph) | below 1e-3 |\n"
        s += "|---|---|---|---|---|---|\n"
        for r in summaries {
            s += String(format: "| %d | %d | %.2e | %.2e | %.2e (%@) | %d / %d |\n", r.steps, r.graphs, r.median, r.p90, r.worst, r.worstID, r.below1e3, r.graphs)
        }
        return s
    }
}
