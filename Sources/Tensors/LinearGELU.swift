import Common

extension Tensor {
    /// GELU(x W^T + b) in one op (GELU's tanh approximation, as `gelu()`): the transformer MLP's first
    /// layer. Equal to `linear(x, weight:, bias:).gelu()` up to rounding, but the product is activated in
    /// one pass and the tanh of every element is kept, so the backward pass evaluates no transcendental
    /// function (the unfused pair computes tanh twice per element and makes an extra [..., out] tensor).
    /// Memory: the pre-activation and the tanh ([..., out] each) are kept for the backward pass.
    /// x [..., in], weight [out, in], bias [out] or nil -> [..., out]. Traps, naming both shapes, on mismatch.
    public static func linearGELU(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        precondition(x.rank >= 1 && weight.rank == 2 && x.shape.last! == weight.shape[1],
                     shapeMismatchMessage("linearGELU", x.shape, weight.shape, detail: "x [..., in] needs weight [out, in]"))
        let kIn = weight.shape[1], n = weight.shape[0]
        if let b = bias { precondition(b.count == n, shapeMismatchMessage("linearGELU bias", weight.shape, b.shape)) }
        let m = x.count / max(kIn, 1)
        let out = Tensor(uninitializedShape: Array(x.shape.dropLast()) + [n])
        let saved = BufferOwner(count: 2 * m * n)  // pre-activation z, then tanh(u(z))
        let Z = saved.buffer.baseAddress!, TH = Z + m * n, Y = out.data.baseAddress!
        if let b = bias { Kernels.broadcastRows(b.data.baseAddress!, into: Z, rows: m, cols: n) }
        BLAS.sgemm(transB: true, m: m, n: n, k: kIn, a: x.data.baseAddress!, b: weight.data.baseAddress!,
                   beta: bias == nil ? 0 : 1, c: Z)
        Parallel.forEach(m * n, minChunk: elementwiseMinChunk) { r in
            for i in r {
                let z = Z[i]
                let t = Kernels.fastTanh(Kernels.geluScale * (z + 0.044715 * z * z * z))
                TH[i] = t
                Y[i] = 0.5 * z * (1 + t)
            }
        }
        let inputs = bias.map { [x, weight, $0] } ?? [x, weight]
        record(out, inputs) { flags in
            { out in
                let Z = saved.buffer.baseAddress!, TH = Z + m * n  // keeps `saved` alive with the closure
                let G = out.grad!.baseAddress!
                let dz = BufferOwner(count: m * n)  // dL/dz
                let DZ = dz.buffer.baseAddress!
                Parallel.forEach(m * n, minChunk: elementwiseMinChunk) { r in
                    for i in r {
                        let z = Z[i], t = TH[i]
                        let d = 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * Kernels.geluScale * (1 + 3 * 0.044715 * z * z)
                        DZ[i] = G[i] * d
                    }
                }
                accumulateLinearGradients(DZ, x: x, weight: weight, bias: bias, flags: flags, rows: m)
            }
        }
        return out
    }
}
