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
        var out = mask
        mask.withUnsafeBufferPointer { m in
            g.withUnsafeBufferPointer { g in
                floor.withUnsafeBufferPointer { fl in
                    out.withUnsafeMutableBufferPointer { o in
                        for y in 0..<h {
                            let y0 = max(0, y - 1), y1 = min(h - 1, y + 1)
                            for x in 0..<w where m[y * w + x] == 0 {
                                let x0 = max(0, x - 1), x1 = min(w - 1, x + 1)
                                // Brightest 8-neighbour in the (original) mask.
                                var peak = -Float.infinity
                                for yy in y0...y1 {
                                    for xx in x0...x1 where m[yy * w + xx] != 0 { peak = max(peak, g[yy * w + xx]) }
                                }
                                let p = y * w + x, f = fl[p]
                                if peak > f && g[p] - f >= fraction * (peak - f) { o[p] = 1 }
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
                        var v = a[row + x]
                        for xx in max(0, x - r)...min(w - 1, x + r) { v = min(v, a[row + xx]) }
                        t[row + x] = v
                    }
                }
            }
        }
        tmp.withUnsafeBufferPointer { t in
            out.withUnsafeMutableBufferPointer { o in
                for y in 0..<h {
                    let y0 = max(0, y - r), y1 = min(h - 1, y + r)
                    for x in 0..<w {
                        var v = t[y0 * w + x]
                        for yy in y0...y1 { v = min(v, t[yy * w + x]) }
                        o[y * w + x] = v
                    }
                }
            }
        }
        return out
    }
}
