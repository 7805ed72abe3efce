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
        let cols = x.shape.last ?? 1
        precondition(gamma.count == cols && beta.count == cols,
                     shapeMismatchMessage("residualLayerNorm", x.shape, gamma.shape, detail: "gamma/beta must match the last axis"))
        let rows = x.count / max(cols, 1)
        let out = Tensor(uninitializedShape: x.shape)
        let stats = BufferOwner(count: 2 * rows)  // mean, then rstd
        let mean = stats.buffer.baseAddress!, rstd = mean + rows
        let X = x.data.baseAddress!, R = residual.data.baseAddress!, Y = out.data.baseAddress!
        let Gm = gamma.data.baseAddress!, Bt = beta.data.baseAddress!
        let minRows = max(1, 16384 / max(cols, 1))
        Parallel.forEach(rows, minChunk: minRows) { r in
            let o = r.lowerBound
            // LayerNorm into the output row, then activation and residual in place (row is in L1).
            Kernels.layerNormRows(X + o * cols, Y + o * cols, gamma: Gm, beta: Bt, rows: r.count, cols: cols, eps: eps,
                                  mean: mean + o, rstd: rstd + o)
            for i in (o * cols)..<(r.upperBound * cols) { Y[i] = R[i] + k.f(Y[i]) }
        }
        record(out, [residual, x, gamma, beta]) { flags in
            { out in
                let mean = stats.buffer.baseAddress!, rstd = mean + rows  // keeps `stats` alive with the closure
                let G = out.grad!.baseAddress!
                if flags[0] {
                    let (gr, acc) = residual.gradDestination()
                    Parallel.forEach(rows * cols, minChunk: elementwiseMinChunk) { r in
                        if acc { Kernels.addScaled(gr + r.lowerBound, G + r.lowerBound, 1, count: r.count) }
                        else { (gr + r.lowerBound).update(from: G + r.lowerBound, count: r.count) }
                    }
                }
                guard flags[1] || flags[2] || flags[3] else { return }
                let GX = flags[1] ? x.gradDestination() : nil
                let ranges = ColumnStatistics.chunks(rows, minChunk: minRows)
                let partial = BufferOwner(count: ranges.count * 2 * cols)
                let P = partial.buffer.baseAddress!
                P.update(repeating: 0, count: ranges.count * 2 * cols)
                DispatchQueue.concurrentPerform(iterations: ranges.count) { c in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * cols)
                    defer { scratch.deallocate() }
                    let norm = scratch, dnorm = scratch + cols
                    let dW = P + c * 2 * cols, dB = dW + cols
                    for r in ranges[c] {
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
                        guard let dest = GX else { continue }
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
                if flags[2] || flags[3] {
                    addLayerNormParameterPartials(P, chunks: ranges.count, cols: cols,
                                                  gamma: flags[2] ? gamma : nil, beta: flags[3] ? beta : nil)
                }
            }
        }
        return out
    }
}

/// Adds the per-chunk partial sums of a fused LayerNorm backward into the parameters' gradients: chunk c
/// holds dGamma at `partials + c * 2 * cols` and dBeta right after it (chunks are summed in order, so the
/// result does not depend on the thread count's timing).
func addLayerNormParameterPartials(_ partials: UnsafeMutablePointer<Float>, chunks: Int, cols: Int,
                                   gamma: Tensor?, beta: Tensor?) {
    let GW = gamma?.gradBuffer().baseAddress!
    let GB = beta?.gradBuffer().baseAddress!
    for c in 0..<chunks {
        let dW = partials + c * 2 * cols, dB = dW + cols
        if let GW { for j in 0..<cols { GW[j] += dW[j] } }
        if let GB { for j in 0..<cols { GB[j] += dB[j] } }
    }
}
