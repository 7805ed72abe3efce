import Common
import Dispatch

extension Tensor {
    /// residual + act(LayerNorm(x)) in one op: the update of a residual message-passing layer.
    ///
    /// Equal to `residual + activation.apply(layerNorm(x, gamma:, beta:, eps:))` (same arithmetic per
    /// element), without the normalised and activated [N, D] intermediates and their gradient buffers; the
    /// backward pass recomputes the normalised row from x and the saved mean and 1/std.
    /// x and residual [..., D] of equal shape; gamma, beta [D]. Traps, naming the shapes, on mismatch.
    public static func residualLayerNorm(_ residual: Tensor, _ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float = 1e-5,
                                         activation: Activation) -> Tensor {
        precondition(residual.shape == x.shape, shapeMismatchMessage("residualLayerNorm", residual.shape, x.shape))
        switch activation {  // one specialisation per activation: no per-element dispatch
        case .relu: return residualLayerNorm(residual, x, gamma: gamma, beta: beta, eps: eps, kernel: ReLUKernel())
        case .leakyRelu: return residualLayerNorm(residual, x, gamma: gamma, beta: beta, eps: eps, kernel: LeakyReLUKernel(slope: 0.01))
        case .elu: return residualLayerNorm(residual, x, gamma: gamma, beta: beta, eps: eps, kernel: ELUKernel(alpha: 1))
        case .gelu: return residualLayerNorm(residual, x, gamma: gamma, beta: beta, eps: eps, kernel: GELUKernel())
        case .tanh: return residualLayerNorm(residual, x, gamma: gamma, beta: beta, eps: eps, kernel: TanhKernel())
        case .silu: return residualLayerNormSiLU(residual, x, gamma: gamma, beta: beta, eps: eps)  // vector code (SmoothLayers)
        }
    }

    static func residualLayerNorm<K: UnaryKernel>(_ residual: Tensor, _ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float,
                                                  kernel k: K) -> Tensor {
        let ln = LayerNormRows("residualLayerNorm", x: x, gamma: gamma, beta: beta)
        let rows = ln.rows, cols = ln.cols
        let out = Tensor(uninitializedShape: x.shape)
        let X = x.data.baseAddress!, R = residual.data.baseAddress!, Y = out.data.baseAddress!
        let Gm = gamma.data.baseAddress!, Bt = beta.data.baseAddress!
        Parallel.forEach(rows, minChunk: ln.minRows) { r in
            // LayerNorm into the output row, then activation and residual in place (row is in L1).
            ln.normalize(r, X, into: Y, gamma: Gm, beta: Bt, eps: eps)
            for i in (r.lowerBound * cols)..<(r.upperBound * cols) { Y[i] = R[i] + k.f(Y[i]) }
        }
        record(out, [residual, x, gamma, beta]) { flags in
            { out in
                let mean = ln.mean, rstd = ln.rstd  // `ln` keeps the statistics alive with the closure
                let G = out.grad!.baseAddress!
                ln.residualBackward(G, residual: residual, x: x, gamma: gamma, beta: beta, flags: flags) { r, at in
                    let norm = at.norm, dnorm = at.dnorm, dW = at.dGamma, dB = at.dBeta
                    let x = X + r * cols, g = G + r * cols, m = mean[r], s = rstd[r]
                    for j in 0..<cols {
                        let n = (x[j] - m) * s
                        let z = n * Gm[j] + Bt[j]
                        let dz = g[j] * k.df(x: z, y: k.f(z))
                        norm[j] = n
                        dnorm[j] = Gm[j] * dz
                        dW[j] += n * dz
                        dB[j] += dz
                    }
                    guard let dest = at.dx else { return }
                    let dnMean = Kernels.sum(dnorm, count: cols) / Float(cols)
                    let dnNormMean = Kernels.dot(dnorm, norm, count: cols) / Float(cols)
                    let gx = dest.buffer + r * cols
                    if dest.accumulate {
                        for j in 0..<cols { gx[j] += (dnorm[j] - dnMean - norm[j] * dnNormMean) * s }
                    } else {
                        for j in 0..<cols { gx[j] = (dnorm[j] - dnMean - norm[j] * dnNormMean) * s }
                    }
                }
            }
        }
        return out
    }
}
