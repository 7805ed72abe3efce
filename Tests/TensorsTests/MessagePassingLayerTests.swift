import Common
import XCTest
@testable import Tensors

/// The fused, tiled `residualMessageLayer` against its definition (relationalLinear + residualLayerNorm),
/// its gradients against the unfused ops' and against finite differences, across tile boundaries.
final class MessagePassingLayerTests: XCTestCase {
    /// A layer of 7 target rows (width 4) with: a same-type relation whose source is x itself (aggregated
    /// first, with edge weights), its reverse sharing the edge-weight tensor, a relation from 3 rows of
    /// another tensor into the 7 (multiplied first, edge weights), and a relation without edges.
    struct Layer {
        let x = randomTensor([7, 4], seed: 1)
        let w = randomTensor([4, 4], seed: 2, std: 0.5), b = randomTensor([4], seed: 3)
        let gamma = randomTensor([4], seed: 4), beta = randomTensor([4], seed: 5)
        let wSame = randomTensor([4, 4], seed: 6, std: 0.5), wRev = randomTensor([4, 4], seed: 7, std: 0.5)
        let other = randomTensor([3, 5], seed: 8), wOther = randomTensor([4, 5], seed: 9, std: 0.5)
        let wNone = randomTensor([4, 4], seed: 10)
        let mSame = randomTensor([10], seed: 11), mOther = randomTensor([6], seed: 12)
        let same = EdgeIndex(source: [0, 1, 1, 2, 3, 4, 6, 5, 0, 6], target: [1, 0, 2, 1, 0, 2, 2, 6, 5, 3], sourceRows: 7, targetRows: 7)
        let cross = EdgeIndex(source: [0, 1, 0, 2, 1, 0], target: [5, 0, 2, 4, 5, 6], sourceRows: 3, targetRows: 7)
        let empty = EdgeIndex(source: [], target: [], sourceRows: 7, targetRows: 7)

        func messages(_ reduce: NeighborReduction) -> [NeighborMessages] {
            [NeighborMessages(x: x, weight: wSame, edges: same, edgeWeight: mSame, reduce: reduce),
             NeighborMessages(x: x, weight: wRev, edges: same.reversed, edgeWeight: mSame, reduce: reduce),
             NeighborMessages(x: other, weight: wOther, edges: cross, edgeWeight: mOther, reduce: reduce),
             NeighborMessages(x: x, weight: wNone, edges: empty, reduce: reduce)]
        }
        func fused(_ reduce: NeighborReduction, tileRows: Int) -> Tensor {
            Tensor.residualMessageLayer(x, weight: w, bias: b, messages: messages(reduce), gamma: gamma, beta: beta, eps: 1e-5,
                                        activation: .silu, tileRows: tileRows)
        }
        func unfused(_ reduce: NeighborReduction) -> Tensor {
            let sum = Tensor.relationalLinear(x, weight: w, bias: b, messages: messages(reduce))
            return Tensor.residualLayerNorm(x, sum, gamma: gamma, beta: beta, activation: .silu)
        }
        var attributed: [Tensor] { [x, other, mSame, mOther] }
    }

    func testForwardEqualsRelationalLinearThenResidualLayerNorm() {
        let l = Layer()
        XCTAssertFalse(Tensor.aggregatesFirst(l.cross)); XCTAssertTrue(Tensor.aggregatesFirst(l.same))
        for reduce in [NeighborReduction.mean, .sum] {
            let ref = Tensor.withoutGrad { l.unfused(reduce) }
            for tile in [1, 3, 256] {
                for grad in [false, true] {
                    let y = grad ? Tensor.withFrozenParameters { l.fused(reduce, tileRows: tile) } : Tensor.withoutGrad { l.fused(reduce, tileRows: tile) }
                    XCTAssertEqual(y.shape, ref.shape)
                    for i in 0..<y.count { XCTAssertEqual(y.data[i], ref.data[i], accuracy: 1e-5 * max(1, abs(ref.data[i])), "tile \(tile), element \(i)") }
                }
            }
        }
    }

    /// Input, source and edge-weight gradients of the fused backward equal the unfused ops' (tiles of 1, 3
    /// and all rows; x is also the source of two relations, which share one edge-weight tensor).
    func testGradientsEqualUnfusedOps() {
        let l = Layer()
        var rng = SeededGenerator(seed: 99)
        let seed = (0..<(7 * 4)).map { _ in Float(rng.uniform(-1, 1)) }
        func grads(_ f: () -> Tensor) -> [[Float]] {
            for t in l.attributed { t.requiresGrad = true; t.dropGrad() }
            Tensor.withFrozenParameters { f().backward(seed: seed) }
            return l.attributed.map(\.gradArray)
        }
        for reduce in [NeighborReduction.mean, .sum] {
            let ref = grads { l.unfused(reduce) }
            for tile in [1, 3, 256] {
                let got = grads { l.fused(reduce, tileRows: tile) }
                for (k, (g, r)) in zip(got, ref).enumerated() {
                    XCTAssertEqual(g.count, r.count)
                    for i in g.indices { XCTAssertEqual(g[i], r[i], accuracy: 1e-4 * max(1, abs(r[i])), "tile \(tile), input \(k), element \(i)") }
                    XCTAssertTrue(r.contains { $0 != 0 }, "input \(k) has a zero gradient: the comparison is vacuous")
                }
            }
        }
    }

    /// Finite differences through the fused op (parameters are not differentiated, so the fused path runs).
    func testGradientsAgainstFiniteDifferences() {
        let l = Layer()
        for tile in [2, 256] {
            checkGradients(l.attributed, step: 1e-3, tolerance: 2e-2) { l.fused(.mean, tileRows: tile) }
        }
    }

    /// With a parameter that needs a gradient (training), the op is exactly relationalLinear followed by
    /// residualLayerNorm, parameter gradients included.
    func testTrainingFallsBackToTheUnfusedOps() {
        let l = Layer()
        l.w.requiresGrad = true
        defer { l.w.requiresGrad = false }
        let y = l.fused(.mean, tileRows: 3)
        let ref = l.unfused(.mean)
        XCTAssertEqual(y.array, ref.array)
        y.sum().backward()
        let gw = l.w.gradArray
        l.w.dropGrad()
        ref.sum().backward()
        XCTAssertEqual(gw, l.w.gradArray)
        XCTAssertTrue(gw.contains { $0 != 0 })
    }
}
