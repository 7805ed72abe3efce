import Common
import Foundation
import Tensors

/// One pre-norm decoder block: x += proj(attn(qkv(ln1 x))); x += fc2(gelu(fc1(ln2 x))).
public final class DecoderBlock: Module {
    /// The block's layers (state-dict names ln1, qkv, attn_proj, ln2, fc1, fc2).
    public let ln1: LayerNorm, qkv: Linear, attnProj: Linear, ln2: LayerNorm, fc1: Linear, fc2: Linear
    /// Attention heads.
    public let heads: Int

    /// A block of width `d` with `heads` heads and a 4d MLP; seeded init.
    public init(d: Int, heads: Int, layers: Int, generator: inout SeededGenerator) {
        ln1 = LayerNorm(d); ln2 = LayerNorm(d)
        qkv = Linear(d, 3 * d, generator: &generator)
        attnProj = Linear(d, d, generator: &generator)
        fc1 = Linear(d, 4 * d, generator: &generator)
        fc2 = Linear(4 * d, d, generator: &generator)
        self.heads = heads
        // GPT-2's scaled init of the residual projections: the residual stream's variance then does not grow
        // with depth.
        let scale = 1 / Float(2 * layers).squareRoot()
        for w in [attnProj.weight, fc2.weight] { for i in 0..<w.count { w.data[i] *= scale } }
    }

    public var localParameters: [(String, Tensor)] { [] }
    public var children: [(String, Module)] {
        [("ln1", ln1), ("qkv", qkv), ("attn_proj", attnProj), ("ln2", ln2), ("fc1", fc1), ("fc2", fc2)]
    }

    /// x [B, T, d] -> [B, T, d] (causal).
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let a = attnProj(Tensor.causalSelfAttention(qkv(ln1(x)), heads: heads))
        let h = x + a
        return h + fc2(Tensor.linearGELU(ln2(h), weight: fc1.weight, bias: fc1.bias))
    }
}

/// The student vision-language model: patch encoder + GELU projector into the decoder width, and a
/// decoder-only transformer (learned positions, pre-norm blocks, final LayerNorm, output tied to the token
/// embedding). Sequence layout: [visual tokens][<human> question <gpt> answer <eos>].
///
/// Training uses the autodiff ops of Tensors (`loss`); generation uses `VLMGenerator`, a KV-cached forward on
/// the raw kernels that reads the same weights. Parameters are never written during generation, so one model
/// can serve several generating threads at once.
public final class VLMModel: Module, @unchecked Sendable {
    /// Shapes.
    public let config: VLMConfig
    /// Patch embedding [projectorHidden, patchDim] (the vision encoder).
    public let patchEmbed: Linear
    /// Projector [dModel, projectorHidden] into the decoder's width.
    public let projector: Linear
    /// Token embedding [vocab, dModel], also the output projection.
    public let wte: Embedding
    /// Position embedding [maxPositions, dModel].
    public let wpe: Embedding
    /// Decoder blocks.
    public let blocks: ModuleList<DecoderBlock>
    /// Final LayerNorm.
    public let lnf: LayerNorm

    /// A freshly initialised model (seeded: the same seed gives the same weights).
    /// - Throws: `VLMError.invalidConfig` when `config` does not validate.
    public init(config: VLMConfig, seed: UInt64) throws {
        try config.validate()
        self.config = config
        var g = SeededGenerator(seed: seed)
        patchEmbed = Linear(config.patchDim, config.projectorHidden, generator: &g)
        projector = Linear(config.projectorHidden, config.dModel, generator: &g)
        wte = Embedding(vocab: config.vocabSize, dim: config.dModel, generator: &g)
        wpe = Embedding(vocab: config.maxPositions, dim: config.dModel, std: 0.01, generator: &g)
        blocks = ModuleList((0..<config.layers).map { _ in
            DecoderBlock(d: config.dModel, heads: config.heads, layers: config.layers, generator: &g)
        })
        lnf = LayerNorm(config.dModel)
    }

    public var localParameters: [(String, Tensor)] { [] }
    public var children: [(String, Module)] {
        [("patch_embed", patchEmbed), ("projector", projector), ("wte", wte), ("wpe", wpe), ("blocks", blocks),
         ("ln_f", lnf)]
    }

    /// Visual tokens [B, K, d] from patches [B, K, patchDim].
    public func encodeImages(_ patches: Tensor) -> Tensor {
        projector(Tensor.linearGELU(patches, weight: patchEmbed.weight, bias: patchEmbed.bias))
    }

    /// Final hidden states [B, L, d] of the text positions for a batch of images and equal-length texts.
    /// - patches: B * visualTokens * patchDim floats; ids: B * L token ids.
    func textHidden(patches: [Float], ids: [Int], batch: Int, length: Int) -> Tensor {
        let v = encodeImages(Tensor(patches, shape: [batch, config.visualTokens, config.patchDim]))
        return textHidden(visual: v, ids: ids, batch: batch, length: length)
    }

    /// Final hidden states [B, L, d] of the text positions after the visual tokens `v` [B, K, d].
    func textHidden(visual v: Tensor, ids: [Int], batch: Int, length: Int) -> Tensor {
        let k = config.visualTokens, t = k + length
        precondition(t <= config.maxPositions, "VLMModel: sequence of \(t) exceeds max_positions \(config.maxPositions)")
        let e = wte(ids, shape: [batch, length])
        var x = Tensor.concat([v, e], axis: 1) + wpe(Array(0..<t))
        for b in blocks.items { x = b(x) }
        return lnf(x).slice(axis: 1, k..<t)
    }

    /// Logits [B * L, vocab] of every text position (position i predicts text token i + 1).
    public func textLogits(patches: [Float], ids: [Int], batch: Int, length: Int) -> Tensor {
        let h = textHidden(patches: patches, ids: ids, batch: batch, length: length).reshaped([batch * length, config.dModel])
        return Tensor.matmul(h, wte.weight, transposeB: true)
    }

    /// Mean next-token cross-entropy over the answer tokens of a batch (padded with `<pad>`), with the graph
    /// recorded for `backward()`. Returns the loss and the number of answer tokens it averages over.
    public func loss(batch: [EncodedExample], images: [[Float]]) -> (loss: Tensor, answerTokens: Int) {
        let r = lossAndVisual(batch: batch, images: images)
        return (r.loss, r.answerTokens)
    }

    /// `loss(batch:images:)` plus the batch's visual tokens [B, K, d] (in the same graph), so an auxiliary
    /// loss on the vision encoder can share the forward pass.
    public func lossAndVisual(batch: [EncodedExample], images: [[Float]]) -> (loss: Tensor, answerTokens: Int, visual: Tensor) {
        let b = batch.count
        let length = batch.map(\.ids.count).max() ?? 1
        var ids = [Int](repeating: Tokenizer.pad, count: b * length)
        var targets = [Int](repeating: -1, count: b * length)
        var patches: [Float] = []
        patches.reserveCapacity(b * config.visualTokens * config.patchDim)
        var counted = 0
        for (r, ex) in batch.enumerated() {
            patches += images[ex.imageIndex]
            for (i, id) in ex.ids.enumerated() { ids[r * length + i] = id }
            for i in 0..<(ex.ids.count - 1) where ex.lossMask[i + 1] {
                targets[r * length + i] = ex.ids[i + 1]; counted += 1
            }
        }
        let v = encodeImages(Tensor(patches, shape: [b, config.visualTokens, config.patchDim]))
        let h = textHidden(visual: v, ids: ids, batch: b, length: length).reshaped([b * length, config.dModel])
        let logits = Tensor.matmul(h, wte.weight, transposeB: true)
        return (Tensor.crossEntropy(logits: logits, targets: targets), counted, v)
    }
}
