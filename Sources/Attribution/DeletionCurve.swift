import Common
import Foundation
import GraphNet
import Tensors
import VesselGraph

/// Faithfulness by deletion: the explained class's probability after "removing" (setting to the baseline,
/// z = 0 = training mean) the k nodes with the highest attribution towards the class, k = 0...K, against
/// removing k random nodes. A faithful attribution makes the probability fall faster than random removal.
public struct DeletionCurve: Codable, Sendable, Equatable {
    /// Number of removed nodes, 0...K.
    public var ks: [Int]
    /// Probability of the explained class after removing the top-k nodes (ranked by score, most positive first).
    public var topProbabilities: [Double]
    /// Mean probability after removing k random nodes (averaged over the repeats).
    public var randomProbabilities: [Double]
    /// Mean over k = 1...K of (p(0) - p(top k)): area between the start and the top-k curve, per step.
    public var topAUC: Double
    /// The same for random removal.
    public var randomAUC: Double

    enum CodingKeys: String, CodingKey {
        case ks, topProbabilities = "top_probabilities", randomProbabilities = "random_probabilities"
        case topAUC = "top_auc", randomAUC = "random_auc"
    }

    /// Measures the curve for `graph` explained by `attribution` (which must come from `model`), with K =
    /// `maxK` (capped at the node count) and `randomRepeats` random orders from `seed`. All variants run as
    /// one no-grad batch (a disjoint union of copies of the graph).
    /// - Throws: `GraphNetError.featureMismatch`; `AttributionError.invalidOption` for maxK < 1.
    public static func measure(model: AttributableModel, graph: OCTAGraph, attribution: GraphAttribution,
                               maxK: Int = 20, randomRepeats: Int = 3, seed: UInt64 = 1) throws -> DeletionCurve {
        guard maxK >= 1 else { throw AttributionError.invalidOption(name: "max-k", reason: "must be at least 1, got \(maxK)") }
        let ranked = attribution.rankedNodes().sorted { $0.score > $1.score }
        let nodes = ranked.map { (NodeType(name: $0.nodeType)!, $0.index) }
        let K = min(maxK, nodes.count)
        var orders: [[(NodeType, Int)]] = [nodes]
        var rng = SeededGenerator(seed: seed, stream: 0xDE1)
        for _ in 0..<max(randomRepeats, 0) {
            var p = nodes
            for i in stride(from: p.count - 1, to: 0, by: -1) { p.swapAt(i, rng.int(below: i + 1)) }
            orders.append(p)
        }
        // One copy per (order, k).
        let copies = orders.count * (K + 1)
        let batch = try model.makeBatch([OCTAGraph](repeating: graph, count: copies))
        let counts = NodeType.allCases.map { batch.nodeCount($0) / copies }
        for t in NodeType.allCases {
            let f = batch.features[t.rawValue].shape[1]
            let d = batch.features[t.rawValue].data
            for (o, order) in orders.enumerated() {
                for k in 0...K {
                    let copy = o * (K + 1) + k
                    for (tt, i) in order.prefix(k) where tt == t {
                        let row = copy * counts[t.rawValue] + i
                        for j in 0..<f { d[row * f + j] = 0 }
                    }
                }
            }
        }
        let logits = Tensor.withoutGrad { model.logits(batch, edgeMasks: nil) }.array
        let c = model.classNames.count, target = attribution.targetClass.index
        let probs: [Double] = (0..<copies).map { r in
            let row = (0..<c).map { Double(logits[r * c + $0]) }
            let m = row.max()!
            let z = row.reduce(0) { $0 + Foundation.exp($1 - m) }
            return Foundation.exp(row[target] - m) / z
        }
        let top = Array(probs[0...K])
        var random = [Double](repeating: 0, count: K + 1)
        if orders.count > 1 {
            for o in 1..<orders.count { for k in 0...K { random[k] += probs[o * (K + 1) + k] / Double(orders.count - 1) } }
        }
        func auc(_ p: [Double]) -> Double { K == 0 ? 0 : (1...K).reduce(0) { $0 + (p[0] - p[$1]) } / Double(K) }
        return DeletionCurve(ks: Array(0...K), topProbabilities: top, randomProbabilities: random,
                             topAUC: auc(top), randomAUC: orders.count > 1 ? auc(random) : 0)
    }
}
