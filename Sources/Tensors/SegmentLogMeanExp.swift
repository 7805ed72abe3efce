import Common
import Foundation

extension Tensor {
    /// Smooth maximum over the rows of each segment (log-mean-exp pooling): x [N, D], `segment` [N] (e.g.
    /// node -> graph id) -> [segments, D] with
    ///
    ///   out[g, j] = (1 / beta) log( (1 / n_g) sum_{i in g} exp(beta x[i, j]) )     (0 for an empty segment)
    ///
    /// It lies between the segment mean (beta -> 0) and the segment max (beta -> infinity), does not grow
    /// with the segment's size (the 1 / n_g), and unlike max pooling it is infinitely differentiable: its
    /// gradient is the softmax of beta x over the segment, d out[g, j] / d x[i, j] = exp(beta (x[i, j] -
    /// out[g, j])) / n_g. That smoothness is what integrated gradients' quadrature needs.
    /// `sharpness` = beta > 0. Computed stably (shifted by the segment max). Traps on a bad index
    /// (programmer error), like `segmentMax`.
    public func segmentLogMeanExp(_ segment: [Int], segments: Int, sharpness beta: Float = 1) -> Tensor {
        Tensor.checkScatter("segmentLogMeanExp", self, segment, segments)
        precondition(beta > 0 && beta.isFinite, "segmentLogMeanExp: sharpness must be a positive number, got \(beta)")
        let d = rowWidth, rows = segments
        var inv = [Float](repeating: 0, count: rows)
        for i in segment { inv[i] += 1 }
        for r in 0..<rows where inv[r] > 0 { inv[r] = 1 / inv[r] }
        let out = Tensor.full([rows] + shape.dropFirst(), value: -.infinity)
        let X = data.baseAddress!, Y = out.data.baseAddress!
        let work = segment.count * d
        // Pass 1: the segment max (shift), into the output.
        // (Explicit 8-lane loops: the scalar forms stayed scalar in profiles.)
        scatterByOwner(segment, rows: rows, work: work) { e in
            let x = X + e * d, y = Y + segment[e] * d
            var j = 0
            while j + 8 <= d { Kernels.store8(Kernels.max8(Kernels.load8(y + j), Kernels.load8(x + j)), y + j); j += 8 }
            while j < d { if x[j] > y[j] { y[j] = x[j] }; j += 1 }
        }
        // Pass 2: sum of exp(beta (x - max)) per segment and column. Each exp is kept (when a graph may be
        // recorded): the gradient is exp(beta (x - max)) / sum, so the backward pass needs no exp.
        let sums = BufferOwner(count: rows * d)
        let S = sums.buffer.baseAddress!
        S.update(repeating: 0, count: rows * d)
        let exps: BufferOwner? = Tensor.isGradEnabled ? BufferOwner(count: segment.count * d) : nil
        let EX = exps?.buffer.baseAddress
        scatterByOwner(segment, rows: rows, work: work) { e in
            let x = X + e * d, g = segment[e], y = Y + g * d, s = S + g * d, ex = EX.map { $0 + e * d }
            var j = 0
            while j + 8 <= d {
                let v = Kernels.exp(beta * (Kernels.load8(x + j) - Kernels.load8(y + j)))
                Kernels.store8(Kernels.load8(s + j) + v, s + j)
                if let ex { Kernels.store8(v, ex + j) }
                j += 8
            }
            while j < d { let v = Kernels.exp(beta * (x[j] - y[j])); s[j] += v; ex?[j] = v; j += 1 }
        }
        // out = max + log(sum / n) / beta.
        inv.withUnsafeBufferPointer { inv in
            for g in 0..<rows {
                let y = Y + g * d, s = S + g * d
                if inv[g] == 0 { y.update(repeating: 0, count: d); continue }
                for j in 0..<d { y[j] += logf(s[j] * inv[g]) / beta }
            }
        }
        Tensor.record(out, [self]) { _ in
            { out in
                let EX = exps!.buffer.baseAddress!, S = sums.buffer.baseAddress!  // kept alive with the closure
                let G = out.grad!.baseAddress!, (GX, acc) = self.gradDestination()
                // d out[g, j] / d x[i, j] = exp(beta (x[i, j] - max[g, j])) / sum[g, j]: a softmax over the segment.
                let scaled = BufferOwner(count: rows * d)  // dL/d out / sum
                let GS = scaled.buffer.baseAddress!
                for k in 0..<(rows * d) { GS[k] = S[k] > 0 ? G[k] / S[k] : 0 }
                Parallel.forEach(segment.count, minChunk: max(1, elementwiseMinChunk / max(d, 1))) { r in
                    for e in r {
                        let gs = GS + segment[e] * d, ex = EX + e * d, gx = GX + e * d
                        var j = 0
                        while j + 8 <= d {
                            var v = Kernels.load8(gs + j) * Kernels.load8(ex + j)
                            if acc { v += Kernels.load8(gx + j) }
                            Kernels.store8(v, gx + j)
                            j += 8
                        }
                        while j < d {
                            let v = gs[j] * ex[j]
                            gx[j] = acc ? gx[j] + v : v
                            j += 1
                        }
                    }
                }
            }
        }
        return out
    }
}
