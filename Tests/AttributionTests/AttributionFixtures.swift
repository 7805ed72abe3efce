import Common
import Foundation
import GraphNet
import Tensors
import VesselGraph
@testable import Attribution

/// Small graphs and models for the attribution tests.
enum Fixtures {
    /// A random graph with every relation non-empty.
    static func graph(seed: UInt64, vessels: Int = 9, icas: Int = 5, faz: Int = 1) -> OCTAGraph {
        var g = RandomGraphs.graph(vessels: vessels, icas: icas, faz: faz, edgesPerNode: 2.5, seed: seed)
        if faz > 0 {
            g.setEdges("faz-ica", source: [0, 0], target: [0, Int32(icas - 1)])
            g.setEdges("faz-vessel", source: [0, 0], target: [Int32(min(1, vessels - 1)), Int32(min(2, vessels - 1))])
        }
        return g
    }

    /// A random-weight staging model (normaliser fitted on `graphs`).
    static func model(_ graphs: [OCTAGraph], hidden: Int = 8, layers: Int = 2, activation: Activation = .leakyRelu,
                      readout: GraphReadout = .meanMax, seed: UInt64 = 5) throws -> StagingModel {
        var a = GraphNetConfig()
        a.hidden = hidden; a.layers = layers; a.activation = activation; a.readout = readout; a.dropout = 0
        let n = try FeatureNormalizer(fitting: graphs)
        let c = StagingModelConfig(architecture: a, normalizer: n, healthyReferences: [], builder: VesselGraphConfig(),
                                   labelScheme: .stage, training: nil, dataFingerprint: "test", trainCount: graphs.count, valCount: 0)
        return try StagingModel(storedConfig: c, seed: seed)
    }

    /// The same graph with its vessel and ICA nodes renumbered by random permutations (edges remapped).
    /// Returns the graph and, per type, `perm[new] = old`.
    static func permuted(_ g: OCTAGraph, seed: UInt64) -> (OCTAGraph, [[Int]]) {
        var rng = SeededGenerator(seed: seed)
        var out = g
        var perms: [[Int]] = []
        for t in NodeType.allCases {
            let ns = t.nodes(of: g), f = ns.featureNames.count
            var p = Array(0..<ns.count)
            for i in stride(from: p.count - 1, to: 0, by: -1) { p.swapAt(i, rng.int(below: i + 1)) }
            out.setNodes(t, features: p.flatMap { Array(ns.features[($0 * f)..<(($0 + 1) * f)]) })
            perms.append(p)
        }
        let inverse = perms.map { p -> [Int32] in
            var inv = [Int32](repeating: 0, count: p.count)
            for (new, old) in p.enumerated() { inv[old] = Int32(new) }
            return inv
        }
        for r in GraphSchema.relations {
            guard let rel = g.relation(r.name) else { continue }
            out.setEdges(r.name, source: rel.source.map { inverse[r.source.rawValue][Int($0)] },
                         target: rel.target.map { inverse[r.target.rawValue][Int($0)] })
        }
        return (out, perms)
    }
}

/// A model linear in every input: logit_c = sum over nodes of x_i . W_t[:, c] + sum over edges of
/// m_e v_r[c] + g . U[:, c] per graph. Its integrated gradients are exactly (x - x') * W (and v_r per edge).
final class LinearGraphModel: AttributableModel {
    let classNames = ["a", "b", "c"]
    let normalizer: FeatureNormalizer
    /// Per type [F_t, C].
    let nodeWeights: [Tensor]
    /// Per relation [1, C].
    let edgeWeights: [Tensor]
    /// [G, C].
    let globalWeights: Tensor

    init(fitting graphs: [OCTAGraph], seed: UInt64) throws {
        normalizer = try FeatureNormalizer(fitting: graphs)
        var rng = SeededGenerator(seed: seed)
        nodeWeights = normalizer.nodes.map { Tensor.randn([$0.names.count, 3], generator: &rng) }
        edgeWeights = GraphSchema.relations.map { _ in Tensor.randn([1, 3], generator: &rng) }
        globalWeights = Tensor.randn([normalizer.global.names.count, 3], generator: &rng)
    }

    func makeBatch(_ graphs: [OCTAGraph]) throws -> GraphBatch { try GraphBatch(graphs: graphs, normalizer: normalizer) }

    func logits(_ batch: GraphBatch, edgeMasks: [Tensor]?) -> Tensor {
        var out = Tensor.matmul(batch.globalFeatures, globalWeights)
        for t in NodeType.allCases where batch.nodeCount(t) > 0 {
            out = out + Tensor.matmul(batch.features[t.rawValue], nodeWeights[t.rawValue]).segmentSum(batch.batch[t.rawValue], segments: batch.graphCount)
        }
        for r in GraphSchema.relations.indices where batch.edgeCount(r) > 0 {
            let mask = edgeMasks?[r] ?? Tensor.ones([batch.edgeCount(r)])
            var graphOfEdge: [Int] = []
            for b in 0..<batch.graphCount {
                graphOfEdge += [Int](repeating: b, count: batch.edgeOffsets[r][b + 1] - batch.edgeOffsets[r][b])
            }
            out = out + Tensor.matmul(mask.reshaped([batch.edgeCount(r), 1]), edgeWeights[r]).segmentSum(graphOfEdge, segments: batch.graphCount)
        }
        return out
    }
}
