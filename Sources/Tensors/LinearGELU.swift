import Common

extension Tensor {
    /// GELU(x W^T + b) in one op (GELU's tanh approximation, as `gelu()`): the transformer MLP's first
    /// layer. Equal to `linear(x, weight:, bias:).gelu()` up to rounding, but the product is activated in
    /// one pass and the tanh of every element is kept, so the backward pass evaluates no transcendental
    /// function (the unfused pair computes tanh twice per element and makes an extra [..., out] tensor).
    /// Memory: the pre-activation and the tanh ([..., out] each) are kept for the backward pass.
    /// x [..., in], weight [out, in], bias [out] or nil -> [..., out]. Traps, naming both shapes, on mismatch.
    public static func linearGELU(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let p = LinearOperands("linearGELU", x: x, weight: weight, bias: bias)
        let m = p.rows, n = p.outputs
        let out = p.makeOutput()
        let Y = out.data.baseAddress!
        // Without a graph (inference) nothing is kept: the product goes into the output and is activated in
        // place. With one, the pre-activation z and tanh(u(z)) are kept for the backward pass.
        let saved: BufferOwner? = isGradEnabled ? BufferOwner(count: 2 * m * n) : nil
        let Z = saved?.buffer.baseAddress ?? Y
        p.product(into: Z)
        if let TH = saved.map({ $0.buffer.baseAddress! + m * n }) {
            Parallel.forEach(m * n, minChunk: elementwiseMinChunk) { r in
                // Eight lanes at a time (the scalar loop does not vectorise), the same arithmetic per element.
                var i = r.lowerBound
                while i + 8 <= r.upperBound {
                    let z = Kernels.load8(Z + i), t = Kernels.geluTanh(z)
                    Kernels.store8(t, TH + i)
                    Kernels.store8(0.5 * z * (1 + t), Y + i)
                    i += 8
                }
                while i < r.upperBound {
                    let z = Z[i]
                    let t = Kernels.fastTanh(Kernels.geluScale * (z + 0.044715 * z * z * z))
                    TH[i] = t
                    Y[i] = 0.5 * z * (1 + t)
                    i += 1
                }
            }
        } else {
            Parallel.forEach(m * n, minChunk: elementwiseMinChunk) { r in
                Kernels.geluVector(Y + r.lowerBound, Y + r.lowerBound, count: r.count)
            }
        }
        record(out, p.recordedInputs) { flags in
            { out in
                let Z = saved!.buffer.baseAddress!, TH = Z + m * n  // keeps `saved` alive with the closure
                let G = out.grad!.baseAddress!
                let dz = BufferOwner(count: m * n)  // dL/dz
                let DZ = dz.buffer.baseAddress!
                let c3: Float = 3 * 0.044715
                Parallel.forEach(m * n, minChunk: elementwiseMinChunk) { r in
                    var i = r.lowerBound
                    while i + 8 <= r.upperBound {
                        // The scalar expression below, spelled out in its evaluation order for the type checker.
                        let z = Kernels.load8(Z + i), t = Kernels.load8(TH + i)
                        let one = SIMD8<Float>(repeating: 1), half = SIMD8<Float>(repeating: 0.5)
                        let a: SIMD8<Float> = half * (one + t)
                        let sech2: SIMD8<Float> = one - t * t
                        let cz: SIMD8<Float> = c3 * z
                        let q: SIMD8<Float> = one + cz * z
                        let b1: SIMD8<Float> = (half * z) * sech2
                        let b: SIMD8<Float> = (b1 * Kernels.geluScale) * q
                        Kernels.store8(Kernels.load8(G + i) * (a + b), DZ + i)
                        i += 8
                    }
                    while i < r.upperBound {
                        let z = Z[i], t = TH[i]
                        let d = 0.5 * (1 + t) + 0.5 * z * (1 - t * t) * Kernels.geluScale * (1 + c3 * z * z)
                        DZ[i] = G[i] * d
                        i += 1
                    }
                }
                p.accumulateGradients(DZ, flags: flags)
            }
        }
        return out
    }
}
