import Common

/// Sums and means, over one axis or everything.
extension Tensor {
    /// Splits the shape around `axis` into (outer, n, inner) so a reduction is three flat loops.
    func split(axis: Int) -> (outer: Int, n: Int, inner: Int) {
        let ax = axis < 0 ? axis + rank : axis
        precondition(ax >= 0 && ax < rank, "axis \(axis) out of range for shape \(shape)")
        return (shape[..<ax].reduce(1, *), shape[ax], shape[(ax + 1)...].reduce(1, *))
    }

    func reduceAxis(_ axis: Int, keepDim: Bool, scale: (Int) -> Float) -> Tensor {
        let (outer, n, inner) = split(axis: axis)
        let ax = axis < 0 ? axis + rank : axis
        var outShape = shape
        if keepDim { outShape[ax] = 1 } else { outShape.remove(at: ax) }
        let out = Tensor.zeros(outShape)
        let s = scale(n)
        let X = data, Y = out.data
        for o in 0..<outer {
            for j in 0..<n {
                let x = X.baseAddress! + (o * n + j) * inner, y = Y.baseAddress! + o * inner
                for i in 0..<inner { y[i] += x[i] }
            }
            for i in 0..<inner { Y[o * inner + i] *= s }
        }
        Tensor.record(out, [self]) { _ in
            { out in
                let G = out.grad!, GX = self.gradBuffer()
                for o in 0..<outer {
                    for j in 0..<n {
                        let gx = GX.baseAddress! + (o * n + j) * inner, g = G.baseAddress! + o * inner
                        for i in 0..<inner { gx[i] += g[i] * s }
                    }
                }
            }
        }
        return out
    }

    /// Sum over `axis` (negative counts from the end); the axis is removed unless `keepDim`.
    public func sum(axis: Int, keepDim: Bool = false) -> Tensor { reduceAxis(axis, keepDim: keepDim) { _ in 1 } }

    /// Mean over `axis` (negative counts from the end); the axis is removed unless `keepDim`.
    public func mean(axis: Int, keepDim: Bool = false) -> Tensor {
        reduceAxis(axis, keepDim: keepDim) { 1 / Float(max($0, 1)) }
    }

    /// Sum of all elements (a scalar), accumulated in Double for accuracy.
    public func sum() -> Tensor { reduceAll(scale: 1) }

    /// Mean of all elements (a scalar).
    public func mean() -> Tensor { reduceAll(scale: 1 / Float(max(count, 1))) }

    func reduceAll(scale: Float) -> Tensor {
        // Blocks of 4096 summed in Float with 8 independent accumulators (vectorisable), then in Double.
        let X = data.baseAddress!, n = count
        let blocks = (n + 4095) / 4096
        let partial = UnsafeMutablePointer<Double>.allocate(capacity: max(blocks, 1))
        defer { partial.deallocate() }
        Parallel.forEach(blocks, minChunk: 64) { r in
            for blk in r {
                let lo = blk * 4096, hi = min(n, lo + 4096)
                var a = SIMD8<Float>()
                var i = lo
                while i + 8 <= hi {
                    a += UnsafeRawPointer(X + i).loadUnaligned(as: SIMD8<Float>.self)
                    i += 8
                }
                var s = Double(a.sum())
                while i < hi { s += Double(X[i]); i += 1 }
                partial[blk] = s
            }
        }
        var acc: Double = 0
        for b in 0..<blocks { acc += partial[b] }
        let out = Tensor.scalar(Float(acc * Double(scale)))
        Tensor.record(out, [self]) { _ in
            { out in
                let g = out.grad![0] * scale, GX = self.gradBuffer()
                for i in 0..<self.count { GX[i] += g }
            }
        }
        return out
    }
}
