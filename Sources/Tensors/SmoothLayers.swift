import Common
import Dispatch

/// The SiLU forms of the fused GNN layers (`linear` + activation, `residualLayerNorm`), vectorised by hand.
///
/// SiLU is what makes GraphNet's default model smooth (integrated gradients converge with 50 points), and
/// its exp made the smooth model 1.38x slower to train than leaky ReLU with the generic fused kernels
/// (docs/EXPLANATIONS.md). Here every exp is 8-lane vector code, the linear layer keeps sigmoid(z) instead
/// of z (its backward is then exp-free: f'(z) = s + y (1 - s)), the residual LayerNorm keeps sigmoid(z) too,
/// and its backward skips the gamma/beta sums when those are frozen (integrated gradients).
extension Tensor {
    /// silu(x W^T + b) in one op: x [..., in], weight [out, in], bias [out] or nil -> [..., out].
    /// Equal to `linear(x, weight:, bias:).silu()` up to rounding (the product is x * (1 / (1 + e^-x))
    /// instead of x / (1 + e^-x)); gradients to x, weight and bias. Traps, naming both shapes, on mismatch.
    public static func linearSiLU(_ x: Tensor, weight: Tensor, bias: Tensor?) -> Tensor {
        let p = LinearOperands("linearSiLU", x: x, weight: weight, bias: bias)
        let m = p.rows, n = p.outputs
        let out = p.makeOutput()
        let Y = out.data.baseAddress!
        p.product(into: Y)
        // sigmoid(z) for the backward pass, only when a graph may be recorded.
        let sig: BufferOwner? = isGradEnabled ? BufferOwner(count: m * n) : nil
        let S = sig?.buffer.baseAddress
        Parallel.forEach(m * n, minChunk: elementwiseMinChunk) { r in
            Kernels.siluForward(Y + r.lowerBound, Y + r.lowerBound, sigmoid: S.map { $0 + r.lowerBound }, count: r.count)
        }
        record(out, p.recordedInputs) { flags in
            { out in
                let S = sig!.buffer.baseAddress!  // keeps the sigmoids alive with the closure
                let G = out.grad!.baseAddress!
                let dz = BufferOwner(count: m * n)
                let DZ = dz.buffer.baseAddress!
                Parallel.forEach(m * n, minChunk: elementwiseMinChunk) { r in
                    let o = r.lowerBound
                    Kernels.siluBackward(grad: G + o, output: Y + o, sigmoid: S + o, into: DZ + o, count: r.count)
                }
                p.accumulateGradients(DZ, flags: flags)
            }
        }
        return out
    }

    /// residual + silu(LayerNorm(x)): `residualLayerNorm(_:_:gamma:beta:eps:activation: .silu)`, vector code.
    static func residualLayerNormSiLU(_ residual: Tensor, _ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float) -> Tensor {
        let ln = LayerNormRows("residualLayerNorm", x: x, gamma: gamma, beta: beta)
        let rows = ln.rows, cols = ln.cols
        let out = Tensor(uninitializedShape: x.shape)
        let X = x.data.baseAddress!, R = residual.data.baseAddress!, Y = out.data.baseAddress!
        let Gm = gamma.data.baseAddress!, Bt = beta.data.baseAddress!
        // sigmoid(z) kept for the backward pass (only when a graph may be recorded): the backward then needs
        // no exp, which was most of its time.
        let sig: BufferOwner? = isGradEnabled ? BufferOwner(count: rows * cols) : nil
        let SG = sig?.buffer.baseAddress
        Parallel.forEach(rows, minChunk: ln.minRows) { r in
            // LayerNorm into the output rows, then SiLU and the residual in place (the rows are in L1).
            ln.normalize(r, X, into: Y, gamma: Gm, beta: Bt, eps: eps)
            let start = r.lowerBound * cols
            Kernels.residualSiLUInPlace(Y + start, residual: R + start, count: r.count * cols, sigmoid: SG.map { $0 + start })
        }
        record(out, [residual, x, gamma, beta]) { flags in
            { out in
                let mean = ln.mean, rstd = ln.rstd  // `ln` keeps the statistics alive with the closure
                let SG = sig!.buffer.baseAddress!  // and the sigmoids
                let G = out.grad!.baseAddress!
                let needParams = flags[2] || flags[3]
                ln.residualBackward(G, residual: residual, x: x, gamma: gamma, beta: beta, flags: flags) { r, at in
                    let norm = at.norm, dnorm = at.dnorm, dW = at.dGamma, dB = at.dBeta
                    let x = X + r * cols, g = G + r * cols, sgr = SG + r * cols, m = mean[r], s = rstd[r]
                    // dz = g silu'(z), z = n gamma + beta, n = (x - mean) rstd; sums for the LayerNorm backward.
                    let (sd, sdn) = Kernels.siluLayerNormRowBackward(x: x, g: g, sigmoid: sgr, mean: m, rstd: s, gamma: Gm, beta: Bt,
                                                                     cols: cols, norm: norm, dnorm: dnorm,
                                                                     dGamma: needParams ? dW : nil, dBeta: needParams ? dB : nil)
                    guard let dest = at.dx else { return }
                    let dnMean = sd / Float(cols), dnNormMean = sdn / Float(cols)
                    let gx = dest.buffer + r * cols
                    var j = 0
                    while j + 8 <= cols {
                        var v = (Kernels.load8(dnorm + j) - dnMean - Kernels.load8(norm + j) * dnNormMean) * s
                        if dest.accumulate { v += Kernels.load8(gx + j) }
                        Kernels.store8(v, gx + j)
                        j += 8
                    }
                    while j < cols {
                        let v = (dnorm[j] - dnMean - norm[j] * dnNormMean) * s
                        gx[j] = dest.accumulate ? gx[j] + v : v
                        j += 1
                    }
                }
            }
        }
        return out
    }
}
