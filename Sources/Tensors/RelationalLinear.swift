import Common

/// One relation's term in `Tensor.relationalLinear`: messages from the rows of `x` along `edges`, each
/// multiplied by its edge weight, reduced per target row, then mapped by `weight` [out, in].
public struct NeighborMessages {
    /// Source node states [edges.sourceRows, in].
    public var x: Tensor
    /// [out, in] (PyTorch layout, no bias).
    public var weight: Tensor
    /// The relation, sorted both ways (`EdgeIndex`); its targets are the output rows.
    public var edges: EdgeIndex
    /// Per-edge factor [E] in `edges` order (nil = all 1), e.g. the mask integrated gradients differentiates.
    public var edgeWeight: Tensor?
    /// Sum or mean (mean divides by the in-degree, not by the sum of weights, as `aggregateNeighbors`).
    public var reduce: NeighborReduction

    /// A relation term; see the properties.
    public init(x: Tensor, weight: Tensor, edges: EdgeIndex, edgeWeight: Tensor? = nil, reduce: NeighborReduction = .mean) {
        self.x = x; self.weight = weight; self.edges = edges; self.edgeWeight = edgeWeight; self.reduce = reduce
    }
}

extension Tensor {
    /// A SAGE-style typed update in one op: y = x W^T + b + sum_k reduce_{e -> i} (w_e x_k[source(e)]) W_k^T,
    /// x [N, in] -> y [N, out], every relation's targets being the N rows of x.
    ///
    /// Equal (up to rounding) to `linear(x) + sum_k linear(aggregateNeighbors(x_k, ...))`, without the
    /// per-relation [N, out] products, their sums and zero-filled gradients. Because the weight is linear,
    /// each relation is either aggregated first and then multiplied (N target rows go through the sgemm) or
    /// multiplied first and then aggregated (source rows go through it), whichever has fewer rows: a
    /// relation from 32 FAZ nodes into 48,000 vessel nodes costs a [32, in] product, not a [48,000, in] one.
    /// Gradients flow to x, the weights, the bias, every x_k and every edge weight (hand-written backward).
    /// Traps, naming the shapes, when they do not fit.
    public static func relationalLinear(_ x: Tensor, weight: Tensor, bias: Tensor?, messages: [NeighborMessages]) -> Tensor {
        precondition(x.rank == 2 && weight.rank == 2 && x.shape[1] == weight.shape[1],
                     shapeMismatchMessage("relationalLinear", x.shape, weight.shape, detail: "x [N, in] needs weight [out, in]"))
        let rows = x.shape[0], inDim = x.shape[1], outDim = weight.shape[0]
        if let b = bias { precondition(b.count == outDim, shapeMismatchMessage("relationalLinear bias", weight.shape, b.shape)) }
        NeighborMessages.checkShapes(messages, targetRows: rows, outDim: outDim, op: "relationalLinear")
        let out = Tensor(uninitializedShape: [rows, outDim])
        let Y = out.data.baseAddress!
        if let b = bias {
            Kernels.broadcastRows(b.data.baseAddress!, into: Y, rows: rows, cols: outDim)
        }
        BLAS.sgemm(transB: true, m: rows, n: outDim, k: inDim, a: x.data.baseAddress!, b: weight.data.baseAddress!,
                   beta: bias == nil ? 0 : 1, c: Y)
        // Per message: the [N, in_k] aggregate (aggregate first) or the [N_k, out] product (multiply first),
        // kept for the backward pass.
        var saved: [BufferOwner?] = []
        for m in messages {
            let e = m.edges, d = m.x.shape[1]
            guard e.count > 0 else { saved.append(nil); continue }
            let W = m.edgeWeight?.data.baseAddress
            if aggregatesFirst(e) {
                let a = BufferOwner(count: rows * d)
                gatherByTarget(e, from: m.x.data.baseAddress!, width: d, weights: W, mean: m.reduce == .mean,
                               into: a.buffer.baseAddress!, accumulate: false)
                BLAS.sgemm(transB: true, m: rows, n: outDim, k: d, a: a.buffer.baseAddress!, b: m.weight.data.baseAddress!,
                           beta: 1, c: Y)
                saved.append(a)
            } else {
                let p = BufferOwner(count: e.sourceRows * outDim)
                BLAS.sgemm(transB: true, m: e.sourceRows, n: outDim, k: d, a: m.x.data.baseAddress!,
                           b: m.weight.data.baseAddress!, c: p.buffer.baseAddress!)
                gatherByTarget(e, from: p.buffer.baseAddress!, width: outDim, weights: W, mean: m.reduce == .mean,
                               into: Y, accumulate: true)
                saved.append(p)
            }
        }
        var inputs = [x, weight]
        if let b = bias { inputs.append(b) }
        let first = inputs.count
        for m in messages { inputs.append(m.x); inputs.append(m.weight); if let w = m.edgeWeight { inputs.append(w) } }
        record(out, inputs) { flags in
            { out in
                let G = out.grad!.baseAddress!
                if flags[0] {  // dX += dY W
                    let (gx, acc) = x.gradDestination()
                    BLAS.sgemm(m: rows, n: inDim, k: outDim, a: G, b: weight.data.baseAddress!, beta: acc ? 1 : 0, c: gx)
                }
                if flags[1] {  // dW += dY^T X
                    let (gw, acc) = weight.gradDestination()
                    BLAS.sgemm(transA: true, m: outDim, n: inDim, k: rows, a: G, b: x.data.baseAddress!, beta: acc ? 1 : 0, c: gw)
                }
                if let b = bias, flags[2] { columnSums(G, rows: rows, cols: outDim, into: b.gradDestination()) }
                var f = first
                for (k, m) in messages.enumerated() {
                    let gx = flags[f], gw = flags[f + 1], gm = m.edgeWeight != nil && flags[f + 2]
                    f += m.edgeWeight != nil ? 3 : 2
                    // A relation without edges contributed 0: nothing to propagate.
                    guard let s = saved[k] else { continue }
                    backwardMessage(m, saved: s.buffer.baseAddress!, outGrad: G, rows: rows, outDim: outDim,
                                    gradX: gx, gradWeight: gw, gradEdge: gm)
                }
            }
        }
        return out
    }

    /// Whether a relation is aggregated before its product (fewer target than source rows go through sgemm).
    static func aggregatesFirst(_ e: EdgeIndex) -> Bool { e.targetRows <= e.sourceRows }

    /// Backward pass of one relation term of `relationalLinear`; G = dL/dY [rows, outDim].
    static func backwardMessage(_ m: NeighborMessages, saved S: UnsafeMutablePointer<Float>, outGrad G: UnsafeMutablePointer<Float>,
                                rows: Int, outDim: Int, gradX: Bool, gradWeight: Bool, gradEdge: Bool) {
        let e = m.edges, d = m.x.shape[1], X = m.x.data.baseAddress!, Wk = m.weight.data.baseAddress!
        let mean = m.reduce == .mean, W = m.edgeWeight?.data.baseAddress
        if aggregatesFirst(e) {
            // Y += A Wk^T with A [rows, d] = aggregate(X); S holds A.
            if gradWeight {  // dWk += dY^T A
                let (g, acc) = m.weight.gradDestination()
                BLAS.sgemm(transA: true, m: outDim, n: d, k: rows, a: G, b: S, beta: acc ? 1 : 0, c: g)
            }
            guard gradX || gradEdge else { return }
            let dA = BufferOwner(count: rows * d)  // dA = dY Wk
            BLAS.sgemm(m: rows, n: d, k: outDim, a: G, b: Wk, c: dA.buffer.baseAddress!)
            if gradX && gradEdge {  // one pass over the edges for both (each dA row is read once per edge)
                let (g, acc) = m.x.gradDestination()
                scatterBySource(e, from: dA.buffer.baseAddress!, width: d, weights: W, mean: mean, into: g, accumulate: acc,
                                edgeGradient: (sourceValues: UnsafePointer(X), into: m.edgeWeight!))
            } else if gradX {
                let (g, acc) = m.x.gradDestination()
                scatterBySource(e, from: dA.buffer.baseAddress!, width: d, weights: W, mean: mean, into: g, accumulate: acc)
            } else if gradEdge {
                edgeWeightGradient(e, targetGrad: dA.buffer.baseAddress!, sourceValues: X, width: d, mean: mean, into: m.edgeWeight!)
            }
        } else {
            // Y += aggregate(P) with P = X Wk^T [N_k, outDim]; S holds P.
            if gradX || gradWeight {
                let dP = BufferOwner(count: e.sourceRows * outDim)  // dP[s] = sum over s's edges of scale w dY[t]
                let DP = dP.buffer.baseAddress!
                scatterBySource(e, from: G, width: outDim, weights: W, mean: mean, into: DP, accumulate: false,
                                edgeGradient: gradEdge ? (sourceValues: UnsafePointer(S), into: m.edgeWeight!) : nil)
                if gradWeight {  // dWk += dP^T X
                    let (g, acc) = m.weight.gradDestination()
                    BLAS.sgemm(transA: true, m: outDim, n: d, k: e.sourceRows, a: DP, b: X, beta: acc ? 1 : 0, c: g)
                }
                if gradX {  // dX += dP Wk
                    let (g, acc) = m.x.gradDestination()
                    BLAS.sgemm(m: e.sourceRows, n: d, k: outDim, a: DP, b: Wk, beta: acc ? 1 : 0, c: g)
                }
            }
            else if gradEdge { edgeWeightGradient(e, targetGrad: G, sourceValues: S, width: outDim, mean: mean, into: m.edgeWeight!) }
        }
    }

    /// out[t] (=|+=) sum over edges e into t of scale_t w_e src[source(e)], rows of `width`; parallel over
    /// target rows, each written by one thread.
    static func gatherByTarget(_ e: EdgeIndex, from src: UnsafePointer<Float>, width d: Int, weights W: UnsafePointer<Float>?,
                               mean: Bool, into out: UnsafeMutablePointer<Float>, accumulate: Bool) {
        e.targetStart.withUnsafeBufferPointer { start in
        e.byTarget.withUnsafeBufferPointer { ids in
        e.source.withUnsafeBufferPointer { source in
        e.inverseInDegree.withUnsafeBufferPointer { inv in
            let avgDegree = max(1, e.count / max(e.targetRows, 1))
            Parallel.forEach(e.targetRows, minChunk: max(1, elementwiseMinChunk / (d * avgDegree))) { r in
                for t in r {
                    let scale = mean ? inv[t] : 1
                    weightedRowSum(into: out + t * d, accumulate: accumulate, width: d, terms: Int(start[t])..<Int(start[t + 1])) { k in
                        let id = Int(ids[k])
                        return (src + Int(source[id]) * d, (W?[id] ?? 1) * scale)
                    }
                }
            }
        }}}}
    }

    /// out[s] (=|+=) sum over edges e out of s of scale_target(e) w_e g[target(e)]: the transpose of
    /// `gatherByTarget`, parallel over source rows.
    ///
    /// With `edgeGradient`, also d(loss)/d(w_e) (=|+=) scale_t dot(g[t], sourceValues[s]) for every edge
    /// s -> t, as `edgeWeightGradient` computes it, in the same sweep: the g rows of s's edges are read
    /// right before they are summed (so from cache), and sourceValues[s] once per source row instead of
    /// once per edge. Each edge belongs to one source row, so threads write disjoint gradient entries.
    static func scatterBySource(_ e: EdgeIndex, from g: UnsafePointer<Float>, width d: Int, weights W: UnsafePointer<Float>?,
                                mean: Bool, into out: UnsafeMutablePointer<Float>, accumulate: Bool,
                                edgeGradient: (sourceValues: UnsafePointer<Float>, into: Tensor)? = nil) {
        let edgeDest = edgeGradient.map { $0.into.gradDestination() }
        e.sourceStart.withUnsafeBufferPointer { start in
        e.bySource.withUnsafeBufferPointer { ids in
        e.target.withUnsafeBufferPointer { target in
        e.inverseInDegree.withUnsafeBufferPointer { inv in
            let avgDegree = max(1, e.count / max(e.sourceRows, 1))
            Parallel.forEach(e.sourceRows, minChunk: max(1, elementwiseMinChunk / (d * avgDegree))) { r in
                for s in r {
                    if let edgeGradient, let dest = edgeDest {
                        let gw = dest.buffer, acc = dest.accumulate, xs = edgeGradient.sourceValues + s * d
                        for k in Int(start[s])..<Int(start[s + 1]) {
                            let id = Int(ids[k]), t = Int(target[id])
                            let v = (mean ? inv[t] : 1) * Kernels.dot(g + t * d, xs, count: d)
                            gw[id] = acc ? gw[id] + v : v
                        }
                    }
                    weightedRowSum(into: out + s * d, accumulate: accumulate, width: d, terms: Int(start[s])..<Int(start[s + 1])) { k in
                        let id = Int(ids[k]), t = Int(target[id])
                        return (g + t * d, (W?[id] ?? 1) * (mean ? inv[t] : 1))
                    }
                }
            }
        }}}}
    }

    /// y (=|+=) sum over `terms` of w_k x_k, with (x_k, w_k) = term(k): rows of `width` floats. Columns go in
    /// blocks of 32 held in registers across all terms (one load and store of y per block instead of one
    /// per term); terms are added in order, so the result equals a sequential y += w_k x_k.
    @inline(__always)
    static func weightedRowSum(into y: UnsafeMutablePointer<Float>, accumulate: Bool, width d: Int, terms: Range<Int>,
                               _ term: (Int) -> (UnsafePointer<Float>, Float)) {
        typealias V8 = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V8 { UnsafeRawPointer(p).loadUnaligned(as: V8.self) }
        @inline(__always) func store(_ v: V8, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self) }
        var c = 0
        while c + 32 <= d {
            var a0 = V8(), a1 = V8(), a2 = V8(), a3 = V8()
            if accumulate { a0 = load(y + c); a1 = load(y + c + 8); a2 = load(y + c + 16); a3 = load(y + c + 24) }
            for k in terms {
                let (x, w) = term(k)
                let p = x + c
                a0 += w * load(p); a1 += w * load(p + 8); a2 += w * load(p + 16); a3 += w * load(p + 24)
            }
            store(a0, y + c); store(a1, y + c + 8); store(a2, y + c + 16); store(a3, y + c + 24)
            c += 32
        }
        guard c < d else { return }
        if !accumulate { (y + c).update(repeating: 0, count: d - c) }
        for k in terms {
            let (x, w) = term(k)
            Kernels.addScaled(y + c, x + c, w, count: d - c)
        }
    }

    /// d(loss)/d(w_e) (=|+=) scale_t dot(targetGrad[t], sourceValues[s]) for every edge s -> t.
    static func edgeWeightGradient(_ e: EdgeIndex, targetGrad G: UnsafePointer<Float>, sourceValues X: UnsafePointer<Float>,
                                   width d: Int, mean: Bool, into w: Tensor) {
        let (gw, acc) = w.gradDestination()
        e.source.withUnsafeBufferPointer { source in
        e.target.withUnsafeBufferPointer { target in
        e.inverseInDegree.withUnsafeBufferPointer { inv in
            Parallel.forEach(e.count, minChunk: max(1, elementwiseMinChunk / d)) { r in
                for id in r {
                    let t = Int(target[id])
                    let v = (mean ? inv[t] : 1) * Kernels.dot(G + t * d, X + Int(source[id]) * d, count: d)
                    gw[id] = acc ? gw[id] + v : v
                }
            }
        }}}
    }

    /// Column sums of G [rows, cols] written (or added) into `dest`; rows split across cores with private
    /// partial sums, merged in a fixed order (deterministic).
    static func columnSums(_ G: UnsafePointer<Float>, rows: Int, cols: Int,
                           into dest: (buffer: UnsafeMutablePointer<Float>, accumulate: Bool)) {
        let parts = max(1, min(Parallel.threadCount, rows * cols / elementwiseMinChunk))
        let partial = BufferOwner(count: parts * cols)
        let P = partial.buffer.baseAddress!
        Parallel.forEach(parts, minChunk: 1) { pr in
            for p in pr {
                let acc = P + p * cols
                acc.update(repeating: 0, count: cols)
                for r in (p * rows / parts)..<((p + 1) * rows / parts) { Kernels.addScaled(acc, G + r * cols, 1, count: cols) }
            }
        }
        let (D, add) = dest
        for j in 0..<cols { D[j] = add ? D[j] + P[j] : P[j] }
        for p in 1..<parts { for j in 0..<cols { D[j] += P[p * cols + j] } }
    }
}

extension NeighborMessages {
    /// Preconditions (programmer errors) of an op summing `messages` into [targetRows, outDim]: each relation's
    /// weight is [outDim, in_k], its edges run from the rows of x_k to the target rows, and its edge weights
    /// (if any) have one entry per edge. `op` names the op in the message.
    static func checkShapes(_ messages: [NeighborMessages], targetRows rows: Int, outDim: Int, op: String) {
        for m in messages {
            precondition(m.x.rank == 2 && m.weight.shape == [outDim, m.x.shape[1]],
                         Tensor.shapeMismatchMessage("\(op) message", m.x.shape, m.weight.shape, detail: "x_k [N_k, in_k] needs weight [\(outDim), in_k]"))
            precondition(m.edges.targetRows == rows && m.edges.sourceRows == m.x.shape[0],
                         Tensor.shapeMismatchMessage("\(op) edges", [m.edges.sourceRows, m.edges.targetRows], [m.x.shape[0], rows],
                                              detail: "edges must run from the rows of x_k to the rows of x"))
            if let w = m.edgeWeight { precondition(w.count == m.edges.count, Tensor.shapeMismatchMessage("\(op) edge weights", w.shape, [m.edges.count])) }
        }
    }
}
