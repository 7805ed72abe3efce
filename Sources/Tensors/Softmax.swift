import Common
import Foundation

/// Softmax, log-softmax and cross-entropy over the last axis.
extension Tensor {
    /// Softmax over the last axis.
    public func softmax() -> Tensor {
        let cols = shape.last ?? 1, rows = count / max(cols, 1)
        let out = Tensor(uninitializedShape: shape)
        Kernels.softmaxRows(data.baseAddress!, out.data.baseAddress!, rows: rows, cols: cols)
        Tensor.record(out, [self]) { _ in
            { out in
                // dx = y * (dy - sum(dy * y)) per row.
                let Y = out.data, G = out.grad!, GX = self.gradBuffer()
                for r in 0..<rows {
                    let o = r * cols
                    var dot: Float = 0
                    for j in 0..<cols { dot += G[o + j] * Y[o + j] }
                    for j in 0..<cols { GX[o + j] += Y[o + j] * (G[o + j] - dot) }
                }
            }
        }
        return out
    }

    /// log(softmax(x)) over the last axis, computed stably as x - max - log(sum(exp(x - max))).
    public func logSoftmax() -> Tensor {
        let cols = shape.last ?? 1, rows = count / max(cols, 1)
        let out = Tensor(uninitializedShape: shape)
        let X = data, Y = out.data
        for r in 0..<rows {
            let o = r * cols
            var m = -Float.infinity
            for j in 0..<cols where X[o + j] > m { m = X[o + j] }
            var s: Float = 0
            for j in 0..<cols { s += Kernels.exp(X[o + j] - m) }
            let lse = m + logf(s)
            for j in 0..<cols { Y[o + j] = X[o + j] - lse }
        }
        Tensor.record(out, [self]) { _ in
            { out in
                // dx = dy - softmax * sum(dy) per row.
                let G = out.grad!, GX = self.gradBuffer()
                for r in 0..<rows {
                    let o = r * cols
                    var s: Float = 0
                    for j in 0..<cols { s += G[o + j] }
                    for j in 0..<cols { GX[o + j] += G[o + j] - Kernels.exp(Y[o + j]) * s }
                }
            }
        }
        return out
    }

    /// Weighted cross-entropy against target distributions: logits [N, C], `targets` N*C probabilities
    /// (row-major, rows summing to 1), `sampleWeights` N non-negative weights (nil = all 1).
    /// loss = sum_i w_i * (-sum_c q_ic log p_ic) / sum_i w_i, a scalar (0 if all weights are 0).
    /// Covers soft labels such as the Gaussian label smoothing of the GNN.
    public static func crossEntropy(logits: Tensor, targetProbabilities targets: [Float],
                                    sampleWeights: [Float]? = nil) -> Tensor {
        precondition(logits.rank == 2, "crossEntropy: logits must be [N, C], got \(logits.shape)")
        let n = logits.shape[0], c = logits.shape[1]
        precondition(targets.count == n * c,
                     shapeMismatchMessage("crossEntropy", logits.shape, [targets.count], detail: "targets need N*C values"))
        if let w = sampleWeights {
            precondition(w.count == n, shapeMismatchMessage("crossEntropy", logits.shape, [w.count], detail: "need N sample weights"))
        }
        // One pass per row computes the stable softmax (kept for the backward pass) and the row's loss
        // -sum_j q_j (x_j - lse) from the same exponentials; rows run in parallel.
        let box = BufferOwner(count: n * c)
        let P = box.buffer.baseAddress!, X = logits.data.baseAddress!
        let rowLoss = UnsafeMutablePointer<Double>.allocate(capacity: max(n, 1))
        defer { rowLoss.deallocate() }
        targets.withUnsafeBufferPointer { tq in
            let Q = tq.baseAddress!
            Parallel.forEach(n, minChunk: max(1, 16384 / max(c, 1))) { r in
                for i in r {
                    let x = X + i * c, p = P + i * c, q = Q + i * c
                    let m = Kernels.max(x, count: c)
                    for j in 0..<c { p[j] = Kernels.exp(x[j] - m) }
                    let s = Kernels.sum(p, count: c)
                    let inv = 1 / s
                    for j in 0..<c { p[j] *= inv }
                    let lse = m + logf(s)
                    var li: Double = 0
                    for j in 0..<c where q[j] != 0 { li += Double(q[j]) * Double(lse - x[j]) }
                    rowLoss[i] = li
                }
            }
        }
        // Normalised row weights w_i / sum(w), the factor each row's gradient carries.
        var wsum: Double = 0
        for i in 0..<n { wsum += Double(sampleWeights?[i] ?? 1) }
        var total: Double = 0
        var rowScale = [Float](repeating: 0, count: n)
        if wsum > 0 {
            for i in 0..<n {
                let w = Double(sampleWeights?[i] ?? 1)
                if w != 0 { total += w * rowLoss[i]; rowScale[i] = Float(w / wsum) }
            }
        }
        let out = Tensor.scalar(wsum > 0 ? Float(total / wsum) : 0)
        record(out, [logits]) { _ in
            { out in
                guard wsum > 0 else { return }
                // d loss / d x_ij = w_i / W * (p_ij * sum_c q_ic - q_ij).
                let g = out.grad![0], GX = logits.gradBuffer().baseAddress!, P = box.buffer.baseAddress!
                targets.withUnsafeBufferPointer { tq in
                    let Q = tq.baseAddress!
                    Parallel.forEach(n, minChunk: max(1, 16384 / max(c, 1))) { r in
                        for i in r {
                            let w = rowScale[i] * g
                            if w == 0 { continue }
                            let o = i * c
                            var qs: Float = 0
                            for j in 0..<c { qs += Q[o + j] }
                            for j in 0..<c { GX[o + j] += w * (P[o + j] * qs - Q[o + j]) }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Cross-entropy with integer class targets, optional per-class weights and label smoothing.
    /// Target distribution per row: (1 - smoothing) * onehot(y) + smoothing / C. Row weight: classWeights[y]
    /// (1 if nil); rows with a negative target (e.g. -1 for padding or prompt tokens) are ignored.
    /// loss = sum_i w_i CE_i / sum_i w_i (PyTorch's weighted mean), 0 if no row counts. Traps if a target
    /// is >= C. Never builds the dense target matrix: CE_i = lse_i - (1-s) x_iy - (s/C) sum_j x_ij.
    public static func crossEntropy(logits: Tensor, targets: [Int], classWeights: [Float]? = nil,
                                    labelSmoothing: Float = 0) -> Tensor {
        precondition(logits.rank == 2 && targets.count == logits.shape[0],
                     shapeMismatchMessage("crossEntropy", logits.shape, [targets.count], detail: "need one target per row"))
        let n = logits.shape[0], c = logits.shape[1]
        if let cw = classWeights {
            precondition(cw.count == c, shapeMismatchMessage("crossEntropy class weights", logits.shape, [cw.count]))
        }
        var weight = [Float](repeating: 0, count: n)
        var wsum: Double = 0
        for i in 0..<n {
            let y = targets[i]
            guard y >= 0 else { continue }
            precondition(y < c, "crossEntropy: target \(y) of row \(i) is not a class index below \(c)")
            weight[i] = classWeights?[y] ?? 1
            wsum += Double(weight[i])
        }
        let eps = labelSmoothing, uniform = labelSmoothing / Float(c)
        let box = BufferOwner(count: n * c)
        let P = box.buffer.baseAddress!, X = logits.data.baseAddress!
        let rowLoss = UnsafeMutablePointer<Double>.allocate(capacity: max(n, 1))
        defer { rowLoss.deallocate() }
        Parallel.forEach(n, minChunk: max(1, 16384 / max(c, 1))) { r in
            for i in r {
                let x = X + i * c, p = P + i * c
                let m = Kernels.maxVector(x, count: c)
                let s = Kernels.expShiftedSum(p, x, minus: m, count: c)
                Kernels.scale(p, by: 1 / s, count: c)
                guard weight[i] != 0 else { rowLoss[i] = 0; continue }
                let lse = m + logf(s)
                var li = Double(lse) - Double(1 - eps) * Double(x[targets[i]])
                if eps != 0 { li -= Double(uniform) * Double(Kernels.sum(x, count: c)) }
                rowLoss[i] = li
            }
        }
        var total: Double = 0
        for i in 0..<n where weight[i] != 0 { total += Double(weight[i]) * rowLoss[i] }
        let out = Tensor.scalar(wsum > 0 ? Float(total / wsum) : 0)
        let scale = wsum > 0 ? weight.map { Float(Double($0) / wsum) } : weight
        record(out, [logits]) { _ in
            { out in
                guard wsum > 0 else { return }
                // d loss / d x_ij = w_i / W * (p_ij - s/C - (1-s) [j == y_i]).
                let g = out.grad![0], GX = logits.gradBuffer().baseAddress!, P = box.buffer.baseAddress!
                Parallel.forEach(n, minChunk: max(1, 16384 / max(c, 1))) { r in
                    for i in r {
                        let w = scale[i] * g
                        if w == 0 { continue }
                        let gx = GX + i * c, p = P + i * c
                        for j in 0..<c { gx[j] += w * (p[j] - uniform) }
                        gx[targets[i]] -= w * (1 - eps)
                    }
                }
            }
        }
        return out
    }
}

/// Owns a scratch buffer that a backward closure needs (freed with the closure).
final class BufferOwner {
    let buffer: UnsafeMutableBufferPointer<Float>
    init(count: Int) { buffer = UnsafeMutableBufferPointer(start: BufferCache.shared.allocate(count), count: count) }
    deinit { BufferCache.shared.release(buffer.baseAddress!, count: buffer.count) }
}
