import Common
import Foundation
@testable import GraphNet
import Tensors
import VesselGraph
import XCTest

final class ModelTests: XCTestCase {
    /// Logits of one graph under inference.
    func logits(_ m: StagingModel, _ g: OCTAGraph) throws -> [Float] {
        try Tensor.withoutGrad { m.network.forward(try m.batch([g])).array }
    }

    func testPermutingNodesAndEdgesLeavesLogitsUnchanged() throws {
        let g = TestGraphs.tiny(seed: 11)
        let m = try TestGraphs.model([g, TestGraphs.tiny(seed: 12)])
        var rng = SeededGenerator(seed: 5)
        var p = g
        var perms: [[Int]] = []
        for t in NodeType.allCases {
            let ns = t.nodes(of: g), f = ns.featureNames.count
            var perm = Array(0..<ns.count); perm.shuffle(using: &rng)  // new position k holds old node perm[k]
            perms.append(perm)
            p.setNodes(t, features: perm.flatMap { Array(ns.features[($0 * f)..<($0 * f + f)]) })
        }
        for r in GraphSchema.relations {
            let rel = g.relation(r.name)!
            let inverse: [[Int]] = perms.map { perm in var inv = perm; for (k, old) in perm.enumerated() { inv[old] = k }; return inv }
            var order = Array(0..<rel.count); order.shuffle(using: &rng)
            let s = order.map { Int32(inverse[r.source.rawValue][Int(rel.source[$0])]) }
            let d = order.map { Int32(inverse[r.target.rawValue][Int(rel.target[$0])]) }
            p.setEdges(r.name, source: s, target: d)
        }
        let a = try logits(m, g), b = try logits(m, p)
        XCTAssertNotEqual(g.vessel.features, p.vessel.features, "the permutation must actually move nodes")
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-4 * max(1, abs(x))) }
    }

    func testEmptyRelationsAndMissingNodeTypesGiveFiniteLogitsAndGradients() throws {
        let noEdges = TestGraphs.tiny(seed: 21, emptyRelations: Set(GraphSchema.relations.map(\.name)))
        let noFAZ = TestGraphs.tiny(seed: 22, faz: 0)
        let noICA = TestGraphs.tiny(seed: 23, icas: 0, faz: 0)
        let empty = OCTAGraph.empty()
        let m = try TestGraphs.model([TestGraphs.tiny(seed: 20), noEdges])
        for g in [noEdges, noFAZ, noICA, empty] {
            let b = try m.batch([g])
            let out = m.network.forward(b)
            XCTAssertEqual(out.shape, [1, 3])
            XCTAssertTrue(out.array.allSatisfy(\.isFinite))
            out.sum().backward()
            XCTAssertTrue(m.network.parameters().allSatisfy { $0.gradArray.allSatisfy(\.isFinite) })
            m.network.zeroGrad()
        }
        // A batch mixing them equals the graphs one by one (the disjoint union keeps graphs apart).
        let both = try Tensor.withoutGrad { m.network.forward(try m.batch([noEdges, noFAZ, noICA, empty])).array }
        var single: [Float] = []
        for g in [noEdges, noFAZ, noICA, empty] { single += try logits(m, g) }
        for (x, y) in zip(both, single) { XCTAssertEqual(x, y, accuracy: 1e-4) }
    }

    /// Whole-model finite differences: w.r.t. parameters, node features, global features and edge masks.
    func testGradientsMatchFiniteDifferences() throws {
        let graphs = [TestGraphs.tiny(seed: 31, vessels: 5, icas: 3), TestGraphs.tiny(seed: 32, vessels: 4, icas: 3)]
        let m = try TestGraphs.model(graphs, hidden: 4, layers: 2, activation: .tanh)
        let b = try m.batch(graphs)
        for t in NodeType.allCases { b.features[t.rawValue].requiresGrad = true }
        b.globalFeatures.requiresGrad = true
        var rng = SeededGenerator(seed: 9)
        let masks = (0..<GraphSchema.relations.count).map { r in
            Tensor((0..<b.edgeCount(r)).map { _ in Float(rng.uniform(0.3, 1)) }, shape: [b.edgeCount(r)], requiresGrad: true)
        }
        let weights = (0..<(2 * 3)).map { _ in Float(rng.uniform(-1, 1)) }
        func loss() -> Tensor { (m.network.forward(b, edgeMasks: masks) * Tensor(weights, shape: [2, 3])).sum() }
        loss().backward()
        var checked = 0
        func check(_ t: Tensor, _ what: String, picks: Int) {
            let g = t.gradArray
            for k in 0..<min(picks, t.count) {
                let i = (k * 7919) % t.count
                let old = t.data[i], h: Float = 5e-3
                t.data[i] = old + h
                let up = Tensor.withoutGrad { loss().item }
                t.data[i] = old - h
                let down = Tensor.withoutGrad { loss().item }
                t.data[i] = old
                let fd = (up - down) / (2 * h)
                XCTAssertEqual(g[i], fd, accuracy: 2e-2 * max(1, abs(fd)), "\(what)[\(i)]")
                checked += 1
            }
        }
        for (name, p) in m.network.namedParameters() { check(p, name, picks: 3) }
        for t in NodeType.allCases { check(b.features[t.rawValue], "features.\(t.name)", picks: 6) }
        check(b.globalFeatures, "global", picks: 4)
        for (r, mask) in masks.enumerated() where mask.count > 0 { check(mask, "mask.\(GraphSchema.relations[r].name)", picks: 4) }
        XCTAssertGreaterThan(checked, 60)
        XCTAssertTrue(masks.contains { $0.gradArray.contains { abs($0) > 1e-6 } }, "edge masks must receive gradient")
    }

    func testRepeatedBatchEqualsTheBatchOfRepeatedGraphs() throws {
        let graphs = [TestGraphs.tiny(seed: 51), TestGraphs.tiny(seed: 52)]
        let m = try TestGraphs.model(graphs)
        let r = try m.batch(graphs).repeated(3), ref = try m.batch(graphs + graphs + graphs)
        XCTAssertEqual(r.graphCount, 6)
        for t in NodeType.allCases {
            XCTAssertEqual(r.features[t.rawValue].shape, ref.features[t.rawValue].shape)
            XCTAssertEqual(r.features[t.rawValue].array, ref.features[t.rawValue].array)
            XCTAssertEqual(r.batch[t.rawValue], ref.batch[t.rawValue])
            XCTAssertEqual(r.nodeOffsets[t.rawValue], ref.nodeOffsets[t.rawValue])
        }
        XCTAssertEqual(r.globalFeatures.array, ref.globalFeatures.array)
        XCTAssertEqual(r.sources, ref.sources); XCTAssertEqual(r.targets, ref.targets); XCTAssertEqual(r.edgeOffsets, ref.edgeOffsets)
        XCTAssertTrue(r.sources.contains { !$0.isEmpty })
        let a = Tensor.withoutGrad { m.network.forward(r).array }, b = Tensor.withoutGrad { m.network.forward(ref).array }
        XCTAssertEqual(a, b)
    }

    func testFrozenParametersGiveInputGradientsOnly() throws {
        let graphs = [TestGraphs.tiny(seed: 41)]
        let m = try TestGraphs.model(graphs)
        let b = try m.batch(graphs)
        b.features[0].requiresGrad = true
        let masks = b.onesEdgeMasks(requiresGrad: true)
        m.network.forward(b, edgeMasks: masks).sum().backward()
        let reference = b.features[0].gradArray, maskRef = masks[0].gradArray
        m.network.zeroGrad(); b.features[0].zeroGrad(); masks[0].zeroGrad()
        for p in m.network.parameters() { p.dropGrad() }
        Tensor.withFrozenParameters { m.network.forward(b, edgeMasks: masks).sum().backward() }
        XCTAssertEqual(b.features[0].gradArray, reference)
        XCTAssertEqual(masks[0].gradArray, maskRef)
        XCTAssertTrue(m.network.parameters().allSatisfy { $0.grad == nil }, "no parameter gradient may be written")
        // All-ones masks are the real graph.
        let plain = try logits(m, graphs[0])
        let masked = Tensor.withoutGrad { m.network.forward(b, edgeMasks: b.onesEdgeMasks()).array }
        XCTAssertEqual(plain, masked)
    }

    func testOverfitsSixteenGraphsWithRandomLabels() throws {
        var rng = SeededGenerator(seed: 77)
        let graphs = (0..<16).map { TestGraphs.labeled(TestGraphs.tiny(seed: 100 + UInt64($0), vessels: 12, icas: 6), id: "g\($0)", label: rng.int(below: 3)) }
        var a = GraphNetConfig(); a.hidden = 32; a.dropout = 0
        var o = TrainingOptions(); o.epochs = 150; o.batchSize = 16; o.learningRate = 1e-2; o.labelSmoothing = .none
        o.patience = 150; o.schedule = .exponential(gamma: 1)
        let (m, summary) = try GraphNetTraining.train(train: graphs, val: graphs, architecture: a, options: o, scheme: .stage)
        let metrics = try GraphNetTraining.evaluate(m, on: graphs)
        XCTAssertEqual(metrics.accuracy, 1, "memorising 16 graphs: \(metrics.summary), best epoch \(summary.bestEpoch)")
    }

    func testTrainingIsDeterministic() throws {
        let graphs = (0..<8).map { TestGraphs.labeled(TestGraphs.tiny(seed: 200 + UInt64($0)), id: "g\($0)", label: $0 % 3) }
        var a = GraphNetConfig(); a.hidden = 8; a.dropout = 0.3
        var o = TrainingOptions(); o.epochs = 3; o.batchSize = 3
        let (m1, _) = try GraphNetTraining.train(train: graphs, val: graphs, architecture: a, options: o, scheme: .stage)
        let (m2, _) = try GraphNetTraining.train(train: graphs, val: graphs, architecture: a, options: o, scheme: .stage)
        for (p, q) in zip(m1.network.parameters(), m2.network.parameters()) { XCTAssertEqual(p.array, q.array) }
    }

    func testConcurrentPredictionsMatchSerialOnes() throws {
        let graphs = (0..<6).map { TestGraphs.tiny(seed: 300 + UInt64($0)) }
        let m = try TestGraphs.model(graphs)
        let serial = try m.predict(graphs)
        let box = PredictionBox(count: 8)
        DispatchQueue.concurrentPerform(iterations: 8) { k in box.set(k, (try? m.predict(graphs)) ?? []) }
        for k in 0..<8 { XCTAssertEqual(box.values[k], serial) }
    }

    func testFeatureMismatchIsATypedError() throws {
        let g = TestGraphs.tiny(seed: 1)
        let m = try TestGraphs.model([g])
        var bad = g
        bad.ica.featureNames[0] = "area_px"
        XCTAssertThrowsError(try m.predict([bad])) { e in
            guard case GraphNetError.featureMismatch(let t, _, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(t, "ica")
        }
    }
}

final class PredictionBox: @unchecked Sendable {
    private(set) var values: [[StagePrediction]]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: [], count: count) }
    func set(_ i: Int, _ v: [StagePrediction]) { lock.lock(); values[i] = v; lock.unlock() }
}
