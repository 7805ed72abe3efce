import Foundation
import GraphNet
import Retina
import VesselGraph

/// Where the simulator put the pathology of one synthetic eye, in image pixels.
public struct PathologyTruth: Sendable {
    /// True capillary dropout (non-perfusion) mask.
    public var dropout: BinaryMask
    /// Focal lesions (microaneurysms, neovascular tufts, dropout regions) with centres in px.
    public var lesions: [Lesion]
    /// Side of one pixel, mm.
    public var pixelSizeMM: Double

    /// Ground truth from its parts.
    public init(dropout: BinaryMask, lesions: [Lesion], pixelSizeMM: Double) {
        self.dropout = dropout; self.lesions = lesions; self.pixelSizeMM = pixelSizeMM
    }

    /// Whether a node with these footprint pixels is pathological: at least half of it inside the dropout
    /// mask, or any pixel within a microaneurysm's / neovascular tuft's radius (+1 px) of its centre.
    public func isHit(footprint: [Int32], width: Int) -> Bool {
        guard !footprint.isEmpty else { return false }
        var inDropout = 0
        for p in footprint where Int(p) < dropout.bits.count && dropout.bits[Int(p)] != 0 { inDropout += 1 }
        if 2 * inDropout >= footprint.count { return true }
        for l in lesions where l.type != .nonPerfusion {
            let r = l.radiusUM / 1000 / pixelSizeMM + 1
            let r2 = r * r
            for p in footprint {
                let dx = Double(Int(p) % width) + 0.5 - l.centerPX[0], dy = Double(Int(p) / width) + 0.5 - l.centerPX[1]
                if dx * dx + dy * dy <= r2 { return true }
            }
        }
        return false
    }
}

/// Localization of one eye's attribution against the simulator's truth: do the nodes pushing hardest
/// towards the explained class lie in true dropout or touch true lesions? Vessel and ICA nodes only (the
/// FAZ node is judged separately against the true FAZ enlargement).
public struct LocalizationScore: Codable, Sendable, Equatable {
    /// Vessel + ICA nodes in the graph.
    public var candidates: Int
    /// How many of them are pathological (`PathologyTruth.isHit`).
    public var hits: Int
    /// Whether the top node (highest score towards the class) is a hit.
    public var pointingHit: Bool
    /// Fraction of hits among the top-k nodes, per k (keys "5", "10", "20").
    public var precisionAtK: [String: Double]
    /// Expected precision of randomly chosen nodes: hits / candidates.
    public var randomPrecision: Double

    enum CodingKeys: String, CodingKey {
        case candidates, hits, pointingHit = "pointing_hit", precisionAtK = "precision_at_k", randomPrecision = "random_precision"
    }

    /// Scores `attribution` of `graph` (with footprints) against `truth`.
    public static func measure(graph: OCTAGraph, attribution: GraphAttribution, truth: PathologyTruth, ks: [Int] = [5, 10, 20]) -> LocalizationScore {
        var nodes: [(score: Float, hit: Bool)] = []
        for t in [NodeType.vessel, .ica] {
            let ns = t.nodes(of: graph)
            guard let scores = attribution.nodeTypes[t.name]?.nodeScores, ns.footprints.count == ns.count else { continue }
            for i in 0..<ns.count { nodes.append((scores[i], truth.isHit(footprint: ns.footprints[i], width: graph.widthPX))) }
        }
        let ranked = nodes.enumerated().sorted { $0.element.score != $1.element.score ? $0.element.score > $1.element.score : $0.offset < $1.offset }.map(\.element)
        let hits = nodes.filter(\.hit).count
        var prec: [String: Double] = [:]
        for k in ks where k > 0 {
            let top = ranked.prefix(k)
            prec[String(k)] = top.isEmpty ? 0 : Double(top.filter(\.hit).count) / Double(top.count)
        }
        return LocalizationScore(candidates: nodes.count, hits: hits, pointingHit: ranked.first?.hit ?? false, precisionAtK: prec,
                                 randomPrecision: nodes.isEmpty ? 0 : Double(hits) / Double(nodes.count))
    }
}
