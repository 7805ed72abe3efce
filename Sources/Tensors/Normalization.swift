import Common
import Dispatch

/// Layer normalisation and batch normalisation, forward and backward (llm.c style).
extension Tensor {
    /// Normalises each row over the last axis: (x - mean) / sqrt(var + eps) * gamma + beta, with gamma and
    /// beta of the last axis's size. Biased variance, as PyTorch.
    public static func layerNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, eps: Float = 1e-5) -> Tensor {
        let ln = LayerNormRows("layerNorm", x: x, gamma: gamma, beta: beta)
        let rows = ln.rows, cols = ln.cols
        let out = Tensor(uninitializedShape: x.shape)
        let X = x.data.baseAddress!, Y = out.data.baseAddress!
        Parallel.forEach(rows, minChunk: ln.minRows) { r in
            ln.normalize(r, X, into: Y, gamma: gamma.data.baseAddress!, beta: beta.data.baseAddress!, eps: eps)
        }
        record(out, [x, gamma, beta]) { flags in
            { out in
                let mean = ln.mean, rstd = ln.rstd  // `ln` keeps the statistics alive with the closure
                let G = out.grad!.baseAddress!, W = gamma.data.baseAddress!
                let GX = flags[0] ? x.gradBuffer().baseAddress! : nil
                // Rows split across cores; each chunk sums its gamma/beta gradients privately, merged after.
                let (ranges, partial) = ln.backwardChunks()
                let P = partial.buffer.baseAddress!
                DispatchQueue.concurrentPerform(iterations: ranges.count) { k in
                    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * cols)
                    defer { scratch.deallocate() }
                    let norm = scratch, dnorm = scratch + cols
                    let dW = P + k * 2 * cols, dB = dW + cols
                    for r in ranges[k] {
                        let x = X + r * cols, g = G + r * cols, m = mean[r], s = rstd[r]
                        for j in 0..<cols {
                            norm[j] = (x[j] - m) * s
                            dnorm[j] = W[j] * g[j]
                            dW[j] += norm[j] * g[j]
                            dB[j] += g[j]
                        }
                        guard let GX else { continue }
                        let dnMean = Kernels.sum(dnorm, count: cols) / Float(cols)
                        let dnNormMean = Kernels.dot(dnorm, norm, count: cols) / Float(cols)
                        let gx = GX + r * cols
                        for j in 0..<cols { gx[j] += (dnorm[j] - dnMean - norm[j] * dnNormMean) * s }
                    }
                }
                if flags[1] || flags[2] {
                    ln.addParameterPartials(partial, chunks: ranges.count, gamma: flags[1] ? gamma : nil, beta: flags[2] ? beta : nil)
                }
            }
        }
        return out
    }

    /// Batch normalisation over channel axis 1 of x [N, C] or [N, C, *spatial]: statistics per channel over
    /// all other axes. In training mode it normalises with the batch statistics and, when `updateRunning`
    /// and the thread's grad mode is `.enabled` (never under `withoutGrad` / `withFrozenParameters`), blends
    /// them into `runningMean` / `runningVar` (unbiased variance, PyTorch's convention:
    /// running = (1 - momentum) * running + momentum * batch). In eval mode it uses the running statistics.
    public static func batchNorm(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor,
                                 training: Bool, updateRunning: Bool = true, momentum: Float = 0.1,
                                 eps: Float = 1e-5) -> Tensor {
        precondition(x.rank >= 2, "batchNorm: x must be [N, C, ...], got \(x.shape)")
        let (outer, c, inner) = x.split(axis: 1)
        precondition(gamma.count == c && beta.count == c && runningMean.count == c && runningVar.count == c,
                     shapeMismatchMessage("batchNorm", x.shape, gamma.shape, detail: "parameters must have C = \(c) entries"))
        if inner == 1 {
            return batchNormRows(x, gamma: gamma, beta: beta, runningMean: runningMean, runningVar: runningVar,
                                 training: training, updateRunning: updateRunning, momentum: momentum, eps: eps)
        }
        let m = outer * inner
        let out = Tensor(uninitializedShape: x.shape)
        let stats = BufferOwner(count: 2 * c)  // mean, then rstd, per channel
        let mean = stats.buffer.baseAddress!, rstd = mean + c
        let X = x.data.baseAddress!, Y = out.data.baseAddress!
        if training {
            precondition(m > 1 || !updateRunning, "batchNorm: training needs more than one value per channel, got \(x.shape)")
            // Per-channel sums in Double (60k rows in Float would lose digits), two passes for the variance.
            let acc = UnsafeMutablePointer<Double>.allocate(capacity: 2 * c)
            defer { acc.deallocate() }
            acc.initialize(repeating: 0, count: 2 * c)
            let sum = acc, sq = acc + c
            for o in 0..<outer { for ch in 0..<c {
                let p = X + (o * c + ch) * inner
                var s: Double = 0
                for i in 0..<inner { s += Double(p[i]) }
                sum[ch] += s
            } }
            for ch in 0..<c { sum[ch] /= Double(m) }
            for o in 0..<outer { for ch in 0..<c {
                let p = X + (o * c + ch) * inner, mu = sum[ch]
                var s: Double = 0
                for i in 0..<inner { let d = Double(p[i]) - mu; s += d * d }
                sq[ch] += s
            } }
            let update = updateRunning && GradMode.current == .enabled
            for ch in 0..<c {
                let varB = sq[ch] / Double(m)
                mean[ch] = Float(sum[ch])
                rstd[ch] = Float(1 / (varB + Double(eps)).squareRoot())
                if update {
                    let unbiased = m > 1 ? sq[ch] / Double(m - 1) : varB
                    runningMean.data[ch] = (1 - momentum) * runningMean.data[ch] + momentum * Float(sum[ch])
                    runningVar.data[ch] = (1 - momentum) * runningVar.data[ch] + momentum * Float(unbiased)
                }
            }
        } else {
            for ch in 0..<c {
                mean[ch] = runningMean.data[ch]
                rstd[ch] = 1 / (runningVar.data[ch] + eps).squareRoot()
            }
        }
        let W = gamma.data.baseAddress!, B = beta.data.baseAddress!
        for o in 0..<outer { for ch in 0..<c {
            let base = (o * c + ch) * inner, mu = mean[ch], s = rstd[ch] * W[ch], b = B[ch]
            for i in 0..<inner { Y[base + i] = (X[base + i] - mu) * s + b }
        } }
        record(out, [x, gamma, beta]) { flags in
            { out in
                let mean = stats.buffer.baseAddress!, rstd = mean + c  // keeps `stats` alive with the closure
                let G = out.grad!.baseAddress!
                let sums = BufferOwner(count: 2 * c)
                let dGamma = sums.buffer.baseAddress!, dBeta = dGamma + c
                dGamma.update(repeating: 0, count: 2 * c)
                for o in 0..<outer { for ch in 0..<c {
                    let base = (o * c + ch) * inner, mu = mean[ch], s = rstd[ch]
                    var db: Float = 0, dg: Float = 0
                    for i in 0..<inner {
                        db += G[base + i]
                        dg += G[base + i] * (X[base + i] - mu) * s
                    }
                    dBeta[ch] += db
                    dGamma[ch] += dg
                } }
                if flags[1] { let g = gamma.gradBuffer(); for ch in 0..<c { g[ch] += dGamma[ch] } }
                if flags[2] { let g = beta.gradBuffer(); for ch in 0..<c { g[ch] += dBeta[ch] } }
                guard flags[0] else { return }
                let GX = x.gradBuffer().baseAddress!
                for o in 0..<outer { for ch in 0..<c {
                    let base = (o * c + ch) * inner, mu = mean[ch], s = rstd[ch], w = W[ch]
                    if training {
                        // dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat)), means over the batch.
                        let mDy = dBeta[ch] / Float(m), mDyX = dGamma[ch] / Float(m)
                        for i in 0..<inner {
                            let xhat = (X[base + i] - mu) * s
                            GX[base + i] += w * s * (G[base + i] - mDy - xhat * mDyX)
                        }
                    } else {
                        for i in 0..<inner { GX[base + i] += w * s * G[base + i] }
                    }
                } }
            }
        }
        return out
    }
}
