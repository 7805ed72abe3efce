import Common

/// Fused causal multi-head self-attention (the llm.c layer), with every product an sgemm on strided views.
extension Tensor {
    /// qkv [B, T, 3C] (query, key, value blocks of C = heads * headDim along the last axis) -> [B, T, C]:
    /// per head, softmax(Q K^T / sqrt(headDim) with future positions masked) V. No copies of Q, K, V: each
    /// head is addressed inside qkv with a row stride of 3C. Caches the attention probabilities
    /// (B * heads * T * T floats) for the backward pass.
    public static func causalSelfAttention(_ qkv: Tensor, heads: Int) -> Tensor {
        precondition(qkv.rank == 3 && qkv.shape[2] % (3 * heads) == 0,
                     "causalSelfAttention: qkv must be [B, T, 3 * heads * headDim], got \(qkv.shape) with \(heads) heads")
        let (b, t, c3) = (qkv.shape[0], qkv.shape[1], qkv.shape[2])
        let c = c3 / 3, hd = c / heads
        let scale = 1 / Float(hd).squareRoot()
        let out = Tensor(uninitializedShape: [b, t, c])
        let att = BufferOwner(count: b * heads * t * t)
        let QKV = qkv.data.baseAddress!, O = out.data.baseAddress!
        // Each (batch, head) pair is independent: run them on the cores when OpenBLAS is single-threaded
        // (two layers of threads would oversubscribe the cores and thrash OpenBLAS's thread pool).
        let perCore = BLAS.threadCount == 1 ? 1 : b * heads
        Parallel.forEach(b * heads, minChunk: perCore) { range in
            for bh in range {
                let bi = bh / heads, h = bh % heads
                let base = QKV + bi * t * c3 + h * hd
                let P = att.buffer.baseAddress! + bh * t * t
                // S = scale * Q K^T  [T, T]
                BLAS.sgemm(split: false, transB: true, m: t, n: t, k: hd, alpha: scale, a: base, lda: c3, b: base + c, ldb: c3, c: P)
                Kernels.softmaxRowsVector(P, P, rows: t, cols: t, causalOffset: 0)
                // out_h = P V  [T, hd], written into the head's columns of out.
                BLAS.sgemm(split: false, m: t, n: hd, k: t, a: P, b: base + 2 * c, ldb: c3, c: O + bi * t * c + h * hd, ldc: c)
            }
        }
        record(out, [qkv]) { _ in
            { out in
                let G = out.grad!.baseAddress!, GQKV = qkv.gradBuffer().baseAddress!
                Parallel.forEach(b * heads, minChunk: perCore) { range in
                    let scratch = BufferOwner(count: t * t)
                    let dP = scratch.buffer.baseAddress!
                    for bh in range {
                        let bi = bh / heads, h = bh % heads
                        let base = QKV + bi * t * c3 + h * hd, gbase = GQKV + bi * t * c3 + h * hd
                        let P = att.buffer.baseAddress! + bh * t * t
                        let g = G + bi * t * c + h * hd
                        // dP = dOut V^T [T, T]; dV += P^T dOut [T, hd]
                        BLAS.sgemm(split: false, transB: true, m: t, n: t, k: hd, a: g, lda: c, b: base + 2 * c, ldb: c3, c: dP)
                        BLAS.sgemm(split: false, transA: true, m: t, n: hd, k: t, a: P, b: g, ldb: c, beta: 1, c: gbase + 2 * c, ldc: c3)
                        // dS = P * (dP - rowsum(dP * P)); masked entries (j > i) have P = 0, so dS is 0 there.
                        for i in 0..<t {
                            let p = P + i * t, d = dP + i * t, v = i + 1
                            let dot = Kernels.dot(p, d, count: v)
                            var j = 0
                            while j + 8 <= v {
                                Kernels.store8(Kernels.load8(p + j) * (Kernels.load8(d + j) - dot), d + j)
                                j += 8
                            }
                            while j < v { d[j] = p[j] * (d[j] - dot); j += 1 }
                            if v < t { (d + v).update(repeating: 0, count: t - v) }
                        }
                        // dQ += scale dS K; dK += scale dS^T Q
                        BLAS.sgemm(split: false, m: t, n: hd, k: t, alpha: scale, a: dP, b: base + c, ldb: c3, beta: 1, c: gbase, ldc: c3)
                        BLAS.sgemm(split: false, transA: true, m: t, n: hd, k: t, alpha: scale, a: dP, b: base, ldb: c3, beta: 1,
                                   c: gbase + c, ldc: c3)
                    }
                }
            }
        }
        return out
    }
}
