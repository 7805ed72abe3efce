import Common
import Dispatch
import Foundation
import XCTest
@testable import Tensors

/// The graph machinery: recording, thread-local grad modes, accumulation, and error messages.
final class AutogradTests: XCTestCase {
    func testNoGradRecordsNothingAndLeavesParametersAlone() {
        let w = Tensor.parameter(randomTensor([3, 3], seed: 1))
        let x = randomTensor([2, 3], seed: 2)
        let y = Tensor.withoutGrad { Tensor.matmul(x, w).relu().sum() }
        XCTAssertFalse(y.hasGraph)
        XCTAssertTrue(y.parents.isEmpty)
        XCTAssertNil(w.grad)
        XCTAssertTrue(Tensor.isGradEnabled, "mode restored after withoutGrad")
        let z = Tensor.matmul(x, w).sum()
        XCTAssertTrue(z.hasGraph)
    }

    func testGradModeIsPerThread() {
        let w = Tensor.parameter(randomTensor([4, 4], seed: 3))
        let x = randomTensor([2, 4], seed: 4)
        let other = DispatchSemaphore(value: 0), done = DispatchSemaphore(value: 0)
        final class Flag: @unchecked Sendable { var value = false }
        let otherRecorded = Flag()
        Tensor.withoutGrad {
            Thread.detachNewThread {
                // This thread never entered withoutGrad: it records.
                otherRecorded.value = Tensor.matmul(x, w).hasGraph
                other.signal()
            }
            other.wait()
            XCTAssertFalse(Tensor.matmul(x, w).hasGraph)
            done.signal()
        }
        done.wait()
        XCTAssertTrue(otherRecorded.value)
    }

    func testConcurrentNoGradInferenceSharesParameters() {
        var g = SeededGenerator(seed: 5)
        let mlp = MLP([8, 32, 4], generator: &g)
        let bn = BatchNorm(4)
        let x = randomTensor([16, 8], seed: 6)
        let before = mlp.parameters().map(\.array) + [bn.runningMean.array, bn.runningVar.array]
        let expected = Tensor.withoutGrad { bn(mlp(x)).array }
        var results = [[Float]](repeating: [], count: 8)
        let lock = NSLock()
        DispatchQueue.concurrentPerform(iterations: 8) { i in
            let r = Tensor.withoutGrad { (0..<20).map { _ in bn(mlp(x)) }.last!.array }
            lock.lock(); results[i] = r; lock.unlock()
        }
        for r in results { XCTAssertEqual(r, expected) }
        XCTAssertEqual(mlp.parameters().map(\.array) + [bn.runningMean.array, bn.runningVar.array], before)
        XCTAssertTrue(mlp.parameters().allSatisfy { $0.grad == nil })
    }

    func testFrozenParametersGiveInputGradientsOnly() {
        let w = Tensor.parameter(randomTensor([3, 2], seed: 7))
        let x = randomTensor([4, 3], seed: 8)
        x.requiresGrad = true
        Tensor.withFrozenParameters { Tensor.matmul(x, w).tanh().sum().backward() }
        XCTAssertNil(w.grad, "a frozen parameter's gradient must not be written")
        XCTAssertNotNil(x.grad)
        // Same input gradient as with everything enabled.
        let xg = x.gradArray
        x.dropGrad()
        Tensor.matmul(x, w).tanh().sum().backward()
        XCTAssertEqual(x.gradArray, xg)
        XCTAssertNotNil(w.grad)
    }

    func testParameterUsedTwiceAccumulatesAndDiamondGraph() {
        let a = Tensor([2], shape: [1], requiresGrad: true)
        let b = a * a        // da = 2a = 4
        let c = b + a        // diamond: a reaches c twice
        (c * c).sum().backward()  // d/da (a^2 + a)^2 = 2(a^2+a)(2a+1) = 2*6*5 = 60
        XCTAssertEqual(a.gradArray, [60])
        // A second backward on a fresh graph accumulates into the same leaf.
        (a * 3).sum().backward()
        XCTAssertEqual(a.gradArray, [63])
    }

    func testGraphReleasedAfterBackward() {
        let a = Tensor([1, 2], shape: [2], requiresGrad: true)
        let y = (a * a).sum()
        y.backward()
        XCTAssertFalse(y.hasGraph)
        XCTAssertTrue(y.parents.isEmpty)
    }

    func testDeepChainDoesNotOverflowTheStack() {
        let a = Tensor([0.5], shape: [1], requiresGrad: true)
        var h = a
        for _ in 0..<20_000 { h = h * 1.0 }
        h.sum().backward()
        XCTAssertEqual(a.gradArray, [1])
    }

    func testBroadcastShapes() {
        XCTAssertEqual(Broadcast.shape([5, 3], [3]), [5, 3])
        XCTAssertEqual(Broadcast.shape([5, 1], [1, 4]), [5, 4])
        XCTAssertNil(Broadcast.shape([5, 3], [4]))
        XCTAssertEqual(Broadcast.pattern([3], in: [5, 3]), BroadcastPattern(n: 3, inner: 1))
        XCTAssertEqual(Broadcast.pattern([5, 1], in: [5, 3]), BroadcastPattern(n: 5, inner: 3))
        XCTAssertEqual(Broadcast.pattern([1], in: [5, 3]), BroadcastPattern(n: 1, inner: 1))
        XCTAssertNil(Broadcast.pattern([2, 1, 4], in: [2, 3, 4]), "non-contiguous blocks are unsupported")
        let y = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]) + Tensor([10, 20, 30], shape: [3])
        XCTAssertEqual(y.array, [11, 22, 33, 14, 25, 36])
        let z = Tensor([1, 2, 3, 4, 5, 6], shape: [2, 3]) * Tensor([10, 100], shape: [2, 1])
        XCTAssertEqual(z.array, [10, 20, 30, 400, 500, 600])
    }

    func testShapeMismatchMessageNamesBothShapes() {
        let m = Tensor.shapeMismatchMessage("matmul", [2, 3], [4, 5], detail: "inner dimensions 3 and 4 differ")
        XCTAssertTrue(m.contains("matmul"))
        XCTAssertTrue(m.contains("[2, 3]"))
        XCTAssertTrue(m.contains("[4, 5]"))
        XCTAssertTrue(m.contains("inner dimensions 3 and 4 differ"))
    }

    func testForwardValuesOfKnownCases() {
        let x = Tensor([1, 2, 3, 4], shape: [2, 2])
        XCTAssertEqual(Tensor.matmul(x, x).array, [7, 10, 15, 22])
        XCTAssertEqual(x.sum(axis: 0).array, [4, 6])
        XCTAssertEqual(x.mean(axis: 1).array, [1.5, 3.5])
        let s = Tensor([0, 0, 0, logf(3)], shape: [2, 2]).softmax().array
        XCTAssertEqual(s[0], 0.5, accuracy: 1e-6)
        XCTAssertEqual(s[3], 0.75, accuracy: 1e-6)
        let src = Tensor([1, 5, 3, 2], shape: [4, 1])
        XCTAssertEqual(src.scatterMax([0, 0, 1, 0], rows: 3).array, [5, 3, 0])
        XCTAssertEqual(src.scatterMean([0, 0, 1, 0], rows: 3).array, [8.0 / 3, 3, 0])
        XCTAssertEqual(src.scatterAdd([0, 0, 1, 0], rows: 3).array, [8, 3, 0])
        // CE of uniform logits is log(C).
        let ce = Tensor.crossEntropy(logits: .zeros([2, 4]), targets: [1, 3]).item
        XCTAssertEqual(ce, logf(4), accuracy: 1e-6)
    }

    func testAttentionMatchesComposedReferenceAndIsCausal() {
        let (b, t, heads, hd) = (2, 5, 2, 3)
        let c = heads * hd
        let qkv = randomTensor([b, t, 3 * c], seed: 9)
        let fused = Tensor.causalSelfAttention(qkv, heads: heads).array
        // Reference by plain loops.
        var ref = [Float](repeating: 0, count: b * t * c)
        for bi in 0..<b { for h in 0..<heads { for i in 0..<t {
            var scores = [Float](repeating: 0, count: i + 1)
            for j in 0...i {
                var s: Float = 0
                for d in 0..<hd { s += qkv.data[(bi * t + i) * 3 * c + h * hd + d] * qkv.data[(bi * t + j) * 3 * c + c + h * hd + d] }
                scores[j] = s / Float(hd).squareRoot()
            }
            let m = scores.max()!
            let e = scores.map { Foundation.exp($0 - m) }, z = e.reduce(0, +)
            for d in 0..<hd {
                var o: Float = 0
                for j in 0...i { o += e[j] / z * qkv.data[(bi * t + j) * 3 * c + 2 * c + h * hd + d] }
                ref[(bi * t + i) * c + h * hd + d] = o
            }
        } } }
        for i in 0..<ref.count { XCTAssertEqual(fused[i], ref[i], accuracy: 1e-5) }
        // Changing the last position must not change earlier outputs.
        for k in 0..<(3 * c) { qkv.data[(t - 1) * 3 * c + k] += 1 }
        let changed = Tensor.causalSelfAttention(qkv, heads: heads).array
        for i in 0..<((t - 1) * c) { XCTAssertEqual(changed[i], fused[i]) }
    }

    func testRawKernelsMatchTheOps() {
        let x = randomTensor([3, 7], seed: 10)
        let g = randomTensor([7], seed: 11), be = randomTensor([7], seed: 12)
        var y = [Float](repeating: 0, count: 21)
        Kernels.layerNormRows(x.data.baseAddress!, &y, gamma: g.data.baseAddress!, beta: be.data.baseAddress!, rows: 3, cols: 7)
        XCTAssertEqual(y, Tensor.layerNorm(x, gamma: g, beta: be).array)
        Kernels.softmaxRows(x.data.baseAddress!, &y, rows: 3, cols: 7)
        XCTAssertEqual(y, x.softmax().array)
        Kernels.gelu(x.data.baseAddress!, &y, count: 21)
        XCTAssertEqual(y, x.gelu().array)
        // gemv against sgemm with N = 1.
        let a = randomTensor([4, 7], seed: 13)
        var v = [Float](repeating: 0, count: 4)
        BLAS.sgemv(m: 4, n: 7, a: a.data.baseAddress!, x: x.data.baseAddress!, y: &v)
        let ref = Tensor.matmul(a, x.slice(axis: 0, 0..<1).reshaped([7, 1])).array
        for i in 0..<4 { XCTAssertEqual(v[i], ref[i], accuracy: 1e-5) }
        XCTAssertEqual(Kernels.argmax([1, 5, 2, 5], count: 4), 1)
    }
}
