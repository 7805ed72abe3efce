/// Otsu's threshold: the level that maximises the between-class variance of a 256-bin histogram, plus two
/// variants that keep the brightest (large-vessel) pixels from dragging the level up.
enum OtsuThreshold {
    /// Threshold for `values` (any finite range); returns the minimum when all values are equal.
    static func threshold(_ values: [Float]) -> Float {
        guard let h = Histogram(values) else { return finiteMinimum(values) }
        let (bestI, _) = h.bestSplit()
        // Upper edge of the last background bin.
        return h.upperEdge(ofBin: bestI)
    }

    /// Otsu's level of `values` after clipping them at their `upperQuantile` (winsorizing, 0.5 < q <= 1).
    ///
    /// Why: Otsu's level follows the mean of the bright class, so a few very bright large vessels pull it
    /// above the dim capillaries. Clipped at a high quantile, brighter large vessels no longer move the level;
    /// only how many pixels are bright does. q = 1 is plain Otsu.
    static func winsorizedThreshold(_ values: [Float], upperQuantile: Double) -> Float {
        guard upperQuantile < 1, upperQuantile > 0 else { return threshold(values) }
        let cap = quantile(values, upperQuantile)
        var clipped = values
        clipped.withUnsafeMutableBufferPointer { cb in for i in cb.indices where cb[i] > cap { cb[i] = cap } }
        return threshold(clipped)
    }

    /// The lower of the two levels of three-class Otsu (background / capillaries / large vessels): the
    /// pair of levels that maximises the between-class variance of three classes.
    ///
    /// Why: with a clear brightness hierarchy (large vessels far above the capillary mesh), two-class Otsu
    /// splits large vessels from everything else; the three-class lower level splits vessels from background
    /// whatever the large vessels' brightness.
    static func lowerThreeClassThreshold(_ values: [Float]) -> Float {
        guard let h = Histogram(values) else { return finiteMinimum(values) }
        let bins = Histogram.bins
        // Prefix sums of counts and first moments, so each class's weight and mean is O(1).
        var p = [Double](repeating: 0, count: bins + 1), s = [Double](repeating: 0, count: bins + 1)
        for i in 0..<bins {
            p[i + 1] = p[i] + h.counts[i]
            s[i + 1] = s[i] + Double(i) * h.counts[i]
        }
        func term(_ a: Int, _ b: Int) -> Double {  // bins a..<b: weight * mean^2 = sum^2 / weight
            let w = p[b] - p[a]
            return w > 0 ? (s[b] - s[a]) * (s[b] - s[a]) / w : 0
        }
        // Maximising sum over classes of weight * mean^2 is maximising the between-class variance.
        var best = -1.0, bestT1 = 0
        for t1 in 1..<(bins - 1) where p[t1] > 0 {
            for t2 in (t1 + 1)..<bins where p[t2] > p[t1] && p[bins] > p[t2] {
                let v = term(0, t1) + term(t1, t2) + term(t2, bins)
                if v > best { best = v; bestT1 = t1 }
            }
        }
        guard best >= 0 else { return threshold(values) }
        return h.upperEdge(ofBin: bestT1 - 1)
    }

    /// The `q`-quantile of `values` (0 <= q <= 1), to 1/4096 of the value range (histogram based, no sort).
    static func quantile(_ values: [Float], _ q: Double) -> Float {
        var lo = Float.infinity, hi = -Float.infinity
        values.withUnsafeBufferPointer { vb in for v in vb { lo = min(lo, v); hi = max(hi, v) } }
        guard lo < hi else { return lo.isFinite ? lo : 0 }
        let bins = 4096
        var counts = [Int](repeating: 0, count: bins)
        let scale = Float(bins) / (hi - lo)
        counts.withUnsafeMutableBufferPointer { c in
            values.withUnsafeBufferPointer { vb in
                for v in vb { c[Int(min(Float(bins - 1), (v - lo) * scale))] += 1 }
            }
        }
        let target = q * Double(values.count)
        var cum = 0
        for i in 0..<bins {
            cum += counts[i]
            if Double(cum) >= target { return lo + Float(i + 1) / scale }
        }
        return hi
    }

    private static func finiteMinimum(_ values: [Float]) -> Float {
        let lo = values.min() ?? 0
        return lo.isFinite ? lo : 0
    }

    /// A 256-bin histogram over the values' range.
    private struct Histogram {
        static let bins = 256
        let counts: [Double]
        let lo: Float
        let scale: Float

        /// nil when all values are equal (or there are none).
        init?(_ values: [Float]) {
            var lo = Float.infinity, hi = -Float.infinity
            values.withUnsafeBufferPointer { vb in for v in vb { lo = min(lo, v); hi = max(hi, v) } }
            guard lo < hi else { return nil }
            let bins = Histogram.bins
            // Integer counts (the Double sums see the same exact values), through raw buffers; the bin is
            // clamped before the conversion, which truncates the same way (no range check per value).
            var c = [Int](repeating: 0, count: bins)
            let scale = Float(bins) / (hi - lo)
            c.withUnsafeMutableBufferPointer { cb in
                values.withUnsafeBufferPointer { vb in
                    for v in vb { cb[Int(min(Float(bins - 1), (v - lo) * scale))] += 1 }
                }
            }
            counts = c.map { Double($0) }
            self.lo = lo
            self.scale = scale
        }

        func upperEdge(ofBin i: Int) -> Float { lo + Float(i + 1) / scale }

        /// Two-class Otsu: the last bin of the lower class and the between-class variance.
        func bestSplit() -> (Int, Double) {
            let bins = Histogram.bins
            let total = counts.reduce(0, +)
            var sumAll = 0.0
            for i in 0..<bins { sumAll += Double(i) * counts[i] }
            var wB = 0.0, sumB = 0.0, best = -1.0, bestI = 0
            for i in 0..<bins {
                wB += counts[i]
                if wB == 0 { continue }
                let wF = total - wB
                if wF == 0 { break }
                sumB += Double(i) * counts[i]
                let mB = sumB / wB, mF = (sumAll - sumB) / wF
                let between = wB * wF * (mB - mF) * (mB - mF)
                if between > best { best = between; bestI = i }
            }
            return (bestI, best)
        }
    }
}
