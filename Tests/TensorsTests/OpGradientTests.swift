import Common
import XCTest
@testable import Tensors

/// Finite-difference gradient checks for every op.
final class OpGradientTests: XCTestCase {
    func testAddSubMulDivSameShape() {
        let a = randomTensor([3, 4], seed: 1), b = randomTensor([3, 4], seed: 2)
        let c = randomTensor([3, 4], seed: 3); for i in 0..<c.count { c.data[i] = 1.5 + abs(c.data[i]) }
        checkGradients([a, b]) { a + b }
        checkGradients([a, b]) { a - b }
        checkGradients([a, b]) { a * b }
        checkGradients([a, c]) { a / c }
    }

    func testRowBroadcast() {
        let a = randomTensor([5, 3], seed: 4), b = randomTensor([3], seed: 5)
        checkGradients([a, b]) { a + b }
        checkGradients([a, b]) { a * b }
        checkGradients([a, b]) { b - a }
    }

    func testColumnBroadcastLikeAnEdgeMask() {
        let messages = randomTensor([6, 4], seed: 6), mask = randomTensor([6, 1], seed: 7)
        checkGradients([messages, mask]) { messages * mask }
        let d = randomTensor([6, 1], seed: 8); for i in 0..<d.count { d.data[i] = 2 + abs(d.data[i]) }
        checkGradients([messages, d]) { messages / d }
    }

    func testScalarAndOuterBroadcast() {
        let a = randomTensor([2, 3, 4], seed: 9), s = randomTensor([1], seed: 10)
        checkGradients([a, s]) { a * s }
        let col = randomTensor([3, 1], seed: 11), row = randomTensor([1, 4], seed: 12)
        checkGradients([col, row]) { col + row }
        let mid = randomTensor([3, 4], seed: 13)
        checkGradients([a, mid]) { a * mid }  // [2,3,4] * [3,4]
        checkGradients([a]) { (a * 2.5 + 1) - 0.5 }
        checkGradients([a]) { -a }
    }

    func testActivations() {
        let x = awayFromZero([4, 5], seed: 14)
        checkGradients([x]) { x.relu() }
        checkGradients([x]) { x.leakyRelu(slope: 0.2) }
        checkGradients([x]) { x.elu(alpha: 1.3) }
        checkGradients([x]) { x.gelu() }
        checkGradients([x]) { x.tanh() }
        checkGradients([x]) { x.sigmoid() }
        checkGradients([x]) { x.exp() }
        checkGradients([x]) { x.square() }
        let p = randomTensor([4, 5], seed: 15); for i in 0..<p.count { p.data[i] = 0.5 + abs(p.data[i]) }
        checkGradients([p]) { p.log() }
        checkGradients([p]) { p.sqrt() }
    }

    func testReductions() {
        let x = randomTensor([2, 3, 4], seed: 16)
        for axis in [0, 1, 2, -1] {
            checkGradients([x]) { x.sum(axis: axis) }
            checkGradients([x]) { x.mean(axis: axis, keepDim: true) }
        }
        checkGradients([x]) { x.sum() }
        checkGradients([x]) { x.mean() }
    }

    func testMatmulAndTransposedB() {
        let a = randomTensor([2, 3, 4], seed: 17), b = randomTensor([4, 5], seed: 18), bt = randomTensor([5, 4], seed: 19)
        checkGradients([a, b]) { Tensor.matmul(a, b) }
        checkGradients([a, bt]) { Tensor.matmul(a, bt, transposeB: true) }
    }

    func testLinear() {
        let x = randomTensor([3, 2, 4], seed: 20), w = randomTensor([5, 4], seed: 21), b = randomTensor([5], seed: 22)
        checkGradients([x, w, b]) { Tensor.linear(x, weight: w, bias: b) }
        checkGradients([x, w]) { Tensor.linear(x, weight: w, bias: nil) }
    }

    func testBatchedMatmulAllTransposes() {
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = randomTensor(ta ? [2, 4, 3] : [2, 3, 4], seed: 23)
            let b = randomTensor(tb ? [2, 5, 4] : [2, 4, 5], seed: 24)
            checkGradients([a, b]) { Tensor.bmm(a, b, transposeA: ta, transposeB: tb) }
        }
    }

    func testSoftmaxAndLogSoftmax() {
        let x = randomTensor([3, 5], seed: 25)
        checkGradients([x]) { x.softmax() }
        checkGradients([x]) { x.logSoftmax() }
    }

    func testCrossEntropyWithClassWeightsSmoothingAndIgnoredRows() {
        let x = randomTensor([5, 4], seed: 26)
        checkGradients([x]) { Tensor.crossEntropy(logits: x, targets: [0, 3, 1, -1, 3]) }
        checkGradients([x]) {
            Tensor.crossEntropy(logits: x, targets: [0, 3, 1, 2, 3], classWeights: [0.5, 1, 2, 1.5], labelSmoothing: 0.1)
        }
        let q: [Float] = (0..<20).map { Float(($0 * 7) % 5 + 1) }
        var soft = q
        for r in 0..<5 { let s = q[(r * 4)..<(r * 4 + 4)].reduce(0, +); for j in 0..<4 { soft[r * 4 + j] = q[r * 4 + j] / s } }
        checkGradients([x]) { Tensor.crossEntropy(logits: x, targetProbabilities: soft, sampleWeights: [1, 2, 0, 1, 0.5]) }
    }

    func testLayerNorm() {
        let x = randomTensor([4, 6], seed: 27), g = randomTensor([6], seed: 28), b = randomTensor([6], seed: 29)
        checkGradients([x, g, b]) { Tensor.layerNorm(x, gamma: g, beta: b) }
    }

    func testBatchNormTrainAndEval() {
        let x = randomTensor([8, 3], seed: 30), g = randomTensor([3], seed: 31), b = randomTensor([3], seed: 32)
        let rm = randomTensor([3], seed: 33, std: 0.1), rv = Tensor([0.5, 1.5, 2], shape: [3])
        checkGradients([x, g, b]) {
            Tensor.batchNorm(x, gamma: g, beta: b, runningMean: rm, runningVar: rv, training: true, updateRunning: false)
        }
        checkGradients([x, g, b]) {
            Tensor.batchNorm(x, gamma: g, beta: b, runningMean: rm, runningVar: rv, training: false)
        }
        let img = randomTensor([3, 2, 2, 3], seed: 34), g2 = randomTensor([2], seed: 35), b2 = randomTensor([2], seed: 36)
        checkGradients([img, g2, b2]) {
            Tensor.batchNorm(img, gamma: g2, beta: b2, runningMean: .zeros([2]), runningVar: .ones([2]),
                             training: true, updateRunning: false)
        }
    }

    func testDropoutWithFixedSeed() {
        let x = randomTensor([4, 5], seed: 37)
        checkGradients([x]) {
            var g = SeededGenerator(seed: 5)
            return x.dropout(p: 0.3, training: true, generator: &g)
        }
    }

    func testEmbeddingWithRepeatedIds() {
        let w = randomTensor([5, 3], seed: 38)
        checkGradients([w]) { Tensor.embedding(w, ids: [1, 4, 1, 1, 0, 4], shape: [2, 3]) }
    }

    func testConcatSliceReshapeTranspose() {
        let a = randomTensor([2, 3, 2], seed: 39), b = randomTensor([2, 1, 2], seed: 40)
        checkGradients([a, b]) { Tensor.concat([a, b, a], axis: 1) }
        checkGradients([a, b]) { Tensor.concat([a, a], axis: 2).reshaped([4, -1]) * Tensor.concat([b, a, b, b], axis: 1).reshaped([4, 6]) }
        checkGradients([a]) { a.slice(axis: 1, 1..<3) }
        checkGradients([a]) { a.reshaped([3, -1]) }
        checkGradients([a]) { a.transposed(0, 2) }
        let x = randomTensor([2, 3, 4, 5], seed: 41)
        checkGradients([x]) { x.transposed(1, 2) }
    }

    func testGatherRowsWithRepeatedIndices() {
        let x = randomTensor([4, 3], seed: 42)
        checkGradients([x]) { x.gatherRows([0, 2, 2, 3, 0, 0]) }
    }

    func testScatterAddMeanMaxWithRepeatedIndices() {
        let src = separatedTensor([7, 3], seed: 43)
        let index = [2, 0, 2, 2, 1, 0, 2]  // row 3 gets nothing
        checkGradients([src]) { src.scatterAdd(index, rows: 4) }
        checkGradients([src]) { src.scatterMean(index, rows: 4) }
        checkGradients([src]) { src.scatterMax(index, rows: 4) }
    }

    func testSegmentPooling() {
        let x = separatedTensor([6, 2], seed: 44)
        let batch = [0, 0, 0, 1, 1, 2]
        checkGradients([x]) { x.segmentMean(batch, segments: 3) }
        checkGradients([x]) { x.segmentMax(batch, segments: 3) }
        checkGradients([x]) { x.segmentSum(batch, segments: 3) }
    }

    func testConv2dStridePaddingAndBias() {
        let x = randomTensor([2, 3, 5, 5], seed: 45), w = randomTensor([4, 3, 3, 3], seed: 46), b = randomTensor([4], seed: 47)
        checkGradients([x, w, b]) { Tensor.conv2d(x, weight: w, bias: b, stride: 1, padding: 1) }
        checkGradients([x, w]) { Tensor.conv2d(x, weight: w, bias: nil, stride: 2, padding: 0) }
    }

    func testPooling() {
        let x = separatedTensor([2, 2, 4, 4], seed: 48)
        checkGradients([x]) { x.maxPool2d(kernel: 2) }
        checkGradients([x]) { x.avgPool2d(kernel: 2) }
        checkGradients([x]) { x.maxPool2d(kernel: 3, stride: 1) }
    }

    func testCausalSelfAttention() {
        let qkv = randomTensor([2, 5, 3 * 2 * 3], seed: 49)
        checkGradients([qkv]) { Tensor.causalSelfAttention(qkv, heads: 2) }
    }
}

/// The fused message-passing op against its unfused definition, and its gradients.
final class NeighborAggregationTests: XCTestCase {
    let source = [0, 1, 1, 2, 3, 4, 4, 0, 0]
    let target = [1, 0, 2, 1, 4, 3, 3, 1, 1]  // node 1 receives four messages, three of them from node 0

    func testMatchesGatherThenScatter() {
        let x = randomTensor([5, 3], seed: 50), w = randomTensor([9, 1], seed: 51)
        for (mode, reference) in [(NeighborReduction.sum, { (m: Tensor) in m.scatterAdd(self.target, rows: 6) }),
                                  (.mean, { (m: Tensor) in m.scatterMean(self.target, rows: 6) })] {
            let fused = Tensor.aggregateNeighbors(x, source: source, target: target, rows: 6, edgeWeight: w, reduce: mode)
            let ref = reference(x.gatherRows(source) * w)
            XCTAssertEqual(fused.shape, [6, 3])
            for i in 0..<fused.count { XCTAssertEqual(fused.data[i], ref.data[i], accuracy: 1e-6) }
        }
    }

    func testGradientsWithRespectToFeaturesAndEdgeWeights() {
        let x = randomTensor([5, 3], seed: 52), w = randomTensor([9], seed: 53)
        checkGradients([x, w]) { Tensor.aggregateNeighbors(x, source: self.source, target: self.target, rows: 5, edgeWeight: w) }
        checkGradients([x, w]) {
            Tensor.aggregateNeighbors(x, source: self.source, target: self.target, rows: 5, edgeWeight: w, reduce: .mean)
        }
        checkGradients([x]) { Tensor.aggregateNeighbors(x, source: self.source, target: self.target, rows: 5, reduce: .mean) }
    }
}
