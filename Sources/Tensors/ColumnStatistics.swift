import Common
import Dispatch

/// Per-column reductions over the rows of a row-major [rows, cols] matrix, split across the cores: the
/// statistics BatchNorm needs for [N, C] node features. Each core sums its rows in Float blocks of 256 rows
/// (the inner loop over columns vectorises) and flushes them into Double, so 60k-row sums keep their digits.
enum ColumnStatistics {
    static let blockRows = 256

    /// Splits 0..<n into at most `Parallel.threadCount` contiguous ranges of at least `minChunk` items.
    static func chunks(_ n: Int, minChunk: Int) -> [Range<Int>] {
        let parts = max(1, min(Parallel.threadCount, n / max(minChunk, 1)))
        let step = (n + parts - 1) / max(parts, 1)
        return (0..<parts).map { p in (p * step)..<min(n, (p + 1) * step) }.filter { !$0.isEmpty }
    }

    /// out[j] = sum_i f(i, j) for each column j, where `rowTerm(i, row pointer j-indexed scratch)` writes
    /// row i's contribution into a Float scratch row of `cols` entries (added, not assigned).
    static func sums(rows: Int, cols: Int, into out: UnsafeMutablePointer<Double>,
                     _ addRow: (Int, UnsafeMutablePointer<Float>) -> Void) {
        let ranges = chunks(rows, minChunk: 4096)
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: max(ranges.count * cols, 1))
        defer { partial.deallocate() }
        partial.initialize(repeating: 0, count: ranges.count * cols)
        DispatchQueue.concurrentPerform(iterations: ranges.count) { k in
            let acc = UnsafeMutablePointer<Float>.allocate(capacity: max(cols, 1))
            defer { acc.deallocate() }
            let dst = partial + k * cols
            var i = ranges[k].lowerBound
            while i < ranges[k].upperBound {
                acc.initialize(repeating: 0, count: cols)
                let hi = min(ranges[k].upperBound, i + blockRows)
                while i < hi { addRow(i, acc); i += 1 }
                for j in 0..<cols { dst[j] += Double(acc[j]) }
            }
        }
        for j in 0..<cols { out[j] = 0 }
        for k in 0..<ranges.count { for j in 0..<cols { out[j] += partial[k * cols + j] } }
    }
}

extension Tensor {
    /// BatchNorm for x [N, C] (the GNN's node features): same maths as the general path, but every pass
    /// runs over contiguous rows on all cores with vectorisable loops over the C channels.
    static func batchNormRows(_ x: Tensor, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor,
                              training: Bool, updateRunning: Bool, momentum: Float, eps: Float) -> Tensor {
        let (n, c) = (x.shape[0], x.shape[1])
        precondition(n > 1 || !training || !updateRunning, "batchNorm: training needs more than one row, got \(x.shape)")
        let out = Tensor(uninitializedShape: x.shape)
        let stats = BufferOwner(count: 2 * c)  // mean, then rstd
        let mean = stats.buffer.baseAddress!, rstd = mean + c
        let X = x.data.baseAddress!, Y = out.data.baseAddress!
        if training {
            let acc = UnsafeMutablePointer<Double>.allocate(capacity: 2 * c)
            defer { acc.deallocate() }
            ColumnStatistics.sums(rows: n, cols: c, into: acc) { i, a in
                let x = X + i * c
                for j in 0..<c { a[j] += x[j] }
            }
            for j in 0..<c { acc[j] /= Double(n); mean[j] = Float(acc[j]) }
            ColumnStatistics.sums(rows: n, cols: c, into: acc + c) { i, a in
                let x = X + i * c
                for j in 0..<c { let d = x[j] - mean[j]; a[j] += d * d }
            }
            let update = updateRunning && GradMode.current == .enabled
            for j in 0..<c {
                let varB = acc[c + j] / Double(n)
                rstd[j] = Float(1 / (varB + Double(eps)).squareRoot())
                if update {
                    let unbiased = n > 1 ? acc[c + j] / Double(n - 1) : varB
                    runningMean.data[j] = (1 - momentum) * runningMean.data[j] + momentum * mean[j]
                    runningVar.data[j] = (1 - momentum) * runningVar.data[j] + momentum * Float(unbiased)
                }
            }
        } else {
            for j in 0..<c {
                mean[j] = runningMean.data[j]
                rstd[j] = 1 / (runningVar.data[j] + eps).squareRoot()
            }
        }
        // y = x * scale + shift with per-channel scale = gamma * rstd, shift = beta - mean * scale.
        let affine = BufferOwner(count: 2 * c)
        let scale = affine.buffer.baseAddress!, shift = scale + c
        for j in 0..<c {
            scale[j] = gamma.data[j] * rstd[j]
            shift[j] = beta.data[j] - mean[j] * scale[j]
        }
        Parallel.forEach(n, minChunk: 2048) { r in
            for i in r {
                let x = X + i * c, y = Y + i * c
                for j in 0..<c { y[j] = x[j] * scale[j] + shift[j] }
            }
        }
        record(out, [x, gamma, beta]) { flags in
            { out in
                let mean = stats.buffer.baseAddress!, rstd = mean + c  // keeps `stats` alive with the closure
                let G = out.grad!.baseAddress!
                let sums = UnsafeMutablePointer<Double>.allocate(capacity: 2 * c)
                defer { sums.deallocate() }
                let dBeta = sums, dGamma = sums + c
                ColumnStatistics.sums(rows: n, cols: c, into: dBeta) { i, a in
                    let g = G + i * c
                    for j in 0..<c { a[j] += g[j] }
                }
                ColumnStatistics.sums(rows: n, cols: c, into: dGamma) { i, a in
                    let g = G + i * c, x = X + i * c
                    for j in 0..<c { a[j] += g[j] * (x[j] - mean[j]) * rstd[j] }
                }
                if flags[1] { let g = gamma.gradBuffer(); for j in 0..<c { g[j] += Float(dGamma[j]) } }
                if flags[2] { let g = beta.gradBuffer(); for j in 0..<c { g[j] += Float(dBeta[j]) } }
                guard flags[0] else { return }
                let GX = x.gradBuffer().baseAddress!
                // dx = gamma * rstd * (dy - mean(dy) - xhat * mean(dy * xhat)) in training; gamma * rstd * dy in eval.
                let coef = BufferOwner(count: 3 * c)
                let k1 = coef.buffer.baseAddress!, mDy = k1 + c, mDyX = k1 + 2 * c
                for j in 0..<c {
                    k1[j] = gamma.data[j] * rstd[j]
                    mDy[j] = training ? Float(dBeta[j] / Double(n)) : 0
                    mDyX[j] = training ? Float(dGamma[j] / Double(n)) : 0
                }
                Parallel.forEach(n, minChunk: 2048) { r in
                    for i in r {
                        let g = G + i * c, x = X + i * c, gx = GX + i * c
                        for j in 0..<c {
                            let xhat = (x[j] - mean[j]) * rstd[j]
                            gx[j] += k1[j] * (g[j] - mDy[j] - xhat * mDyX[j])
                        }
                    }
                }
            }
        }
        return out
    }
}
