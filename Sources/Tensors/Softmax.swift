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
            for j in 0..<cols { s += expf(X[o + j] - m) }
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
                    for j in 0..<cols { GX[o + j] += G[o + j] - expf(Y[o + j]) * s }
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
        // Stable softmax of each row, kept for the backward pass.
        let P = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(n * c, 1))
        Kernels.softmaxRows(logits.data.baseAddress!, P.baseAddress!, rows: n, cols: c)
        var total: Double = 0, wsum: Double = 0
        let X = logits.data
        for i in 0..<n {
            let w = Double(sampleWeights?[i] ?? 1)
            if w == 0 { continue }
            let o = i * c
            var m = -Float.infinity
            for j in 0..<c where X[o + j] > m { m = X[o + j] }
            var s: Double = 0
            for j in 0..<c { s += Double(expf(X[o + j] - m)) }
            let lse = Double(m) + Foundation.log(s)
            var li: Double = 0
            for j in 0..<c where targets[o + j] != 0 { li -= Double(targets[o + j]) * (Double(X[o + j]) - lse) }
            total += w * li
            wsum += w
        }
        let out = Tensor.scalar(wsum > 0 ? Float(total / wsum) : 0)
        let box = BufferOwner(P)
        record(out, [logits]) { _ in
            { out in
                guard wsum > 0 else { return }
                // d loss / d x_ij = w_i / W * (p_ij * sum_c q_ic - q_ij).
                let g = out.grad![0], GX = logits.gradBuffer(), P = box.buffer
                for i in 0..<n {
                    let w = Float(Double(sampleWeights?[i] ?? 1) / wsum) * g
                    if w == 0 { continue }
                    let o = i * c
                    var qs: Float = 0
                    for j in 0..<c { qs += targets[o + j] }
                    for j in 0..<c { GX[o + j] += w * (P[o + j] * qs - targets[o + j]) }
                }
            }
        }
        return out
    }

    /// Cross-entropy with integer class targets, optional per-class weights and label smoothing.
    /// Target distribution per row: (1 - smoothing) * onehot(y) + smoothing / C. Row weight: classWeights[y]
    /// (1 if nil); rows with a negative target (e.g. -1 for padding or prompt tokens) are ignored.
    /// loss = sum_i w_i CE_i / sum_i w_i (PyTorch's weighted mean). Traps if a target is >= C.
    public static func crossEntropy(logits: Tensor, targets: [Int], classWeights: [Float]? = nil,
                                    labelSmoothing: Float = 0) -> Tensor {
        precondition(logits.rank == 2 && targets.count == logits.shape[0],
                     shapeMismatchMessage("crossEntropy", logits.shape, [targets.count], detail: "need one target per row"))
        let n = logits.shape[0], c = logits.shape[1]
        if let cw = classWeights {
            precondition(cw.count == c, shapeMismatchMessage("crossEntropy class weights", logits.shape, [cw.count]))
        }
        var q = [Float](repeating: labelSmoothing / Float(c), count: n * c)
        var w = [Float](repeating: 0, count: n)
        for i in 0..<n {
            let y = targets[i]
            guard y >= 0 else { continue }
            precondition(y < c, "crossEntropy: target \(y) of row \(i) is not a class index below \(c)")
            q[i * c + y] += 1 - labelSmoothing
            w[i] = classWeights?[y] ?? 1
        }
        return crossEntropy(logits: logits, targetProbabilities: q, sampleWeights: w)
    }
}

/// Owns a scratch buffer that a backward closure needs (freed with the closure).
final class BufferOwner {
    let buffer: UnsafeMutableBufferPointer<Float>
    init(_ buffer: UnsafeMutableBufferPointer<Float>) { self.buffer = buffer }
    convenience init(count: Int) {
        let b = UnsafeMutableBufferPointer<Float>.allocate(capacity: max(count, 1))
        self.init(b)
    }
    deinit { buffer.deallocate() }
}
