import Common
import Foundation
import GraphNet
import Tensors
import VesselGraph
import XCTest
@testable import Attribution

final class IntegratedGradientsTests: XCTestCase {
    func testQuadratureRulesIntegratePolynomials() throws {
        for n in [1, 2, 5, 50] {
            let r = try QuadratureRule(.gaussLegendre, steps: n)
            XCTAssertEqual(r.weights.reduce(0, +), 1, accuracy: 1e-12)
            XCTAssertTrue(r.alphas.allSatisfy { $0 > 0 && $0 < 1 })
            // Exact for degree 2n - 1: integral_0^1 a^k = 1 / (k + 1).
            let k = 2 * n - 1
            let q = zip(r.alphas, r.weights).reduce(0.0) { $0 + $1.1 * pow($1.0, Double(k)) }
            XCTAssertEqual(q, 1 / Double(k + 1), accuracy: 1e-12, "GL \(n) points, degree \(k)")
        }
        let t = try QuadratureRule(.trapezoid, steps: 5)
        XCTAssertEqual(t.alphas, [0, 0.25, 0.5, 0.75, 1])
        XCTAssertEqual(t.weights, [0.125, 0.25, 0.25, 0.25, 0.125])
        XCTAssertThrowsError(try QuadratureRule(.trapezoid, steps: 1))
        XCTAssertThrowsError(try QuadratureRule(.gaussLegendre, steps: 0))
    }

    func testLinearModelGivesExactlyInputDifferenceTimesWeight() throws {
        let graphs = (0..<3).map { Fixtures.graph(seed: UInt64(10 + $0)) }
        let model = try LinearGraphModel(fitting: graphs, seed: 4)
        let g = graphs[1]
        for quad in Quadrature.allCases {
            var o = IntegratedGradientsOptions()
            o.quadrature = quad; o.steps = 7; o.targetClass = 2
            let a = try IntegratedGradients(model: model).attribute(g, options: o)
            let x = try model.makeBatch([g])
            for t in NodeType.allCases {
                let w = model.nodeWeights[t.rawValue], f = w.shape[0]
                let scores = a.nodeTypes[t.name]!.featureScores
                XCTAssertEqual(scores.count, t.nodes(of: g).count)
                for i in scores.indices {
                    for j in 0..<f {
                        // Baseline z = 0, so x - x' = x.
                        let expected = x.features[t.rawValue].data[i * f + j] * w.data[j * 3 + 2]
                        XCTAssertEqual(scores[i][j], expected, accuracy: 1e-5 * max(1, abs(expected)), "\(t.name) node \(i) feature \(j)")
                    }
                }
            }
            for (r, rel) in GraphSchema.relations.enumerated() {
                let e = a.edgeScores[rel.name]!
                XCTAssertEqual(e.count, g.relation(rel.name)!.count)
                for v in e { XCTAssertEqual(v, model.edgeWeights[r].data[2], accuracy: 1e-5) }
            }
            for j in a.globalScores.indices {
                XCTAssertEqual(a.globalScores[j], x.globalFeatures.data[j] * model.globalWeights.data[j * 3 + 2], accuracy: 1e-5)
            }
            XCTAssertEqual(a.targetClass, AttributedClass(index: 2, name: "c"))
            XCTAssertEqual(a.convergenceDelta, 0, accuracy: 1e-3)
        }
    }

    func testCompletenessOnASmoothGNNWithFiftyGaussLegendreSteps() throws {
        // A real GraphNetModel (2 message-passing layers, LayerNorm, mean+max pooling, global head) with a smooth
        // activation on a graph of one node per type: F is smooth along the path (no ReLU kinks, no max-pool
        // switches), where Gauss-Legendre converges fast. Edges, globals and all node types are attributed.
        let graphs = (0..<4).map { Fixtures.graph(seed: UInt64(20 + $0), vessels: 1, icas: 1) }
        for act in [Activation.tanh, .gelu] {
            let model = try Fixtures.model(graphs, hidden: 8, layers: 2, activation: act, seed: 11)
            for g in graphs.prefix(2) {
                let a = try IntegratedGradients(model: model).attribute(g)
                let gap = abs(a.targetLogit - a.baselineLogit)
                XCTAssertGreaterThan(gap, 1e-2)
                XCTAssertLessThan(abs(a.convergenceDelta) / gap, 1e-3, "\(act): delta \(a.convergenceDelta), gap \(gap)")
                XCTAssertTrue(a.edgeScores.values.allSatisfy { !$0.isEmpty })
            }
        }
    }

    func testSmoothArchitectureIsCompleteWithFiftyStepsOnLargerGraphs() throws {
        // GraphNetConfig.smooth (SiLU, mean + log-mean-exp readout) on graphs of many nodes per type, where
        // the default's max pooling would switch nodes along the path: 50 Gauss-Legendre points reach
        // < 1e-3, and 200 points do at least as well.
        let graphs = (0..<3).map { Fixtures.graph(seed: UInt64(20 + $0), vessels: 14, icas: 8) }
        let model = try Fixtures.model(graphs, activation: .silu, readout: .meanLogMeanExp)
        let ig = IntegratedGradients(model: model)
        for g in graphs {
            var rel: [Double] = []
            for steps in [50, 200] {
                var o = IntegratedGradientsOptions()
                o.steps = steps
                let a = try ig.attribute(g, options: o)
                let gap = abs(a.targetLogit - a.baselineLogit)
                XCTAssertGreaterThan(gap, 1e-2)
                rel.append(abs(a.convergenceDelta) / gap)
            }
            XCTAssertLessThan(rel[0], 1e-3, "\(rel)")
            XCTAssertLessThan(rel[1], 1e-3, "\(rel)")
        }
    }

    func testDeltaShrinksAsStepsGrowOnTheDefaultGNN() throws {
        // The default GNN (leaky ReLU, max pooling) is piecewise smooth: its path derivative jumps at kinks,
        // so quadrature converges like 1/steps rather than exponentially. The delta must still shrink.
        let graphs = (0..<3).map { Fixtures.graph(seed: UInt64(20 + $0), vessels: 14, icas: 8) }
        let model = try Fixtures.model(graphs)
        let ig = IntegratedGradients(model: model)
        var mean: [Double] = []
        for steps in [8, 50, 400] {
            var o = IntegratedGradientsOptions()
            o.steps = steps
            var sum = 0.0
            for g in graphs {
                let a = try ig.attribute(g, options: o)
                sum += abs(a.convergenceDelta) / abs(a.targetLogit - a.baselineLogit)
            }
            mean.append(sum / Double(graphs.count))
        }
        XCTAssertLessThan(mean[1], mean[0], "\(mean)")
        XCTAssertLessThan(mean[2], mean[1] / 2, "\(mean)")
        XCTAssertLessThan(mean[2], 2e-2, "\(mean)")
    }

    func testBatchedEqualsStepByStepAndChunked() throws {
        let graphs = (0..<3).map { Fixtures.graph(seed: UInt64(30 + $0), vessels: 12, icas: 6) }
        let model = try Fixtures.model(graphs)
        let ig = IntegratedGradients(model: model)
        var o = IntegratedGradientsOptions()
        o.steps = 12; o.targetClass = 1
        let batched = try ig.attribute(graphs[2], options: o)
        let reference = try ig.attributeStepByStep(graphs[2], options: o)
        o.stepsPerPass = 5
        let chunked = try ig.attribute(graphs[2], options: o)
        // One pass of all 12 copies at a time (ops spread over the cores), and 3 concurrent passes of 4.
        var one = IntegratedGradientsOptions()
        one.steps = 12; one.targetClass = 1; one.concurrentPasses = 1; one.stepsPerPass = 12
        let single = try ig.attribute(graphs[2], options: one)
        one.concurrentPasses = 3; one.stepsPerPass = 4
        let three = try ig.attribute(graphs[2], options: one)
        for other in [reference, chunked, single, three] {
            assertClose(batched, other, tolerance: 1e-4)
        }
        one.concurrentPasses = 0
        XCTAssertThrowsError(try ig.attribute(graphs[2], options: one))
    }

    func testCompletenessCheckSummarisesRelativeDeltas() throws {
        // The linear model is integrated exactly at any step count (delta ~ rounding); the default GNN is
        // not, and its worst graph is the one with the largest delta.
        let graphs = (0..<3).map { Fixtures.graph(seed: UInt64(50 + $0), vessels: 10, icas: 5) }
        let named = graphs.enumerated().map { (id: "g\($0.offset)", trueClass: Optional("b"), graph: $0.element) }
        let linear = try CompletenessCheck.run(model: try LinearGraphModel(fitting: graphs, seed: 4), graphs: named, steps: [3, 50])
        XCTAssertEqual(linear.summaries.map(\.steps), [3, 50])
        for s in linear.summaries {
            XCTAssertEqual(s.graphs, 3); XCTAssertEqual(s.below1e3, 3)
            XCTAssertLessThan(s.worst, 1e-4)
        }
        let gnn = try CompletenessCheck.run(model: try Fixtures.model(graphs), graphs: named, steps: [8])
        let deltas = gnn.eyes.map { $0.relativeDelta["8"]! }
        XCTAssertEqual(gnn.summaries[0].worst, deltas.max()!)
        XCTAssertEqual(gnn.summaries[0].worstID, gnn.eyes[deltas.firstIndex(of: deltas.max()!)!].id)
        XCTAssertEqual(gnn.summaries[0].median, deltas.sorted()[1])
        XCTAssertTrue(CompletenessCheck.markdown(gnn.summaries, quadrature: .gaussLegendre).contains("| 8 | 3 |"))
        XCTAssertThrowsError(try CompletenessCheck.run(model: try Fixtures.model(graphs), graphs: named, steps: []))
    }

    func testAttributionsAreInvariantToNodeOrder() throws {
        let graphs = (0..<3).map { Fixtures.graph(seed: UInt64(40 + $0), vessels: 11, icas: 7) }
        let model = try Fixtures.model(graphs)
        let ig = IntegratedGradients(model: model)
        let (pg, perms) = Fixtures.permuted(graphs[0], seed: 9)
        for edges in [false, true] {
            var o = IntegratedGradientsOptions()
            o.steps = 16; o.attributeEdges = edges
            let a = try ig.attribute(graphs[0], options: o)
            let b = try ig.attribute(pg, options: o)
            XCTAssertEqual(a.targetLogit, b.targetLogit, accuracy: 1e-4)
            for t in NodeType.allCases {
                let sa = a.nodeTypes[t.name]!.nodeScores, sb = b.nodeTypes[t.name]!.nodeScores
                for (new, old) in perms[t.rawValue].enumerated() {
                    XCTAssertEqual(sb[new], sa[old], accuracy: 1e-4 * max(1, abs(sa[old])), "\(t.name) node \(old)")
                }
            }
            // Edges keep their list positions (only their endpoints are renumbered), so their scores match 1:1.
            for (name, ea) in a.edgeScores {
                let eb = b.edgeScores[name]!
                XCTAssertEqual(ea.count, eb.count)
                for (x, y) in zip(ea, eb) { XCTAssertEqual(x, y, accuracy: 1e-4 * max(1, abs(x)), name) }
            }
        }
    }

    func testEdgeAttributionsAreCompleteWithRespectToTheMasks() throws {
        // Baseline = the input itself for features and globals: only the edge masks move (0 -> 1), so the edge
        // scores alone must add up to F(x) - F(x with every mask 0), computed here independently.
        func check(_ model: StagingModel, _ g: OCTAGraph, steps: Int, quadrature: Quadrature, tolerance: Double) throws {
            let x = try model.makeBatch([g])
            var o = IntegratedGradientsOptions()
            o.baseline = .zScored(GraphBaseline(nodeFeatures: x.features.map(\.array), globalFeatures: x.globalFeatures.array))
            o.steps = steps; o.quadrature = quadrature; o.stepsPerPass = 250
            let a = try IntegratedGradients(model: model).attribute(g, options: o)
            for t in a.nodeTypes.values { XCTAssertTrue(t.nodeScores.allSatisfy { $0 == 0 }) }
            let edgeSum = a.edgeScores.values.joined().reduce(0.0) { $0 + Double($1) }
            let noEdges = Tensor.withoutGrad { model.logits(x, edgeMasks: (0..<GraphSchema.relations.count).map { Tensor.zeros([x.edgeCount($0)]) }) }
            let gap = a.targetLogit - Double(noEdges.data[a.targetClass.index])
            XCTAssertEqual(a.baselineLogit, Double(noEdges.data[a.targetClass.index]), accuracy: 1e-5)
            XCTAssertGreaterThan(abs(gap), 1e-4)
            XCTAssertLessThan(abs(edgeSum - gap) / abs(gap), tolerance, "edge sum \(edgeSum) vs F(x) - F(no edges) \(gap)")
        }
        // Smooth model, one node per type: 50 Gauss-Legendre steps.
        let small = (0..<3).map { Fixtures.graph(seed: UInt64(50 + $0), vessels: 1, icas: 1) }
        try check(try Fixtures.model(small, activation: .tanh, seed: 11), small[1], steps: 50, quadrature: .gaussLegendre, tolerance: 1e-3)
        // Default (leaky ReLU, max pooling) on a larger graph: many trapezoid steps.
        let graphs = (0..<3).map { Fixtures.graph(seed: UInt64(50 + $0), vessels: 12, icas: 6) }
        try check(try Fixtures.model(graphs), graphs[1], steps: 2000, quadrature: .trapezoid, tolerance: 5e-3)
    }

    func testTargetClassAndErrors() throws {
        let graphs = (0..<3).map { Fixtures.graph(seed: UInt64(60 + $0)) }
        let model = try Fixtures.model(graphs)
        let ig = IntegratedGradients(model: model)
        var o = IntegratedGradientsOptions()
        o.steps = 8
        let predicted = try ig.attribute(graphs[0], options: o)
        XCTAssertEqual(predicted.targetClass, predicted.predictedClass)
        XCTAssertEqual(predicted.predictedClass.index, predicted.logits.indices.max { predicted.logits[$0] < predicted.logits[$1] })
        XCTAssertEqual(predicted.probabilities.reduce(0, +), 1, accuracy: 1e-9)
        o.targetClass = (predicted.predictedClass.index + 1) % 3
        let other = try ig.attribute(graphs[0], options: o)
        XCTAssertEqual(other.targetLogit, other.logits[o.targetClass!], accuracy: 1e-9)
        XCTAssertEqual(other.predictedClass, predicted.predictedClass)
        o.targetClass = 7
        XCTAssertThrowsError(try ig.attribute(graphs[0], options: o)) { XCTAssertTrue("\($0)".contains("class")) }
        o.targetClass = nil
        o.baseline = .zScored(GraphBaseline(nodeFeatures: [[1, 2, 3]]))
        XCTAssertThrowsError(try ig.attribute(graphs[0], options: o)) {
            guard case AttributionError.badBaseline = $0 else { return XCTFail("\($0)") }
        }
        o.baseline = .trainingMean; o.steps = 0
        XCTAssertThrowsError(try ig.attribute(graphs[0], options: o))
    }

    func testRelevantSetTopKAndJSONRoundTrip() throws {
        let graphs = (0..<3).map { Fixtures.graph(seed: UInt64(70 + $0), vessels: 20, icas: 10) }
        let model = try Fixtures.model(graphs)
        var o = IntegratedGradientsOptions()
        o.steps = 10
        let a = try IntegratedGradients(model: model).attribute(graphs[0], options: o)
        let ranked = a.rankedNodes()
        XCTAssertEqual(ranked.count, 31)
        let total = a.totalAbsoluteNodeScore
        let covered = a.relevantSet.reduce(0.0) { $0 + Double(abs($1.score)) }
        XCTAssertGreaterThanOrEqual(covered, 0.95 * total * (1 - 1e-6))
        // Minimal: without its last node the set covers less than 95%.
        XCTAssertLessThan(covered - Double(abs(a.relevantSet.last!.score)), 0.95 * total)
        XCTAssertEqual(Array(ranked.prefix(a.relevantSet.count)), a.relevantSet)
        XCTAssertEqual(a.topK(3), Array(ranked.prefix(3)))
        XCTAssertTrue(a.topK(5, by: .towards).allSatisfy { $0.score > 0 })
        XCTAssertTrue(a.topK(5, by: .against).allSatisfy { $0.score < 0 })
        for t in NodeType.allCases {
            let n = a.nodeTypes[t.name]!
            for (name, total) in n.featureTotals {
                let j = n.featureNames.firstIndex(of: name)!
                XCTAssertEqual(total, n.featureScores.reduce(0) { $0 + $1[j] }, accuracy: 1e-4)
            }
        }
        let data = try a.jsonData()
        let back = try JSONDecoder().decode(GraphAttribution.self, from: data)
        XCTAssertEqual(back, a)
        let object = try JSONSerialization.jsonObject(with: data) as! [String: Any]
        XCTAssertNotNil(object["convergence_delta"])
        XCTAssertEqual((object["node_types"] as! [String: Any]).keys.sorted(), ["faz", "ica", "vessel"])
    }

    func assertClose(_ a: GraphAttribution, _ b: GraphAttribution, tolerance: Float, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.targetLogit, b.targetLogit, accuracy: 1e-5, file: file, line: line)
        let scale = max(1e-3, a.rankedNodes().first.map { abs($0.score) } ?? 1)
        for (name, t) in a.nodeTypes {
            let u = b.nodeTypes[name]!
            for (r, s) in zip(t.featureScores, u.featureScores) {
                for (x, y) in zip(r, s) { XCTAssertEqual(x, y, accuracy: tolerance * scale, "\(name)", file: file, line: line) }
            }
        }
        for (name, e) in a.edgeScores {
            for (x, y) in zip(e, b.edgeScores[name]!) { XCTAssertEqual(x, y, accuracy: tolerance * scale, "\(name)", file: file, line: line) }
        }
        for (x, y) in zip(a.globalScores, b.globalScores) { XCTAssertEqual(x, y, accuracy: tolerance * scale, file: file, line: line) }
        XCTAssertEqual(a.convergenceDelta, b.convergenceDelta, accuracy: 1e-4, file: file, line: line)
    }
}
