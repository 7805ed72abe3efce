import Common
import Dispatch

/// Row gather and scatter by an index vector: graph message passing, embeddings and segment pooling.
/// Rows are the first axis; a "row" is everything after it (D = count / shape[0]).
extension Tensor {
    var rowWidth: Int { shape.isEmpty ? 1 : (shape[0] == 0 ? shape.dropFirst().reduce(1, *) : count / shape[0]) }

    /// out[e] = x[index[e]]: x [N, ...] -> [E, ...]. Repeated indices are fine (their gradients add up).
    /// Traps if an index is outside 0..<N.
    public func gatherRows(_ index: [Int]) -> Tensor {
        precondition(rank >= 1, "gatherRows: needs at least one axis, got shape \(shape)")
        let n = shape[0], d = rowWidth
        for (e, i) in index.enumerated() {
            precondition(i >= 0 && i < n, "gatherRows: index[\(e)] = \(i) is outside 0..<\(n) for shape \(shape)")
        }
        let out = Tensor(uninitializedShape: [index.count] + shape.dropFirst())
        let X = data.baseAddress!, Y = out.data.baseAddress!
        Parallel.forEach(index.count, minChunk: max(1, elementwiseMinChunk / max(d, 1))) { r in
            for e in r { (Y + e * d).update(from: X + index[e] * d, count: d) }
        }
        Tensor.record(out, [self]) { _ in
            { out in
                let G = out.grad!.baseAddress!, GX = self.gradBuffer().baseAddress!
                scatterByOwner(index, rows: n, work: index.count * d) { e in
                    Kernels.addScaled(GX + index[e] * d, G + e * d, 1, count: d)
                }
            }
        }
        return out
    }

    /// Embedding lookup: weight [V, D] and token ids -> [ids.count, D], or `shape + [D]` when given
    /// (e.g. [B, T]). Gradients of repeated ids accumulate into the same weight row.
    public static func embedding(_ weight: Tensor, ids: [Int], shape: [Int]? = nil) -> Tensor {
        let rows = weight.gatherRows(ids)
        guard let s = shape else { return rows }
        precondition(s.reduce(1, *) == ids.count, shapeMismatchMessage("embedding", s, [ids.count]))
        return rows.reshaped(s + [weight.shape[1]])
    }

    static func checkScatter(_ op: String, _ src: Tensor, _ index: [Int], _ rows: Int) {
        precondition(src.rank >= 1 && src.shape[0] == index.count,
                     shapeMismatchMessage(op, src.shape, [index.count], detail: "need one index per source row"))
        for (e, i) in index.enumerated() {
            precondition(i >= 0 && i < rows, "\(op): index[\(e)] = \(i) is outside 0..<\(rows)")
        }
    }

    /// out[r] = sum of src[e] over e with index[e] == r: src [E, ...] -> [rows, ...]. Rows nobody maps to
    /// are 0. Traps if an index is outside 0..<rows.
    public func scatterAdd(_ index: [Int], rows: Int) -> Tensor {
        Tensor.checkScatter("scatterAdd", self, index, rows)
        let d = rowWidth
        let out = Tensor.zeros([rows] + shape.dropFirst())
        let X = data.baseAddress!, Y = out.data.baseAddress!
        scatterByOwner(index, rows: rows, work: index.count * d) { e in
            Kernels.addScaled(Y + index[e] * d, X + e * d, 1, count: d)
        }
        Tensor.record(out, [self]) { _ in
            { out in
                let G = out.grad!.baseAddress!, GX = self.gradBuffer().baseAddress!
                Parallel.forEach(index.count, minChunk: max(1, elementwiseMinChunk / max(d, 1))) { r in
                    for e in r { Kernels.addScaled(GX + e * d, G + index[e] * d, 1, count: d) }
                }
            }
        }
        return out
    }

    /// out[r] = mean of src[e] over e with index[e] == r (0 for rows with no source). Mean aggregation of
    /// messages, and segment mean pooling when `index` is the batch vector (node -> graph).
    public func scatterMean(_ index: [Int], rows: Int) -> Tensor {
        Tensor.checkScatter("scatterMean", self, index, rows)
        let d = rowWidth
        var inv = [Float](repeating: 0, count: rows)
        for i in index { inv[i] += 1 }
        for r in 0..<rows where inv[r] > 0 { inv[r] = 1 / inv[r] }
        let out = Tensor.zeros([rows] + shape.dropFirst())
        let X = data.baseAddress!, Y = out.data.baseAddress!
        inv.withUnsafeBufferPointer { inv in
            scatterByOwner(index, rows: rows, work: index.count * d) { e in
                Kernels.addScaled(Y + index[e] * d, X + e * d, inv[index[e]], count: d)
            }
        }
        Tensor.record(out, [self]) { _ in
            { out in
                let G = out.grad!.baseAddress!, GX = self.gradBuffer().baseAddress!
                Parallel.forEach(index.count, minChunk: max(1, elementwiseMinChunk / max(d, 1))) { r in
                    for e in r { Kernels.addScaled(GX + e * d, G + index[e] * d, inv[index[e]], count: d) }
                }
            }
        }
        return out
    }

    /// out[r, j] = max of src[e, j] over e with index[e] == r (0 for rows with no source). The backward pass
    /// routes each output gradient to the source row that held the maximum (the first one on ties).
    public func scatterMax(_ index: [Int], rows: Int) -> Tensor {
        Tensor.checkScatter("scatterMax", self, index, rows)
        let d = rowWidth
        let out = Tensor.full([rows] + shape.dropFirst(), value: -.infinity)
        let argOwner = ArgmaxOwner(count: rows * d)
        let arg = argOwner.buffer
        arg.update(repeating: -1)
        let X = data.baseAddress!, Y = out.data.baseAddress!
        precondition(index.count <= Int(Int32.max), "scatterMax: more than 2^31 source rows")
        scatterByOwner(index, rows: rows, work: index.count * d) { e in
            let x = X + e * d, y = Y + index[e] * d, a = arg.baseAddress! + index[e] * d
            let e32 = Int32(truncatingIfNeeded: e)
            // 8 lanes at a time with masked selects (the compiler keeps the scalar loop branchy).
            var j = 0
            while j + 8 <= d {
                let xv = UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
                var yv = UnsafeRawPointer(y + j).loadUnaligned(as: SIMD8<Float>.self)
                var av = UnsafeRawPointer(a + j).loadUnaligned(as: SIMD8<Int32>.self)
                let better = xv .> yv
                yv.replace(with: xv, where: better)
                av.replace(with: SIMD8<Int32>(repeating: e32), where: better)
                UnsafeMutableRawPointer(y + j).storeBytes(of: yv, as: SIMD8<Float>.self)
                UnsafeMutableRawPointer(a + j).storeBytes(of: av, as: SIMD8<Int32>.self)
                j += 8
            }
            while j < d {
                if x[j] > y[j] { y[j] = x[j]; a[j] = e32 }
                j += 1
            }
        }
        for i in 0..<(rows * d) where arg[i] < 0 { Y[i] = 0 }
        Tensor.record(out, [self]) { _ in
            { out in
                let arg = argOwner.buffer
                let G = out.grad!, GX = self.gradBuffer()
                // Source row e only ever wins in output row index[e], so output rows write disjoint
                // gradient rows and can run in parallel.
                Parallel.forEach(rows, minChunk: max(1, elementwiseMinChunk / max(d, 1))) { range in
                    for r in range {
                        for j in 0..<d {
                            let a = Int(arg[r * d + j])
                            if a >= 0 { GX[a * d + j] += G[r * d + j] }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Mean over the rows of each segment: x [N, D], `segment` [N] (e.g. node -> graph id) -> [segments, D].
    public func segmentMean(_ segment: [Int], segments: Int) -> Tensor { scatterMean(segment, rows: segments) }

    /// Max over the rows of each segment (argmax-routed gradient): x [N, D] -> [segments, D].
    public func segmentMax(_ segment: [Int], segments: Int) -> Tensor { scatterMax(segment, rows: segments) }

    /// Sum over the rows of each segment: x [N, D] -> [segments, D].
    public func segmentSum(_ segment: [Int], segments: Int) -> Tensor { scatterAdd(segment, rows: segments) }
}

/// Owns the argmax indices a max-style backward pass needs. The storage is a recycled float buffer
/// (same size as Int32) rebound to Int32 while in use.
final class ArgmaxOwner {
    let buffer: UnsafeMutableBufferPointer<Int32>
    private let raw: UnsafeMutablePointer<Float>
    private let count: Int
    init(count: Int) {
        self.count = count
        raw = BufferCache.shared.allocate(count)
        buffer = UnsafeMutableBufferPointer(start: UnsafeMutableRawPointer(raw).bindMemory(to: Int32.self, capacity: max(count, 1)),
                                            count: count)
    }
    deinit {
        _ = UnsafeMutableRawPointer(raw).bindMemory(to: Float.self, capacity: max(count, 1))
        BufferCache.shared.release(raw, count: count)
    }
}

/// Parallel scatter without atomics: each core owns a contiguous block of destination rows, scans the
/// whole index list and handles only the entries that land in its block ("owner computes"). Scanning the
/// indices twice is cheap next to moving the feature rows, and every row is written by one thread only.
/// Small work (`work` = entries x row width below 2^16) runs on the calling thread.
@inline(__always)
func scatterByOwner(_ index: [Int], rows: Int, work: Int, _ body: (Int) -> Void) {
    let parts = Parallel.threadCount
    guard parts > 1 && work >= 1 << 16 && rows >= parts else {
        for e in 0..<index.count { body(e) }
        return
    }
    index.withUnsafeBufferPointer { idx in
        DispatchQueue.concurrentPerform(iterations: parts) { p in
            let lo = p * rows / parts, hi = (p + 1) * rows / parts
            for e in 0..<idx.count {
                let t = idx[e]
                if t >= lo && t < hi { body(e) }
            }
        }
    }
}
