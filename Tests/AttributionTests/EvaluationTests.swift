import Foundation
import GraphNet
import Retina
import Tensors
import VesselGraph
import XCTest
@testable import Attribution

final class EvaluationTests: XCTestCase {
    func testDeletionCurveOfALinearModelFollowsItsAttributions() throws {
        // For a linear model a node's IG score for class c is exactly its contribution to logit c, so removing
        // the top-k nodes (z = 0) must give logits F_c(x) - sum of their class-c scores.
        let graphs = (0..<3).map { Fixtures.graph(seed: UInt64(80 + $0)) }
        let model = try LinearGraphModel(fitting: graphs, seed: 8)
        let g = graphs[0]
        let ig = IntegratedGradients(model: model)
        var o = IntegratedGradientsOptions()
        o.steps = 3
        let perClass = try (0..<3).map { c -> GraphAttribution in o.targetClass = c; return try ig.attribute(g, options: o) }
        let explained = perClass[1]
        let curve = try DeletionCurve.measure(model: model, graph: g, attribution: explained, maxK: 6, randomRepeats: 2, seed: 3)
        XCTAssertEqual(curve.ks, Array(0...6))
        let order = explained.rankedNodes().sorted { $0.score > $1.score }
        for k in 0...6 {
            let removed = order.prefix(k)
            let logits = (0..<3).map { c -> Double in
                perClass[c].logits[c] - removed.reduce(0.0) { s, n in Double(perClass[c].nodeTypes[n.nodeType]!.nodeScores[n.index]) + s }
            }
            let m = logits.max()!
            let p = exp(logits[1] - m) / logits.reduce(0) { $0 + exp($1 - m) }
            XCTAssertEqual(curve.topProbabilities[k], p, accuracy: 1e-4, "k = \(k)")
        }
        XCTAssertEqual(curve.randomProbabilities[0], curve.topProbabilities[0], accuracy: 1e-9)
        let expectedAUC = (1...6).reduce(0.0) { $0 + curve.topProbabilities[0] - curve.topProbabilities[$1] } / 6
        XCTAssertEqual(curve.topAUC, expectedAUC, accuracy: 1e-12)
        // Removing the nodes that push hardest towards the class lowers its probability monotonically here.
        for k in 1...6 where order[k - 1].score > 0 { XCTAssertLessThanOrEqual(curve.topProbabilities[k], curve.topProbabilities[k - 1] + 1e-9) }
        XCTAssertThrowsError(try DeletionCurve.measure(model: model, graph: g, attribution: explained, maxK: 0))
    }

    func testLocalizationCountsDropoutAndLesionHits() throws {
        // 10 x 10 image: dropout in the left half; a microaneurysm at (8.5, 8.5) with radius 1 px.
        let w = 10
        var g = OCTAGraph.empty(widthPX: w, heightPX: w, pixelSizeMM: 0.01)
        g.setNodes(.vessel, features: [Float](repeating: 1, count: 3 * GraphSchema.defaultFeatureNames[0].count))
        g.setNodes(.ica, features: [Float](repeating: 1, count: 2 * GraphSchema.defaultFeatureNames[1].count))
        g.vessel.footprints = [[0, 1, 2], [7, 17], [88]]          // left (dropout), right (clean), at the lesion
        g.ica.footprints = [[50, 51, 52, 56], [39, 49]]         // 3 of 4 left = hit; right = miss
        var bits = [UInt8](repeating: 0, count: w * w)
        for y in 0..<w { for x in 0..<5 { bits[y * w + x] = 1 } }
        let truth = PathologyTruth(dropout: BinaryMask(width: w, height: w, bits: bits),
                                   lesions: [Lesion(type: .microaneurysm, centerMM: (0.085, 0.085), radiusUM: 10, pixelSizeMM: 0.01)],
                                   pixelSizeMM: 0.01)
        XCTAssertTrue(truth.isHit(footprint: [0, 1, 2], width: w))
        XCTAssertFalse(truth.isHit(footprint: [7, 17], width: w))
        XCTAssertTrue(truth.isHit(footprint: [88], width: w))
        // Scores: vessel 1 (clean) highest, then ICA 0 (dropout), vessel 2 (lesion), vessel 0, ICA 1.
        let raw = RawAttribution(target: 0, predicted: 0, logits: [1, 0, 0], targetLogit: 1, baselineLogit: 0,
                                 node: [scores([0.2, 0.9, 0.5], width: 13), scores([0.7, -0.3], width: 10), []],
                                 nodeCounts: [3, 2, 0], edge: GraphSchema.relations.map { _ in [] }, global: [],
                                 steps: 1, quadrature: .gaussLegendre, baselineName: "training_mean")
        var normalizer = try FeatureNormalizer(fitting: [Fixtures.graph(seed: 1)])
        normalizer.nodes[2].names = GraphSchema.defaultFeatureNames[2]
        let a = GraphAttribution(raw, classNames: ["healthy", "npdr", "pdr"], normalizer: normalizer, options: IntegratedGradientsOptions())
        let s = LocalizationScore.measure(graph: g, attribution: a, truth: truth, ks: [1, 2, 3])
        XCTAssertEqual(s.candidates, 5)
        XCTAssertEqual(s.hits, 3)
        XCTAssertFalse(s.pointingHit)
        XCTAssertEqual(s.precisionAtK["1"], 0)
        XCTAssertEqual(s.precisionAtK["2"], 0.5)
        XCTAssertEqual(s.precisionAtK["3"]!, 2.0 / 3, accuracy: 1e-12)
        XCTAssertEqual(s.randomPrecision, 0.6, accuracy: 1e-12)
    }

    func testSpearman() {
        XCTAssertEqual(AttributionEvaluation.spearman([1, 2, 3, 4], [10, 20, 30, 40]), 1, accuracy: 1e-12)
        XCTAssertEqual(AttributionEvaluation.spearman([1, 2, 3, 4], [4, 3, 2, 1]), -1, accuracy: 1e-12)
        XCTAssertEqual(AttributionEvaluation.spearman([1, 2, 2, 3], [1, 2, 2, 3]), 1, accuracy: 1e-12)
        XCTAssertTrue(AttributionEvaluation.spearman([1, 2], [1, 2]).isNaN)
    }

    /// Node feature rows whose sums are the given scores (all in the first column).
    func scores(_ s: [Float], width: Int) -> [Float] {
        s.flatMap { [$0] + [Float](repeating: 0, count: width - 1) }
    }
}
