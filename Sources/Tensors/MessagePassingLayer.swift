import Common

extension Tensor {
    /// Target rows per tile of `residualMessageLayer`: [256, 64] Float scratch tiles are 64 KB, so a tile's
    /// pre-activation, aggregates and gradients stay in a core's L2 cache between the steps that use them.
    static let messageLayerTileRows = 256

    /// One residual message-passing layer in one op:
    ///
    ///   y = x + act(LayerNorm(relationalLinear(x, weight:, bias:, messages:)))
    ///
    /// x [N, H] -> y [N, H] (`weight` [H, H]; LayerNorm over the H columns with `gamma`, `beta`).
    ///
    /// The unfused pair writes the [N, H] sum, reads it back for the LayerNorm, and in the backward pass
    /// writes and re-reads [N, H] gradients of the sum and of every aggregate. Over a large disjoint union
    /// (integrated gradients stacks 25 copies of a graph: 37,500 vessel rows, 9.6 MB per [N, 64] tensor,
    /// several times a core's L2) each of those passes goes to memory. Here the target rows are processed in
    /// tiles of `messageLayerTileRows`: a tile's aggregates, its sum (one small sgemm per term into the tile),
    /// the LayerNorm, SiLU and residual are all computed while the tile is in cache, and the backward pass
    /// does the same per tile (LayerNorm/SiLU backward, dX = dZ W, each relation's dA = dZ W_k, its edge
    /// gradients and its scatter into the source rows) without [N, H] gradient temporaries.
    ///
    /// The fused path covers what integrated gradients and inference need: SiLU, x [N, H] with a square
    /// `weight`, and no parameter gradients (`Tensor.withFrozenParameters`, `Tensor.withoutGrad`, or
    /// parameters without `requiresGrad`). Otherwise (training, other activations) it runs the two ops
    /// `relationalLinear` and `residualLayerNorm` unchanged, bit for bit. The forward values equal the
    /// unfused ones (same products, sums and LayerNorm in the same order); gradients agree to rounding (the
    /// scatter adds in target-tile order rather than source order). The backward pass runs on the calling
    /// thread (its scatter into source rows has no owner per row); the forward pass is parallel over tiles.
    /// Gradients flow to x, every x_k and every edge weight. Traps, naming the shapes, when they do not fit.
    public static func residualMessageLayer(_ x: Tensor, weight: Tensor, bias: Tensor?, messages: [NeighborMessages],
                                            gamma: Tensor, beta: Tensor, eps: Float = 1e-5, activation: Activation) -> Tensor {
        residualMessageLayer(x, weight: weight, bias: bias, messages: messages, gamma: gamma, beta: beta, eps: eps,
                             activation: activation, tileRows: messageLayerTileRows)
    }

    /// `residualMessageLayer` with the tile height as a parameter (tests use small tiles to cross tile edges).
    static func residualMessageLayer(_ x: Tensor, weight: Tensor, bias: Tensor?, messages: [NeighborMessages],
                                     gamma: Tensor, beta: Tensor, eps: Float, activation: Activation, tileRows: Int) -> Tensor {
        let mode = GradMode.current
        let parameters = [weight, gamma, beta] + (bias.map { [$0] } ?? []) + messages.map(\.weight)
        guard activation == .silu, x.rank == 2, weight.rank == 2, weight.shape == [x.shape[1], x.shape[1]],
              !parameters.contains(where: { $0.tracked(mode) }) else {
            let sum = relationalLinear(x, weight: weight, bias: bias, messages: messages)
            return residualLayerNorm(x, sum, gamma: gamma, beta: beta, eps: eps, activation: activation)
        }
        let rows = x.shape[0], h = x.shape[1]
        precondition(gamma.count == h && beta.count == h,
                     shapeMismatchMessage("residualMessageLayer", x.shape, gamma.shape, detail: "gamma/beta must match the last axis"))
        if let b = bias { precondition(b.count == h, shapeMismatchMessage("residualMessageLayer bias", weight.shape, b.shape)) }
        NeighborMessages.checkShapes(messages, targetRows: rows, outDim: h, op: "residualMessageLayer")
        // A relation without edges contributes exactly 0 (as in relationalLinear).
        let active = messages.filter { $0.edges.count > 0 }
        let xTracked = x.tracked(mode)
        let sourceTracked = active.map { $0.x.tracked(mode) }
        let edgeTracked = active.map { $0.edgeWeight?.tracked(mode) ?? false }
        let recording = xTracked || sourceTracked.contains(true) || edgeTracked.contains(true)

        let out = Tensor(uninitializedShape: [rows, h])
        // Kept for the backward pass: the pre-LayerNorm sum, sigmoid of the LayerNorm output, mean and rstd.
        let saved: (sum: BufferOwner, sigmoid: BufferOwner, stats: BufferOwner)? = recording
            ? (BufferOwner(count: rows * h), BufferOwner(count: rows * h), BufferOwner(count: 2 * rows)) : nil
        // Multiplied-first relations (fewer source than target rows): P_k = x_k W_k^T over the source rows,
        // gathered into each tile; kept only if the edge-weight gradient needs it.
        let products: [BufferOwner?] = active.map { m in
            guard !aggregatesFirst(m.edges) else { return nil }
            let p = BufferOwner(count: m.edges.sourceRows * h)
            BLAS.sgemm(transB: true, m: m.edges.sourceRows, n: h, k: m.x.shape[1], a: m.x.data.baseAddress!,
                       b: m.weight.data.baseAddress!, c: p.buffer.baseAddress!)
            return p
        }
        let widest = active.map { $0.x.shape[1] }.max() ?? 0
        let X = x.data.baseAddress!, Y = out.data.baseAddress!, W = weight.data.baseAddress!
        let Gm = gamma.data.baseAddress!, Bt = beta.data.baseAddress!
        let tiles = (rows + tileRows - 1) / tileRows
        Parallel.forEach(tiles, minChunk: 1) { tileRange in
            let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * (h + widest))
            defer { scratch.deallocate() }
            for tile in tileRange {
                let r0 = tile * tileRows, n = min(tileRows, rows - r0)
                let Z = saved.map { $0.sum.buffer.baseAddress! + r0 * h } ?? scratch, A = scratch + tileRows * h
                if let b = bias { Kernels.broadcastRows(b.data.baseAddress!, into: Z, rows: n, cols: h) }
                BLAS.sgemm(split: false, transB: true, m: n, n: h, k: h, a: X + r0 * h, b: W, beta: bias == nil ? 0 : 1, c: Z)
                for (k, m) in active.enumerated() {
                    let d = m.x.shape[1]
                    if let p = products[k] {
                        gatherTile(m, rows: r0..<(r0 + n), from: p.buffer.baseAddress!, width: h, into: Z, accumulate: true)
                    } else {
                        gatherTile(m, rows: r0..<(r0 + n), from: m.x.data.baseAddress!, width: d, into: A, accumulate: false)
                        BLAS.sgemm(split: false, transB: true, m: n, n: h, k: d, a: A, b: m.weight.data.baseAddress!, beta: 1, c: Z)
                    }
                }
                // LayerNorm into the output rows, then SiLU and the residual in place: the same arithmetic as
                // residualLayerNormSiLU, on rows still in cache.
                let stats = saved?.stats.buffer.baseAddress
                Kernels.layerNormRows(Z, Y + r0 * h, gamma: Gm, beta: Bt, rows: n, cols: h, eps: eps,
                                      mean: stats.map { $0 + r0 }, rstd: stats.map { $0 + rows + r0 })
                let y = Y + r0 * h, res = X + r0 * h, sg = saved.map { $0.sigmoid.buffer.baseAddress! + r0 * h }
                Kernels.residualSiLUInPlace(y, residual: res, count: n * h, sigmoid: sg)
            }
        }
        guard let saved else { return out }
        // Parents: x, then per active relation x_k and its edge weight (parameters are constants here).
        var inputs = [x]
        for m in active { inputs.append(m.x); if let w = m.edgeWeight { inputs.append(w) } }
        let keptProducts = products.enumerated().map { k, p in edgeTracked[k] ? p : nil }
        record(out, inputs) { _ in
            { out in
                backwardMessageLayer(x, weight: weight, messages: active, gamma: gamma, beta: beta, saved: saved,
                                     products: keptProducts, outGrad: out.grad!.baseAddress!, tileRows: tileRows,
                                     xTracked: xTracked, sourceTracked: sourceTracked, edgeTracked: edgeTracked)
            }
        }
        return out
    }

    /// out[t - rows.lowerBound] (=|+=) sum over edges e into t of scale_t w_e src[source(e)] for the target
    /// rows t in `rows`: `gatherByTarget`'s arithmetic on one tile.
    @inline(__always)
    static func gatherTile(_ m: NeighborMessages, rows: Range<Int>, from src: UnsafePointer<Float>, width d: Int,
                           into out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        let e = m.edges, mean = m.reduce == .mean, W = m.edgeWeight?.data.baseAddress
        e.targetStart.withUnsafeBufferPointer { start in
        e.byTarget.withUnsafeBufferPointer { ids in
        e.source.withUnsafeBufferPointer { source in
        e.inverseInDegree.withUnsafeBufferPointer { inv in
            for t in rows {
                let scale = mean ? inv[t] : 1
                weightedRowSum(into: out + (t - rows.lowerBound) * d, accumulate: accumulate, width: d,
                               terms: Int(start[t])..<Int(start[t + 1])) { k in
                    let id = Int(ids[k])
                    return (src + Int(source[id]) * d, (W?[id] ?? 1) * scale)
                }
            }
        }}}}
    }

    /// The backward pass of the fused `residualMessageLayer`, tile by tile on the calling thread.
    static func backwardMessageLayer(_ x: Tensor, weight: Tensor, messages: [NeighborMessages], gamma: Tensor, beta: Tensor,
                                     saved: (sum: BufferOwner, sigmoid: BufferOwner, stats: BufferOwner), products: [BufferOwner?],
                                     outGrad G: UnsafeMutablePointer<Float>, tileRows: Int,
                                     xTracked: Bool, sourceTracked: [Bool], edgeTracked: [Bool]) {
        let rows = x.shape[0], h = x.shape[1]
        // Gradient buffers, once per distinct tensor (x may also be a relation's source, two relations may
        // share a source or an edge-weight tensor): zero-filled when fresh, then only added to.
        var destinations: [ObjectIdentifier: UnsafeMutablePointer<Float>] = [:]
        func destination(_ t: Tensor) -> UnsafeMutablePointer<Float> {
            if let p = destinations[ObjectIdentifier(t)] { return p }
            let (p, accumulate) = t.gradDestination()
            if !accumulate { p.update(repeating: 0, count: t.count) }
            destinations[ObjectIdentifier(t)] = p
            return p
        }
        let GX = xTracked ? destination(x) : nil
        let GS = messages.indices.map { k in sourceTracked[k] && aggregatesFirst(messages[k].edges) ? destination(messages[k].x) : nil }
        let GE = messages.indices.map { k in edgeTracked[k] ? destination(messages[k].edgeWeight!) : nil }
        // Multiplied-first relations with a source gradient: dP_k[s] = sum over s's edges of scale w dZ[t],
        // then dx_k += dP_k W_k after all tiles.
        let dProducts: [BufferOwner?] = messages.indices.map { k in
            guard sourceTracked[k] && !aggregatesFirst(messages[k].edges) else { return nil }
            let p = BufferOwner(count: messages[k].edges.sourceRows * h)
            p.buffer.update(repeating: 0)
            return p
        }
        let needDZ = xTracked || sourceTracked.contains(true) || edgeTracked.contains(true)
        guard needDZ else { return }
        let widest = messages.map { $0.x.shape[1] }.max() ?? 0
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: tileRows * (h + widest) + h)
        defer { scratch.deallocate() }
        let DZ = scratch, DA = scratch + tileRows * h, norm = DA + tileRows * widest
        let S = saved.sum.buffer.baseAddress!, SG = saved.sigmoid.buffer.baseAddress!
        let mean = saved.stats.buffer.baseAddress!, rstd = mean + rows
        let Gm = gamma.data.baseAddress!, Bt = beta.data.baseAddress!, W = weight.data.baseAddress!
        var r0 = 0
        while r0 < rows {
            let n = min(tileRows, rows - r0)
            // dZ = d(loss)/d(sum) through SiLU and LayerNorm (residualLayerNormSiLU's backward, no gamma/beta
            // sums): dz = g silu'(z) with z = n gamma + beta, n = (sum - mean) rstd.
            for i in 0..<n {
                let r = r0 + i
                let xr = S + r * h, g = G + r * h, sgr = SG + r * h, m = mean[r], s = rstd[r], dn = DZ + i * h
                let (sd, sdn) = Kernels.siluLayerNormRowBackward(x: xr, g: g, sigmoid: sgr, mean: m, rstd: s, gamma: Gm, beta: Bt,
                                                                 cols: h, norm: norm, dnorm: dn, dGamma: nil, dBeta: nil)
                var j = 0
                let dMean = sd / Float(h), dNormMean = sdn / Float(h)
                while j + 8 <= h {
                    Kernels.store8((Kernels.load8(dn + j) - dMean - Kernels.load8(norm + j) * dNormMean) * s, dn + j)
                    j += 8
                }
                while j < h { dn[j] = (dn[j] - dMean - norm[j] * dNormMean) * s; j += 1 }
            }
            if let GX {  // residual, then dX += dZ W
                Kernels.addScaled(GX + r0 * h, G + r0 * h, 1, count: n * h)
                BLAS.sgemm(split: false, m: n, n: h, k: h, a: DZ, b: W, beta: 1, c: GX + r0 * h)
            }
            for (k, m) in messages.enumerated() {
                let d = m.x.shape[1]
                if let p = products[k], let ge = GE[k], !aggregatesFirst(m.edges) {
                    // Y += aggregate(P): d w_e = scale_t dot(dZ[t], P[s]).
                    edgeGradientTile(m, rows: r0..<(r0 + n), targetGrad: DZ, sourceValues: p.buffer.baseAddress!, width: h, into: ge)
                }
                if aggregatesFirst(m.edges) {
                    guard GS[k] != nil || GE[k] != nil else { continue }
                    BLAS.sgemm(split: false, m: n, n: d, k: h, a: DZ, b: m.weight.data.baseAddress!, c: DA)  // dA = dZ W_k
                    if let ge = GE[k], let gs = GS[k] {  // one sweep over the tile's edges for both
                        edgeGradientAndScatterTile(m, rows: r0..<(r0 + n), targetGrad: DA, sourceValues: m.x.data.baseAddress!, width: d,
                                                   edgeGradient: ge, scatterInto: gs)
                    } else if let ge = GE[k] {
                        edgeGradientTile(m, rows: r0..<(r0 + n), targetGrad: DA, sourceValues: m.x.data.baseAddress!, width: d, into: ge)
                    } else if let gs = GS[k] {
                        scatterTile(m, rows: r0..<(r0 + n), from: DA, width: d, into: gs)
                    }
                } else if let dp = dProducts[k] {
                    scatterTile(m, rows: r0..<(r0 + n), from: DZ, width: h, into: dp.buffer.baseAddress!)
                }
            }
            r0 += n
        }
        for (k, m) in messages.enumerated() {
            guard let dp = dProducts[k] else { continue }
            // dx_k (=|+=) dP_k W_k; a fresh buffer is written, not zero-filled and added to.
            let gs: UnsafeMutablePointer<Float>, add: Bool
            if let p = destinations[ObjectIdentifier(m.x)] { (gs, add) = (p, true) } else {
                (gs, add) = m.x.gradDestination()
                destinations[ObjectIdentifier(m.x)] = gs
            }
            BLAS.sgemm(m: m.edges.sourceRows, n: m.x.shape[1], k: h, a: dp.buffer.baseAddress!, b: m.weight.data.baseAddress!,
                       beta: add ? 1 : 0, c: gs)
        }
    }

    /// Calls `body(local, id, sourceRow, scale)` for every edge `id` into a target t in `rows` (by target, in
    /// CSR order), with local = t - rows.lowerBound and scale = 1 / in-degree(t) for a mean, else 1 (the edge
    /// weight is not applied: each caller uses it or not).
    @inline(__always)
    static func forEachTileEdge(_ m: NeighborMessages, rows: Range<Int>, _ body: (_ local: Int, _ id: Int, _ sourceRow: Int, _ scale: Float) -> Void) {
        let e = m.edges, mean = m.reduce == .mean
        e.targetStart.withUnsafeBufferPointer { start in
        e.byTarget.withUnsafeBufferPointer { ids in
        e.source.withUnsafeBufferPointer { source in
        e.inverseInDegree.withUnsafeBufferPointer { inv in
            for t in rows {
                let scale = mean ? inv[t] : 1, local = t - rows.lowerBound
                for k in Int(start[t])..<Int(start[t + 1]) {
                    let id = Int(ids[k])
                    body(local, id, Int(source[id]), scale)
                }
            }
        }}}}
    }

    /// out[source(e)] += scale_t w_e g[t - rows.lowerBound] for every edge e into a target t in `rows`.
    @inline(__always)
    static func scatterTile(_ m: NeighborMessages, rows: Range<Int>, from g: UnsafePointer<Float>, width d: Int,
                            into out: UnsafeMutablePointer<Float>) {
        let W = m.edgeWeight?.data.baseAddress
        forEachTileEdge(m, rows: rows) { local, id, s, scale in
            Kernels.addScaled(out + s * d, g + local * d, (W?[id] ?? 1) * scale, count: d)
        }
    }

    /// `edgeGradientTile` and `scatterTile` (same g) in one sweep over the tile's edges.
    @inline(__always)
    static func edgeGradientAndScatterTile(_ m: NeighborMessages, rows: Range<Int>, targetGrad g: UnsafePointer<Float>,
                                           sourceValues X: UnsafePointer<Float>, width d: Int,
                                           edgeGradient gw: UnsafeMutablePointer<Float>, scatterInto out: UnsafeMutablePointer<Float>) {
        let W = m.edgeWeight?.data.baseAddress
        forEachTileEdge(m, rows: rows) { local, id, s, scale in
            let gt = g + local * d
            gw[id] += scale * Kernels.dot(gt, X + s * d, count: d)
            Kernels.addScaled(out + s * d, gt, (W?[id] ?? 1) * scale, count: d)
        }
    }

    /// gw[e] += scale_t dot(g[t - rows.lowerBound], sourceValues[source(e)]) for every edge e into a target
    /// t in `rows` (each edge has one target, so each entry is written by one tile).
    @inline(__always)
    static func edgeGradientTile(_ m: NeighborMessages, rows: Range<Int>, targetGrad g: UnsafePointer<Float>,
                                 sourceValues X: UnsafePointer<Float>, width d: Int, into gw: UnsafeMutablePointer<Float>) {
        forEachTileEdge(m, rows: rows) { local, id, s, scale in
            gw[id] += scale * Kernels.dot(g + local * d, X + s * d, count: d)
        }
    }
}
