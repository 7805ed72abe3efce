import Foundation
import Tensors

/// The KV-cached forward pass of one generation, on raw kernels (no autodiff, no graph): the image and prompt
/// go through in one prefill (matrix products over all prefix rows), then each new token is one step of
/// matrix-vector products against the cache.
///
/// A session owns its cache and scratch buffers and only reads the model's weights, so any number of sessions
/// may run at once on one model (one per thread). The cache keeps each layer's fused q|k|v rows ([position,
/// 3 d]), the layout `Kernels.cachedAttention` reads.
final class DecoderSession {
    let model: VLMModel
    let c: VLMConfig
    private let d: Int, maxP: Int
    private var cache: [UnsafeMutablePointer<Float>]
    private let x: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>, a: UnsafeMutablePointer<Float>
    private let f: UnsafeMutablePointer<Float>, s: UnsafeMutablePointer<Float>
    /// Logits of the next token after the last forward call [vocab].
    let logits: UnsafeMutablePointer<Float>
    /// Number of positions in the cache.
    private(set) var position = 0

    init(model: VLMModel) {
        self.model = model
        c = model.config
        d = c.dModel; maxP = c.maxPositions
        func alloc(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n); p.initialize(repeating: 0, count: n); return p
        }
        let cfg = model.config
        cache = (0..<cfg.layers).map { _ in alloc(cfg.maxPositions * 3 * cfg.dModel) }
        x = alloc(maxP * d); h = alloc(maxP * d); a = alloc(maxP * d)
        f = alloc(maxP * max(4 * d, cfg.projectorHidden))
        s = alloc(maxP * maxP)
        logits = alloc(cfg.vocabSize)
    }

    deinit {
        for p in cache { p.deallocate() }
        for p in [x, h, a, f, s, logits] { p.deallocate() }
    }

    /// Forgets the cache (the buffers are reused).
    func reset() { position = 0 }

    /// Positions still free.
    var remaining: Int { maxP - position }

    @inline(__always) private func ptr(_ t: Tensor) -> UnsafePointer<Float> { UnsafePointer(t.data.baseAddress!) }

    /// y[rows, out] = x[rows, in] W^T + b.
    private func linear(_ xin: UnsafePointer<Float>, rows: Int, _ l: Linear, _ y: UnsafeMutablePointer<Float>) {
        let (o, i) = (l.weight.shape[0], l.weight.shape[1])
        if let b = l.bias {
            for r in 0..<rows { (y + r * o).update(from: ptr(b), count: o) }
        }
        let beta: Float = l.bias == nil ? 0 : 1
        if rows == 1 {
            BLAS.sgemv(m: o, n: i, a: ptr(l.weight), x: xin, beta: beta, y: y)
        } else {
            BLAS.sgemm(transB: true, m: rows, n: o, k: i, a: xin, b: ptr(l.weight), beta: beta, c: y)
        }
    }

    /// Prefill: visual tokens from `patches` ([visualTokens * patchDim]) then `prompt` ids; resets the cache.
    /// Afterwards `logits` predicts the first generated token.
    func prefill(patches: [Float], prompt: [Int]) {
        precondition(patches.count == c.visualTokens * c.patchDim, "prefill: patches must be visualTokens * patchDim floats")
        precondition(c.visualTokens + prompt.count <= maxP, "prefill: prompt longer than max_positions")
        reset()
        let k = c.visualTokens
        patches.withUnsafeBufferPointer { p in
            linear(p.baseAddress!, rows: k, model.patchEmbed, f)
        }
        Kernels.gelu(f, f, count: k * c.projectorHidden)
        linear(f, rows: k, model.projector, x)
        let wte = ptr(model.wte.weight)
        for (i, id) in prompt.enumerated() { (x + (k + i) * d).update(from: wte + id * d, count: d) }
        forward(rows: k + prompt.count)
    }

    /// One decoding step: appends `token` at the next position; afterwards `logits` predicts the one after.
    func step(token: Int) {
        precondition(position < maxP, "step: cache full")
        x.update(from: ptr(model.wte.weight) + token * d, count: d)
        forward(rows: 1)
    }

    /// Runs `rows` new positions held in `x` through the decoder, appending their q|k|v to the cache, and
    /// leaves the next-token logits of the last row in `logits`.
    private func forward(rows n: Int) {
        let p0 = position, d3 = 3 * d, hd = c.headDim
        let wpe = ptr(model.wpe.weight)
        for i in 0..<n { Kernels.addInPlace(x + i * d, wpe + (p0 + i) * d, count: d) }
        let scale = 1 / Float(hd).squareRoot()
        for (l, blk) in model.blocks.items.enumerated() {
            let kv = cache[l]
            Kernels.layerNormRows(x, h, gamma: ptr(blk.ln1.weight), beta: ptr(blk.ln1.bias), rows: n, cols: d)
            linear(h, rows: n, blk.qkv, kv + p0 * d3)
            // Every row's keys and values go to the cache, but after the last layer only the final row is read
            // (its logits): the last layer's attention output, projection and MLP run for that row alone.
            let r0 = l == c.layers - 1 ? n - 1 : 0, m = n - r0
            if m == 1 {
                Kernels.cachedAttention(query: kv + (p0 + r0) * d3, keys: kv + d, values: kv + 2 * d, rowStride: d3,
                                        positions: p0 + r0 + 1, heads: c.heads, headDim: hd, out: a, scratch: s)
            } else {
                let total = p0 + n
                for head in 0..<c.heads {
                    let off = head * hd
                    BLAS.sgemm(split: false, transB: true, m: n, n: total, k: hd, alpha: scale, a: kv + p0 * d3 + off,
                               lda: d3, b: kv + d + off, ldb: d3, c: s)
                    Kernels.softmaxRows(s, s, rows: n, cols: total, validCols: { p0 + $0 + 1 })
                    BLAS.sgemm(split: false, m: n, n: hd, k: total, a: s, b: kv + 2 * d + off, ldb: d3,
                               c: a + off, ldc: d)
                }
            }
            let xr = x + r0 * d
            linear(a, rows: m, blk.attnProj, h)
            Kernels.addInPlace(xr, h, count: m * d)
            Kernels.layerNormRows(xr, h, gamma: ptr(blk.ln2.weight), beta: ptr(blk.ln2.bias), rows: m, cols: d)
            linear(h, rows: m, blk.fc1, f)
            Kernels.gelu(f, f, count: m * 4 * d)
            linear(f, rows: m, blk.fc2, h)
            Kernels.addInPlace(xr, h, count: m * d)
        }
        // Only the last row's logits are needed (earlier rows are prompt).
        let last = x + (n - 1) * d
        Kernels.layerNormRows(last, h, gamma: ptr(model.lnf.weight), beta: ptr(model.lnf.bias), rows: 1, cols: d)
        BLAS.sgemv(m: c.vocabSize, n: d, a: ptr(model.wte.weight), x: h, y: logits)
        position = p0 + n
    }
}
