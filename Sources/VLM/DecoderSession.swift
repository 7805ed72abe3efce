import Foundation
import Tensors

/// The KV-cached forward pass of one generation, on raw kernels (no autodiff, no graph): the image and prompt
/// go through in one prefill (matrix products over all prefix rows), then each new token is one step of
/// matrix-vector products against the cache.
///
/// A session owns its cache and scratch buffers and only reads the model's weights, so any number of sessions
/// may run at once on one model (one per thread). The cache keeps each layer's fused q|k|v rows ([position,
/// 3 d]), the layout `Kernels.cachedAttention` reads (its steps are inlined here, per part's heads).
///
/// With `parts` > 1 (default: all cores while the machine's load leaves them free, see
/// `WorkerTeam.defaultDecoderParts`; `CAPILLARY_DECODER_THREADS` overrides) the cores work on one sequence: every stage is
/// cut into `parts` pieces (rows of the prefill's matrices; in a one-row step, output features of each
/// matrix-vector product, or attention heads) that run on the shared `WorkerTeam` when no other session
/// holds it, else one after another on the calling thread. The cut is the same either way, so the numbers
/// do not depend on which thread ran a piece.
final class DecoderSession {
    let model: VLMModel
    let c: VLMConfig
    private let d: Int, maxP: Int, parts: Int
    private var cache: [UnsafeMutablePointer<Float>]
    private let x: UnsafeMutablePointer<Float>, h: UnsafeMutablePointer<Float>, a: UnsafeMutablePointer<Float>
    private let f: UnsafeMutablePointer<Float>
    /// Per part: attention scores (maxP * maxP) then a private row (max(d, ...)) for one-row stages.
    private let scratch: UnsafeMutablePointer<Float>, scratchStride: Int
    /// Logits of the next token after the last forward call [vocab].
    let logits: UnsafeMutablePointer<Float>
    /// Number of positions in the cache.
    private(set) var position = 0

    /// A session cutting its work into `parts` pieces (1 ... `WorkerTeam.parts`).
    init(model: VLMModel, parts: Int = WorkerTeam.defaultDecoderParts()) {
        precondition(parts >= 1 && parts <= max(1, WorkerTeam.parts), "DecoderSession: parts \(parts) outside 1...\(WorkerTeam.parts)")
        self.model = model
        c = model.config
        d = c.dModel; maxP = c.maxPositions
        self.parts = parts
        func alloc(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n); p.initialize(repeating: 0, count: n); return p
        }
        let cfg = model.config
        cache = (0..<cfg.layers).map { _ in alloc(cfg.maxPositions * 3 * cfg.dModel) }
        x = alloc(maxP * d); h = alloc(maxP * d); a = alloc(maxP * d)
        f = alloc(maxP * max(4 * d, cfg.projectorHidden))
        scratchStride = maxP * maxP + d
        scratch = alloc(parts * scratchStride)
        logits = alloc(cfg.vocabSize)
    }

    deinit {
        for p in cache { p.deallocate() }
        for p in [x, h, a, f, scratch, logits] { p.deallocate() }
    }

    /// Forgets the cache (the buffers are reused).
    func reset() { position = 0 }

    /// Positions still free.
    var remaining: Int { maxP - position }

    @inline(__always) private func ptr(_ t: Tensor) -> UnsafePointer<Float> { UnsafePointer(t.data.baseAddress!) }

    /// The shared team when this session splits its work and no other session holds the team, else nil.
    private func withTeam<R>(_ body: (WorkerTeam?) -> R) -> R {
        parts > 1 ? WorkerTeam.withTeam(body) : body(nil)
    }

    /// Part `p` of `0..<total` cut into `parts` contiguous pieces, boundaries on multiples of `align` (the
    /// BLAS kernels work on blocks of rows) where the total allows.
    @inline(__always) private func piece(_ total: Int, _ p: Int, align: Int = 16) -> Range<Int> {
        if parts == 1 { return 0..<total }
        func bound(_ q: Int) -> Int {
            if q >= parts { return total }
            let raw = (total * q + parts - 1) / parts
            return min(total, (raw + align - 1) / align * align)
        }
        return bound(p)..<bound(p + 1)
    }

    /// y[rows, o] = x[rows, in] W[o, in]^T + b for the output features `cols` of W (y and b indexed by the
    /// feature; y has row stride `ldy`). One thread; a row block of W is a valid matrix, so a feature range
    /// is one BLAS call.
    private func linear(_ xin: UnsafePointer<Float>, rows: Int, _ l: Linear, cols: Range<Int>,
                        _ y: UnsafeMutablePointer<Float>, ldy: Int) {
        guard !cols.isEmpty else { return }
        let i = l.weight.shape[1]
        let w = ptr(l.weight) + cols.lowerBound * i, yc = y + cols.lowerBound
        if let b = l.bias {
            for r in 0..<rows { (yc + r * ldy).update(from: ptr(b) + cols.lowerBound, count: cols.count) }
        }
        let beta: Float = l.bias == nil ? 0 : 1
        if rows == 1 {
            BLAS.sgemv(m: cols.count, n: i, a: w, x: xin, beta: beta, y: yc)
        } else {
            BLAS.sgemm(split: false, transB: true, m: rows, n: cols.count, k: i, a: xin, b: w, ldb: i, beta: beta,
                       c: yc, ldc: ldy)
        }
    }

    /// All output features of `l` for `rows` rows (dense y).
    private func linear(_ xin: UnsafePointer<Float>, rows: Int, _ l: Linear, _ y: UnsafeMutablePointer<Float>) {
        linear(xin, rows: rows, l, cols: 0..<l.weight.shape[0], y, ldy: l.weight.shape[0])
    }

    /// Prefill: visual tokens from `patches` ([visualTokens * patchDim]) then `prompt` ids; resets the cache.
    /// Afterwards `logits` predicts the first generated token.
    func prefill(patches: [Float], prompt: [Int]) {
        precondition(patches.count == c.visualTokens * c.patchDim, "prefill: patches must be visualTokens * patchDim floats")
        precondition(c.visualTokens + prompt.count <= maxP, "prefill: prompt longer than max_positions")
        reset()
        let k = c.visualTokens, ph = c.projectorHidden, pd = c.patchDim
        let wte = ptr(model.wte.weight)
        for (i, id) in prompt.enumerated() { (x + (k + i) * d).update(from: wte + id * d, count: d) }
        patches.withUnsafeBufferPointer { pb in
            let P = pb.baseAddress!
            withTeam { team in
                // Vision encoder, rows (visual tokens) split over the parts.
                runParts(team, parts) { [self] p in
                    let rs = piece(k, p, align: 1)
                    guard !rs.isEmpty else { return }
                    let r0 = rs.lowerBound
                    linear(P + r0 * pd, rows: rs.count, model.patchEmbed, f + r0 * ph)
                    Kernels.geluVector(f + r0 * ph, f + r0 * ph, count: rs.count * ph)
                    linear(f + r0 * ph, rows: rs.count, model.projector, x + r0 * d)
                }
                forward(rows: k + prompt.count, team: team)
            }
        }
    }

    /// One decoding step: appends `token` at the next position; afterwards `logits` predicts the one after.
    func step(token: Int) {
        precondition(position < maxP, "step: cache full")
        x.update(from: ptr(model.wte.weight) + token * d, count: d)
        withTeam { team in forward(rows: 1, team: team) }
    }

    /// Runs `rows` new positions held in `x` through the decoder, appending their q|k|v to the cache, and
    /// leaves the next-token logits of the last row in `logits`.
    ///
    /// Many rows (the prefill) are split by rows: each part normalises its rows, projects their q|k|v, and
    /// after the attention (split by heads) runs the projection, MLP and next layer's q|k|v for its rows,
    /// two hand-overs per layer. Every row's keys and values go to the cache, but after the last layer only
    /// the final row is read (its logits), so the last layer's attention output, projection and MLP run for
    /// that row alone, as in a one-row step, where the parts split each product's output features (four
    /// hand-overs per layer: heads, projection, fc1, fc2) and each part adds its features of the residual.
    private func forward(rows n: Int, team: WorkerTeam?) {
        let p0 = position, d3 = 3 * d, hd = c.headDim, layers = c.layers
        let wpe = ptr(model.wpe.weight)
        for i in 0..<n { Kernels.addInPlace(x + i * d, wpe + (p0 + i) * d, count: d) }
        let scale = 1 / Float(hd).squareRoot()
        let blocks = model.blocks.items
        if n > 1 {
            // Layer 0's LayerNorm and q|k|v by rows.
            runParts(team, parts) { [self] p in
                let rs = piece(n, p, align: 1)
                guard !rs.isEmpty else { return }
                normQKV(blocks[0], rows: rs, kv: cache[0] + p0 * d3)
            }
        }
        for (l, blk) in blocks.enumerated() {
            let kv = cache[l]
            if n > 1 && l < layers - 1 {
                // Attention of all n rows, heads split; then rows split for the rest of the block and the next
                // layer's q|k|v.
                let total = p0 + n
                runParts(team, parts) { [self] p in
                    let s = scratch + p * scratchStride
                    for head in piece(c.heads, p, align: 1) {
                        let off = head * hd
                        BLAS.sgemm(split: false, transB: true, m: n, n: total, k: hd, alpha: scale, a: kv + p0 * d3 + off,
                                   lda: d3, b: kv + d + off, ldb: d3, c: s)
                        Kernels.softmaxRowsVector(s, s, rows: n, cols: total, causalOffset: p0)
                        BLAS.sgemm(split: false, m: n, n: hd, k: total, a: s, b: kv + 2 * d + off, ldb: d3,
                                   c: a + off, ldc: d)
                    }
                }
                runParts(team, parts) { [self] p in
                    let rs = piece(n, p, align: 1)
                    guard !rs.isEmpty else { return }
                    let r0 = rs.lowerBound, m = rs.count
                    let xr = x + r0 * d, hr = h + r0 * d, fr = f + r0 * 4 * d
                    linear(a + r0 * d, rows: m, blk.attnProj, hr)
                    Kernels.addInPlace(xr, hr, count: m * d)
                    Kernels.layerNormRows(xr, hr, gamma: ptr(blk.ln2.weight), beta: ptr(blk.ln2.bias), rows: m, cols: d)
                    linear(hr, rows: m, blk.fc1, fr)
                    Kernels.geluVector(fr, fr, count: m * 4 * d)
                    linear(fr, rows: m, blk.fc2, hr)
                    Kernels.addInPlace(xr, hr, count: m * d)
                    normQKV(blocks[l + 1], rows: rs, kv: cache[l + 1] + p0 * d3)
                }
                continue
            }
            // One row (a decoding step, or the prefill's last layer for its final row): x holds it at row xi.
            let xi = n - 1, xr = x + xi * d, q = kv + (p0 + xi) * d3
            runParts(team, parts) { [self] p in
                let heads = piece(c.heads, p, align: 1)
                guard !heads.isEmpty else { return }
                if n == 1 {
                    // This part's heads of q|k|v, from its own copy of LN1(x).
                    let hp = scratch + p * scratchStride + maxP * maxP
                    Kernels.layerNormRows(xr, hp, gamma: ptr(blk.ln1.weight), beta: ptr(blk.ln1.bias), rows: 1, cols: d)
                    let cols = heads.lowerBound * hd..<heads.upperBound * hd
                    for block in 0..<3 {
                        linear(hp, rows: 1, blk.qkv, cols: (cols.lowerBound + block * d)..<(cols.upperBound + block * d),
                               q, ldy: d3)
                    }
                }
                // Kernels.cachedAttention with the eight-lane softmax, for this part's heads.
                let positions = p0 + xi + 1, sc = scratch + p * scratchStride
                for head in heads {
                    let off = head * hd
                    BLAS.sgemv(m: positions, n: hd, alpha: scale, a: kv + d + off, lda: d3, x: q + off, y: sc)
                    Kernels.softmaxRowsVector(sc, sc, rows: 1, cols: positions)
                    BLAS.sgemv(transA: true, m: positions, n: hd, a: kv + 2 * d + off, lda: d3, x: sc, y: a + off)
                }
            }
            runParts(team, parts) { [self] p in
                let cols = piece(d, p)
                linear(a, rows: 1, blk.attnProj, cols: cols, h, ldy: d)
                for j in cols { xr[j] += h[j] }
            }
            runParts(team, parts) { [self] p in
                let hp = scratch + p * scratchStride + maxP * maxP
                Kernels.layerNormRows(xr, hp, gamma: ptr(blk.ln2.weight), beta: ptr(blk.ln2.bias), rows: 1, cols: d)
                let cols = piece(4 * d, p)
                linear(hp, rows: 1, blk.fc1, cols: cols, f, ldy: 4 * d)
                Kernels.geluVector(f + cols.lowerBound, f + cols.lowerBound, count: cols.count)
            }
            runParts(team, parts) { [self] p in
                let cols = piece(d, p)
                linear(f, rows: 1, blk.fc2, cols: cols, h, ldy: d)
                for j in cols { xr[j] += h[j] }
            }
        }
        // Only the last row's logits are needed (earlier rows are prompt).
        let last = x + (n - 1) * d
        runParts(team, parts) { [self] p in
            let hp = scratch + p * scratchStride + maxP * maxP
            Kernels.layerNormRows(last, hp, gamma: ptr(model.lnf.weight), beta: ptr(model.lnf.bias), rows: 1, cols: d)
            let vs = piece(c.vocabSize, p)
            guard !vs.isEmpty else { return }
            BLAS.sgemv(m: vs.count, n: d, a: ptr(model.wte.weight) + vs.lowerBound * d, x: hp, y: logits + vs.lowerBound)
        }
        position = p0 + n
    }

    /// LayerNorm 1 and the q|k|v projection of rows `rs` of x, written to the cache rows starting at `kv`.
    private func normQKV(_ blk: DecoderBlock, rows rs: Range<Int>, kv: UnsafeMutablePointer<Float>) {
        let r0 = rs.lowerBound, m = rs.count, hr = h + r0 * d
        Kernels.layerNormRows(x + r0 * d, hr, gamma: ptr(blk.ln1.weight), beta: ptr(blk.ln1.bias), rows: m, cols: d)
        linear(hr, rows: m, blk.qkv, kv + r0 * 3 * d)
    }
}
