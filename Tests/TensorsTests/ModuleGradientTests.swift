import Common
import XCTest
@testable import Tensors

/// Finite-difference checks through whole modules, and through the two consumer shapes: a message-passing
/// layer (gradients with respect to node features and an edge mask) and a tiny transformer block.
final class ModuleGradientTests: XCTestCase {
    func testLinearModule() {
        var g = SeededGenerator(seed: 1)
        let l = Linear(4, 3, generator: &g)
        let x = randomTensor([5, 4], seed: 2)
        checkGradients([x] + l.parameters()) { l(x) }
    }

    func testEmbeddingAndLayerNormModules() {
        var g = SeededGenerator(seed: 3)
        let e = Embedding(vocab: 6, dim: 4, std: 1, generator: &g)
        let ln = LayerNorm(4)
        ln.weight.copyValues(from: randomTensor([4], seed: 4))
        ln.bias.copyValues(from: randomTensor([4], seed: 5))
        checkGradients(e.parameters() + ln.parameters()) { ln(e([0, 5, 5, 2], shape: [2, 2])) }
    }

    func testBatchNormModuleTrainingAndEval() {
        let bn = BatchNorm(3)
        bn.weight.copyValues(from: randomTensor([3], seed: 6))
        let x = randomTensor([10, 3], seed: 7)
        checkGradients([x] + bn.parameters()) { bn(x) }
        bn.setTraining(false)
        checkGradients([x] + bn.parameters()) { bn(x) }
    }

    func testMLPModule() {
        var g = SeededGenerator(seed: 8)
        let m = MLP([3, 6, 2], activation: .elu, generator: &g)
        let x = randomTensor([4, 3], seed: 9)
        checkGradients([x] + m.parameters()) { m(x) }
    }

    func testConv2dModule() {
        var g = SeededGenerator(seed: 10)
        let c = Conv2d(2, 3, kernel: 2, stride: 2, generator: &g)
        let x = randomTensor([1, 2, 4, 4], seed: 11)
        checkGradients([x] + c.parameters()) { c(x) }
    }

    func testTiedEmbeddingAccumulatesBothUses() {
        // The same weight embeds tokens and projects back to logits (GPT-2 weight tying).
        let w = randomTensor([7, 4], seed: 12)
        checkGradients([w]) {
            let h = Tensor.embedding(w, ids: [3, 1, 3])
            return Tensor.crossEntropy(logits: Tensor.matmul(h, w, transposeB: true), targets: [1, 3, 6])
        }
    }

    func testTransformerBlock() {
        var g = SeededGenerator(seed: 13)
        let (b, t, c, heads) = (2, 4, 6, 2)
        let ln1 = LayerNorm(c), ln2 = LayerNorm(c)
        let qkv = Linear(c, 3 * c, generator: &g), proj = Linear(c, c, generator: &g)
        let fc = Linear(c, 4 * c, generator: &g), fc2 = Linear(4 * c, c, generator: &g)
        let x = randomTensor([b, t, c], seed: 14)
        let params = [ln1, ln2].flatMap { $0.parameters() } + [qkv, proj, fc, fc2].flatMap { $0.parameters() }
        checkGradients([x] + params) {
            let a = x + proj(Tensor.causalSelfAttention(qkv(ln1(x)), heads: heads))
            return a + fc2(fc(ln2(a)).gelu())
        }
    }

    func testMessagePassingGradientsWithRespectToInputsAndEdgeMask() {
        // A SAGE-like layer on a 5-node graph: x'_i = W1 x_i + W2 mean_j (mask_ij x_j), then BN, ELU,
        // mean+max pooling over two graphs and a weighted, smoothed cross-entropy.
        var g = SeededGenerator(seed: 15)
        // No bias before BatchNorm: training-mode BN removes any per-channel shift, so that gradient is 0.
        let w1 = Linear(3, 4, bias: false, generator: &g), w2 = Linear(3, 4, bias: false, generator: &g)
        let bn = BatchNorm(4), head = Linear(8, 3, generator: &g)
        let x = randomTensor([5, 3], seed: 16)
        let mask = Tensor.uniform([7, 1], lo: 0.2, hi: 1, generator: &g)
        let src = [0, 1, 1, 2, 3, 4, 4], dst = [1, 0, 2, 1, 4, 3, 3]
        let batch = [0, 0, 0, 1, 1]
        let params = w1.parameters() + w2.parameters() + bn.parameters() + head.parameters()
        // Step 1e-3: with 2-3 nodes per graph, two rows of z come within 5e-3 of each other in one channel,
        // so a larger step would cross the max pooling kink.
        checkGradients([x, mask] + params, step: 1e-3) {
            let messages = x.gatherRows(src) * mask
            let h = (w1(x) + w2(messages.scatterMean(dst, rows: 5)))
            let z = bn(h).elu()
            let pooled = Tensor.concat([z.segmentMean(batch, segments: 2), z.segmentMax(batch, segments: 2)], axis: 1)
            return Tensor.crossEntropy(logits: head(pooled), targets: [2, 0], classWeights: [1, 2, 0.5], labelSmoothing: 0.1)
        }
    }
}
