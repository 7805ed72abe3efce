import Common
import XCTest
@testable import Tensors

/// The fused ops (relationalLinear, residualLayerNorm, linear with activation) against their unfused
/// definitions, and their gradients against finite differences.
final class FusedOpTests: XCTestCase {
    // 5 source rows -> 4 target rows (aggregated first) and 3 source rows -> 6 target rows (multiplied first).
    // Target 1 of the first relation gets four messages, three from source 0; target 3 and source 2 of the
    // second have no edges.
    let src1 = [0, 1, 1, 2, 3, 4, 4, 0, 0], dst1 = [1, 0, 2, 1, 0, 2, 2, 1, 1]
    let src2 = [0, 1, 0, 1, 0], dst2 = [5, 0, 2, 4, 5]

    func assertClose(_ a: Tensor, _ b: Tensor, _ accuracy: Float = 1e-5, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(a.shape, b.shape, file: file, line: line)
        for i in 0..<min(a.count, b.count) { XCTAssertEqual(a.data[i], b.data[i], accuracy: accuracy, "element \(i)", file: file, line: line) }
    }

    func testEdgeIndexGroupsEdgesStablyBothWays() {
        let e = EdgeIndex(source: src1, target: dst1, sourceRows: 5, targetRows: 4)
        XCTAssertEqual(e.targetStart, [0, 2, 6, 9, 9])
        XCTAssertEqual(e.byTarget, [1, 4, 0, 3, 7, 8, 2, 5, 6])  // edge ids in their original order per target
        XCTAssertEqual(e.sourceStart, [0, 3, 5, 6, 7, 9])
        XCTAssertEqual(e.inverseInDegree, [0.5, 0.25, 1.0 / 3, 0])
        let r = e.reversed
        XCTAssertEqual(r.sourceRows, 4); XCTAssertEqual(r.targetRows, 5)
        XCTAssertEqual(r.source, e.target); XCTAssertEqual(r.byTarget, e.bySource)
        XCTAssertEqual(r.inverseInDegree, [1.0 / 3, 0.5, 1, 1, 0.5])
    }

    /// Both relation orders, sum and mean, with and without edge weights, against linear + aggregateNeighbors.
    func testRelationalLinearMatchesUnfusedDefinition() {
        let x = randomTensor([4, 3], seed: 1), w = randomTensor([2, 3], seed: 2), b = randomTensor([2], seed: 3)
        let x1 = randomTensor([5, 3], seed: 4), w1 = randomTensor([2, 3], seed: 5), m1 = randomTensor([9], seed: 6)
        let y = randomTensor([6, 4], seed: 7), wy = randomTensor([2, 4], seed: 8)
        let x2 = randomTensor([3, 4], seed: 9), w2 = randomTensor([2, 4], seed: 10), m2 = randomTensor([5], seed: 11)
        let e1 = EdgeIndex(source: src1, target: dst1, sourceRows: 5, targetRows: 4)
        let e2 = EdgeIndex(source: src2, target: dst2, sourceRows: 3, targetRows: 6)
        XCTAssertTrue(Tensor.aggregatesFirst(e1)); XCTAssertFalse(Tensor.aggregatesFirst(e2))
        for reduce in [NeighborReduction.sum, .mean] {
            for mask in [true, false] {
                let fused1 = Tensor.relationalLinear(x, weight: w, bias: b, messages: [
                    NeighborMessages(x: x1, weight: w1, edges: e1, edgeWeight: mask ? m1 : nil, reduce: reduce)])
                let ref1 = Tensor.linear(x, weight: w, bias: b) + Tensor.linear(
                    Tensor.aggregateNeighbors(x1, source: src1, target: dst1, rows: 4, edgeWeight: mask ? m1 : nil, reduce: reduce),
                    weight: w1, bias: nil)
                assertClose(fused1, ref1)
                let fused2 = Tensor.relationalLinear(y, weight: wy, bias: nil, messages: [
                    NeighborMessages(x: x2, weight: w2, edges: e2, edgeWeight: mask ? m2 : nil, reduce: reduce)])
                let ref2 = Tensor.linear(y, weight: wy, bias: nil) + Tensor.linear(
                    Tensor.aggregateNeighbors(x2, source: src2, target: dst2, rows: 6, edgeWeight: mask ? m2 : nil, reduce: reduce),
                    weight: w2, bias: nil)
                assertClose(fused2, ref2)
            }
        }
    }

    func testRelationalLinearGradientsAggregateFirst() {
        let x = randomTensor([4, 3], seed: 21), w = randomTensor([2, 3], seed: 22), b = randomTensor([2], seed: 23)
        let x1 = randomTensor([5, 3], seed: 24), w1 = randomTensor([2, 3], seed: 25), m1 = randomTensor([9], seed: 26)
        let e1 = EdgeIndex(source: src1, target: dst1, sourceRows: 5, targetRows: 4)
        checkGradients([x, w, b, x1, w1, m1]) {
            Tensor.relationalLinear(x, weight: w, bias: b, messages: [NeighborMessages(x: x1, weight: w1, edges: e1, edgeWeight: m1)])
        }
        checkGradients([x, w, x1, w1, m1]) {
            Tensor.relationalLinear(x, weight: w, bias: nil, messages: [NeighborMessages(x: x1, weight: w1, edges: e1, edgeWeight: m1, reduce: .sum)])
        }
    }

    func testRelationalLinearGradientsMultiplyFirst() {
        let y = randomTensor([6, 4], seed: 31), wy = randomTensor([2, 4], seed: 32), b = randomTensor([2], seed: 33)
        let x2 = randomTensor([3, 4], seed: 34), w2 = randomTensor([2, 4], seed: 35), m2 = randomTensor([5], seed: 36)
        let e2 = EdgeIndex(source: src2, target: dst2, sourceRows: 3, targetRows: 6)
        checkGradients([y, wy, b, x2, w2, m2]) {
            Tensor.relationalLinear(y, weight: wy, bias: b, messages: [NeighborMessages(x: x2, weight: w2, edges: e2, edgeWeight: m2)])
        }
    }

    /// One tensor in several roles (root input, source of a same-type relation, source of a reversed
    /// relation), two relations sharing one edge-weight tensor, and a relation with no edges: gradients from
    /// every use must add up.
    func testRelationalLinearGradientsWithSharedInputs() {
        let h = randomTensor([5, 3], seed: 41), w = randomTensor([3, 3], seed: 42), b = randomTensor([3], seed: 43)
        let wSelf = randomTensor([3, 3], seed: 44), wRev = randomTensor([3, 3], seed: 45), wNone = randomTensor([3, 3], seed: 46)
        let m = randomTensor([9], seed: 47)
        let same = EdgeIndex(source: src1, target: dst1.map { $0 + 1 }, sourceRows: 5, targetRows: 5)
        let empty = EdgeIndex(source: [], target: [], sourceRows: 5, targetRows: 5)
        checkGradients([h, w, b, wSelf, wRev, m]) {
            Tensor.relationalLinear(h, weight: w, bias: b, messages: [
                NeighborMessages(x: h, weight: wSelf, edges: same, edgeWeight: m),
                NeighborMessages(x: h, weight: wRev, edges: same.reversed, edgeWeight: m),
                NeighborMessages(x: h, weight: wNone, edges: empty),
            ])
        }
    }

    func testResidualLayerNormMatchesUnfusedDefinitionAndGradients() {
        let r = randomTensor([4, 6], seed: 51), gamma = randomTensor([6], seed: 53), beta = randomTensor([6], seed: 54)
        let x = separatedTensor([4, 6], seed: 52)
        for act in [Activation.leakyRelu, .relu, .gelu, .tanh, .elu] {
            let fused = Tensor.residualLayerNorm(r, x, gamma: gamma, beta: beta, activation: act)
            let ref = r + act.apply(Tensor.layerNorm(x, gamma: gamma, beta: beta))
            assertClose(fused, ref)
        }
        for act in [Activation.leakyRelu, .gelu] {
            checkGradients([r, x, gamma, beta], step: 1e-3) {
                Tensor.residualLayerNorm(r, x, gamma: gamma, beta: beta, activation: act)
            }
        }
    }

    func testLinearWithActivationMatchesUnfusedDefinitionAndGradients() {
        let x = randomTensor([5, 4], seed: 61), w = randomTensor([3, 4], seed: 62), b = randomTensor([3], seed: 63)
        for act in [Activation.relu, .leakyRelu, .gelu] {
            assertClose(Tensor.linear(x, weight: w, bias: b, activation: act), act.apply(Tensor.linear(x, weight: w, bias: b)))
        }
        for act in [Activation.relu, .leakyRelu] {
            checkGradients([x, w, b], step: 1e-3) { Tensor.linear(x, weight: w, bias: b, activation: act) }
        }
    }
}
