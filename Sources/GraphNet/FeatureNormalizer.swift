import Foundation
import VesselGraph

/// How a raw feature column is transformed before z-scoring.
public enum FeatureTransform: String, Codable, Sendable {
    /// Used as is.
    case identity
    /// log(1 + max(x, 0)): sizes and counts span orders of magnitude (a 20 um2 and a 20,000 um2 ICA), so
    /// z-scores of the raw value would be dominated by a few huge regions.
    case log1p

    /// The transform for a feature name: log1p for sizes and counts, identity otherwise.
    public static func `default`(for name: String) -> FeatureTransform {
        let sizeWords = ["length", "chord", "area", "perimeter", "feret", "axis", "diameter", "count", "distance"]
        return sizeWords.contains { name.contains($0) } ? .log1p : .identity
    }

    /// Applies the transform to one value.
    @inline(__always) public func apply(_ x: Float) -> Float {
        switch self {
        case .identity: return x
        case .log1p: return Foundation.log1p(max(x, 0))
        }
    }
}

/// Per-column statistics of one feature group (a node type, or the global biomarkers): names, transform,
/// mean and standard deviation of the transformed value. Stored in the model's config.json.
public struct FeatureStatistics: Codable, Sendable, Equatable {
    /// Column names (units in the name).
    public var names: [String]
    /// Transform per column, applied before z-scoring.
    public var transforms: [FeatureTransform]
    /// Mean of the transformed column over the training nodes.
    public var mean: [Float]
    /// Standard deviation of the transformed column (at least 1e-6, so constant columns map to 0).
    public var std: [Float]

    /// Largest |z| kept; a single broken node (e.g. a 10-sigma region at the border) cannot saturate a layer.
    public static let zClip: Float = 8

    /// Statistics of the rows of `matrix` (row-major, `names.count` columns), computed in Double.
    public init(names: [String], rows matrix: [Float]) {
        self.names = names
        transforms = names.map { FeatureTransform.default(for: $0) }
        let f = names.count
        let n = f == 0 ? 0 : matrix.count / f
        var s = [Double](repeating: 0, count: f), s2 = [Double](repeating: 0, count: f)
        for i in 0..<n {
            for j in 0..<f {
                let v = Double(transforms[j].apply(matrix[i * f + j]))
                s[j] += v; s2[j] += v * v
            }
        }
        mean = (0..<f).map { n > 0 ? Float(s[$0] / Double(n)) : 0 }
        std = (0..<f).map { j in
            guard n > 1 else { return 1 }
            let m = s[j] / Double(n)
            return Float(max((s2[j] / Double(n) - m * m).squareRoot(), 1e-6))
        }
    }

    /// z-scored, clipped copy of `matrix` (row-major, same columns).
    public func normalize(_ matrix: [Float]) -> [Float] {
        let f = names.count
        guard f > 0 else { return [] }
        var out = matrix
        for i in 0..<(matrix.count / f) {
            for j in 0..<f {
                let z = (transforms[j].apply(matrix[i * f + j]) - mean[j]) / std[j]
                out[i * f + j] = z.isFinite ? min(max(z, -Self.zClip), Self.zClip) : 0
            }
        }
        return out
    }
}

/// Normalisation of everything the model reads: one `FeatureStatistics` per node type (in `NodeType`
/// order) and one for the global biomarkers. Part of the stored model.
public struct FeatureNormalizer: Codable, Sendable, Equatable {
    /// Per node type, `NodeType` order.
    public var nodes: [FeatureStatistics]
    /// Global biomarkers (`GraphSchema.globalBiomarkers`).
    public var global: FeatureStatistics

    /// Statistics over every node of `graphs` (the training graphs only, so nothing leaks from test data).
    /// - Throws: `GraphNetError.featureMismatch` if the graphs disagree on feature columns.
    public init(fitting graphs: [OCTAGraph], globalNames: [String] = GraphSchema.globalBiomarkers) throws {
        var stats: [FeatureStatistics] = []
        for t in NodeType.allCases {
            let names = graphs.first.map { t.nodes(of: $0).featureNames } ?? GraphSchema.defaultFeatureNames[t.rawValue]
            var all: [Float] = []
            for g in graphs {
                let ns = t.nodes(of: g)
                guard ns.featureNames == names else {
                    throw GraphNetError.featureMismatch(nodeType: t.name, expected: names, found: ns.featureNames)
                }
                all += ns.features
            }
            stats.append(FeatureStatistics(names: names, rows: all))
        }
        nodes = stats
        global = FeatureStatistics(names: globalNames, rows: graphs.flatMap { Self.globalRow($0, names: globalNames) })
    }

    /// The raw global biomarker values of `graph` in `names` order (missing ones 0).
    public static func globalRow(_ graph: OCTAGraph, names: [String]) -> [Float] {
        names.map { Float(graph.biomarkers[$0] ?? 0) }
    }

    /// Checks that `graph` has the columns this normaliser was fitted on.
    /// - Throws: `GraphNetError.featureMismatch` naming the node type.
    public func check(_ graph: OCTAGraph) throws {
        for t in NodeType.allCases {
            let ns = t.nodes(of: graph)
            if ns.featureNames != nodes[t.rawValue].names {
                throw GraphNetError.featureMismatch(nodeType: t.name, expected: nodes[t.rawValue].names, found: ns.featureNames)
            }
        }
    }
}
