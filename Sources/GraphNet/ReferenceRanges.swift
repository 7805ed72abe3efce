import Foundation
import VesselGraph

/// The healthy reference range of one global biomarker: 5th, 50th and 95th percentile over the healthy
/// training graphs. Stored with the model; the Knowledge module quotes it ("perfusion density 0.29,
/// healthy 0.31-0.38").
public struct BiomarkerReference: Codable, Sendable, Equatable {
    /// Biomarker name (units in the name, docs/GRAPH_FORMAT.md).
    public var name: String
    /// 5th percentile.
    public var p5: Double
    /// Median.
    public var p50: Double
    /// 95th percentile.
    public var p95: Double
    /// Number of healthy graphs the percentiles come from.
    public var count: Int

    /// Percentiles of `values` (linear interpolation between order statistics, numpy's default).
    /// Preconditions: `values` non-empty.
    public init(name: String, values: [Double]) {
        precondition(!values.isEmpty, "BiomarkerReference: no values for \(name)")
        let s = values.sorted()
        func q(_ p: Double) -> Double {
            let x = p * Double(s.count - 1)
            let i = Int(x.rounded(.down)), f = x - Double(i)
            return i + 1 < s.count ? s[i] * (1 - f) + s[i + 1] * f : s[i]
        }
        self.name = name; p5 = q(0.05); p50 = q(0.5); p95 = q(0.95); count = s.count
    }

    /// References of every biomarker that all `healthyGraphs` carry (sorted by name); empty without graphs.
    public static func fit(healthyGraphs: [OCTAGraph]) -> [BiomarkerReference] {
        guard let first = healthyGraphs.first else { return [] }
        let names = first.biomarkers.keys.filter { k in healthyGraphs.allSatisfy { $0.biomarkers[k] != nil } }.sorted()
        return names.map { k in BiomarkerReference(name: k, values: healthyGraphs.map { $0.biomarkers[k]! }) }
    }
}
