/// Matrix products through `cblas_sgemm`; transposes are sgemm flags, never materialised.
extension Tensor {
    /// a [..., K] times b [K, N] -> [..., N] (or b [N, K] used transposed when `transposeB`).
    /// Leading dimensions of `a` are flattened into rows, so [B, T, C] x [C, N] works directly.
    /// Traps, naming both shapes, if the inner dimensions differ.
    public static func matmul(_ a: Tensor, _ b: Tensor, transposeB: Bool = false) -> Tensor {
        precondition(a.rank >= 1 && b.rank == 2, shapeMismatchMessage("matmul", a.shape, b.shape,
                     detail: "need a [..., K] and b 2-D"))
        let k = a.shape.last!
        let bk = transposeB ? b.shape[1] : b.shape[0]
        let n = transposeB ? b.shape[0] : b.shape[1]
        precondition(k == bk, shapeMismatchMessage("matmul", a.shape, b.shape,
                     detail: "inner dimensions \(k) and \(bk) differ\(transposeB ? " (b transposed)" : "")"))
        let m = a.count / max(k, 1)
        let out = Tensor(uninitializedShape: Array(a.shape.dropLast()) + [n])
        BLAS.sgemm(transB: transposeB, m: m, n: n, k: k, a: a.data.baseAddress!, b: b.data.baseAddress!,
                   c: out.data.baseAddress!)
        record(out, [a, b]) { flags in
            let (ga, gb) = (flags[0], flags[1])
            return { out in
                let G = out.grad!.baseAddress!
                if ga {
                    // dA [M,K] += dC [M,N] * op(B)^T
                    BLAS.sgemm(transB: !transposeB, m: m, n: k, k: n, a: G, b: b.data.baseAddress!,
                               beta: 1, c: a.gradBuffer().baseAddress!)
                }
                if gb {
                    if transposeB {
                        // B [N,K]: dB += dC^T [N,M] * A [M,K]
                        BLAS.sgemm(transA: true, m: n, n: k, k: m, a: G, b: a.data.baseAddress!,
                                   beta: 1, c: b.gradBuffer().baseAddress!)
                    } else {
                        // B [K,N]: dB += A^T [K,M] * dC [M,N]
                        BLAS.sgemm(transA: true, m: k, n: n, k: m, a: a.data.baseAddress!, b: G,
                                   beta: 1, c: b.gradBuffer().baseAddress!)
                    }
                }
            }
        }
        return out
    }

    /// Fully connected layer in PyTorch layout: x [..., in] * weight[out, in]^T + bias[out] -> [..., out].
    /// One fused op (one sgemm forward, two backward) so a layer costs little beyond its matmuls.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let p = LinearOperands("linear", x: x, weight: weight, bias: bias)
        let out = p.makeOutput()
        p.product(into: out.data.baseAddress!)
        // No activation: dL/dz is the output's gradient itself.
        record(out, p.recordedInputs) { flags in { out in p.accumulateGradients(out.grad!.baseAddress!, flags: flags) } }
        return out
    }

    /// Batched product: a [B, M, K] * b [B, K, N] -> [B, M, N]. With `transposeA`, a is stored [B, K, M];
    /// with `transposeB`, b is stored [B, N, K]. Traps, naming both shapes, on mismatch.
    public static func bmm(_ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false) -> Tensor {
        precondition(a.rank == 3 && b.rank == 3 && a.shape[0] == b.shape[0],
                     shapeMismatchMessage("bmm", a.shape, b.shape, detail: "need [B, M, K] and [B, K, N]"))
        let batch = a.shape[0]
        let m = transposeA ? a.shape[2] : a.shape[1]
        let k = transposeA ? a.shape[1] : a.shape[2]
        let bk = transposeB ? b.shape[2] : b.shape[1]
        let n = transposeB ? b.shape[1] : b.shape[2]
        precondition(k == bk, shapeMismatchMessage("bmm", a.shape, b.shape, detail: "inner dimensions \(k) and \(bk) differ"))
        let out = Tensor(uninitializedShape: [batch, m, n])
        let sa = m * k, sb = k * n, sc = m * n
        for i in 0..<batch {
            BLAS.sgemm(transA: transposeA, transB: transposeB, m: m, n: n, k: k,
                       a: a.data.baseAddress! + i * sa, b: b.data.baseAddress! + i * sb,
                       c: out.data.baseAddress! + i * sc)
        }
        record(out, [a, b]) { flags in
            let (ga, gb) = (flags[0], flags[1])
            return { out in
                let G = out.grad!.baseAddress!
                let A = a.data.baseAddress!, B = b.data.baseAddress!
                let GA = ga ? a.gradBuffer().baseAddress! : nil
                let GB = gb ? b.gradBuffer().baseAddress! : nil
                for i in 0..<batch {
                    let g = G + i * sc, ai = A + i * sa, bi = B + i * sb
                    if let GA {
                        // C = op(A) op(B). d op(A) = dC op(B)^T. Stored A is op(A) or its transpose.
                        if transposeA {  // A stored [K,M]: dA += op(B) dC^T
                            BLAS.sgemm(transA: transposeB, transB: true, m: k, n: m, k: n, a: bi, b: g,
                                       beta: 1, c: GA + i * sa)
                        } else {         // A stored [M,K]: dA += dC op(B)^T
                            BLAS.sgemm(transB: !transposeB, m: m, n: k, k: n, a: g, b: bi, beta: 1, c: GA + i * sa)
                        }
                    }
                    if let GB {
                        if transposeB {  // B stored [N,K]: dB += dC^T op(A)
                            BLAS.sgemm(transA: true, transB: transposeA, m: n, n: k, k: m, a: g, b: ai,
                                       beta: 1, c: GB + i * sb)
                        } else {         // B stored [K,N]: dB += op(A)^T dC
                            BLAS.sgemm(transA: !transposeA, m: k, n: n, k: m, a: ai, b: g, beta: 1, c: GB + i * sb)
                        }
                    }
                }
            }
        }
        return out
    }
}
