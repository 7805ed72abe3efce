/// Completes the one-pixel rim of vessels that a global threshold cuts off, by a local, contrast-relative test.
///
/// A single threshold on the local contrast lies above the half-maximum contour of faint capillaries, so their
/// outermost pixel is lost (on simulated eyes most missed vessel pixels lie on the true mask's one-pixel rim,
/// see docs/GRAPH_FORMAT.md). Measured against the Gaussian background these rim pixels are not even brighter
/// than average (dense capillary beds raise the background), so the test uses the local FLOOR (darkest
/// denoised level nearby, i.e. the intercapillary tissue) instead: a pixel next to the mask joins it when its
/// brightness above the floor is at least `fraction` of that of its brightest vessel neighbour. This depends
/// only on ratios of nearby intensities, not on any noise level or absolute intensity, and adds at most one
/// pixel per side.
enum VesselRim {
    /// `mask` (0/1) with its rim completed. `denoised` is the image after the noise blur; `floorRadiusPX` the
    /// half-side of the square window of the floor (minimum) filter; `fraction` in (0, 1], 0 leaves the mask.
    static func complete(_ mask: [UInt8], denoised g: [Float], width w: Int, height h: Int,
                         floorRadiusPX: Int, fraction: Float) -> [UInt8] {
        guard fraction > 0, w > 2, h > 2 else { return mask }
        let floor = minimumFilter(g, width: w, height: h, radius: max(1, floorRadiusPX))
        // Mask and image on a copy padded by one pixel (mask 0, image -infinity), so the 3x3 reads need no
        // bounds tests.
        let pw = w + 2
        var pm = [UInt8](repeating: 0, count: pw * (h + 2))
        var pg = [Float](repeating: -.infinity, count: pw * (h + 2))
        for y in 0..<h {
            for x in 0..<w { pm[(y + 1) * pw + x + 1] = mask[y * w + x]; pg[(y + 1) * pw + x + 1] = g[y * w + x] }
        }
        var out = mask
        pm.withUnsafeBufferPointer { m in
            pg.withUnsafeBufferPointer { pg in
                floor.withUnsafeBufferPointer { fl in
                    out.withUnsafeMutableBufferPointer { o in
                        for y in 0..<h {
                            for x in 0..<w {
                                let i = (y + 1) * pw + x + 1
                                if m[i] != 0 { continue }
                                // Brightest 8-neighbour in the (original) mask; -infinity when there is none.
                                var peak = -Float.infinity
                                if m[i - pw - 1] != 0 { peak = max(peak, pg[i - pw - 1]) }
                                if m[i - pw] != 0 { peak = max(peak, pg[i - pw]) }
                                if m[i - pw + 1] != 0 { peak = max(peak, pg[i - pw + 1]) }
                                if m[i - 1] != 0 { peak = max(peak, pg[i - 1]) }
                                if m[i + 1] != 0 { peak = max(peak, pg[i + 1]) }
                                if m[i + pw - 1] != 0 { peak = max(peak, pg[i + pw - 1]) }
                                if m[i + pw] != 0 { peak = max(peak, pg[i + pw]) }
                                if m[i + pw + 1] != 0 { peak = max(peak, pg[i + pw + 1]) }
                                let p = y * w + x, f = fl[p]
                                if peak > f && pg[i] - f >= fraction * (peak - f) { o[p] = 1 }
                            }
                        }
                    }
                }
            }
        }
        return out
    }

    /// Minimum over the (2 radius + 1)^2 square around each pixel (clamped at the borders), separable.
    static func minimumFilter(_ a: [Float], width w: Int, height h: Int, radius r: Int) -> [Float] {
        var tmp = [Float](repeating: 0, count: w * h)
        var out = [Float](repeating: 0, count: w * h)
        a.withUnsafeBufferPointer { a in
            tmp.withUnsafeMutableBufferPointer { t in
                for y in 0..<h {
                    let row = y * w
                    for x in 0..<w {
                        let lo = max(0, x - r), hi = min(w - 1, x + r)
                        var v = a[row + lo]
                        var xx = lo + 1
                        while xx <= hi { v = min(v, a[row + xx]); xx += 1 }
                        t[row + x] = v
                    }
                }
            }
        }
        tmp.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { o in
                // Row by row, so the inner loop runs along contiguous memory.
                for y in 0..<h {
                    let lo = max(0, y - r), hi = min(h - 1, y + r)
                    let dst = y * w
                    for x in 0..<w { o[dst + x] = t[lo * w + x] }
                    var yy = lo + 1
                    while yy <= hi {
                        let src = yy * w
                        for x in 0..<w { o[dst + x] = min(o[dst + x], t[src + x]) }
                        yy += 1
                    }
                }
            }
        }
        return out
    }
}
