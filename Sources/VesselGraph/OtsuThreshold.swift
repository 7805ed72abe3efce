/// Otsu's threshold: the level that maximises the between-class variance of a 256-bin histogram.
enum OtsuThreshold {
    /// Threshold for `values` (any finite range); returns the minimum when all values are equal.
    static func threshold(_ values: [Float]) -> Float {
        var lo = Float.infinity, hi = -Float.infinity
        values.withUnsafeBufferPointer { vb in for v in vb { lo = min(lo, v); hi = max(hi, v) } }
        guard lo < hi else { return lo.isFinite ? lo : 0 }
        let bins = 256
        // Integer counts (the Double sums below see the same exact values), through raw buffers; the bin is
        // clamped before the conversion, which truncates the same way (no range check per value).
        var counts = [Int](repeating: 0, count: bins)
        let scale = Float(bins) / (hi - lo)
        counts.withUnsafeMutableBufferPointer { c in
            values.withUnsafeBufferPointer { vb in
                for v in vb { c[Int(min(Float(bins - 1), (v - lo) * scale))] += 1 }
            }
        }
        let hist = counts.map { Double($0) }
        let total = Double(values.count)
        var sumAll = 0.0
        for i in 0..<bins { sumAll += Double(i) * hist[i] }
        var wB = 0.0, sumB = 0.0, best = -1.0, bestI = 0
        for i in 0..<bins {
            wB += hist[i]
            if wB == 0 { continue }
            let wF = total - wB
            if wF == 0 { break }
            sumB += Double(i) * hist[i]
            let mB = sumB / wB, mF = (sumAll - sumB) / wF
            let between = wB * wF * (mB - mF) * (mB - mF)
            if between > best { best = between; bestI = i }
        }
        // Upper edge of the last background bin.
        return lo + Float(bestI + 1) / scale
    }
}
