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
        // Three spare bytes: the neighbourhood test loads 4 mask bytes at a time, up to 2 past the last SE.
        var pm = [UInt8](repeating: 0, count: pw * (h + 2) + 3)
        var pg = [Float](repeating: -.infinity, count: pw * (h + 2))
        pm.withUnsafeMutableBufferPointer { m in
            pg.withUnsafeMutableBufferPointer { gp in
                mask.withUnsafeBufferPointer { mk in
                    g.withUnsafeBufferPointer { gs in
                        for y in 0..<h {
                            let prow = (y + 1) * pw + 1, row = y * w
                            (m.baseAddress! + prow).update(from: mk.baseAddress! + row, count: w)
                            (gp.baseAddress! + prow).update(from: gs.baseAddress! + row, count: w)
                        }
                    }
                }
            }
        }
        var out = mask
        pm.withUnsafeBufferPointer { m in
            pg.withUnsafeBufferPointer { pg in
                floor.withUnsafeBufferPointer { fl in
                    out.withUnsafeMutableBufferPointer { o in
                        let raw = UnsafeRawPointer(m.baseAddress!)
                        for y in 0..<h {
                            for x in 0..<w {
                                let i = (y + 1) * pw + x + 1
                                if m[i] != 0 { continue }
                                // No mask pixel among the 8 neighbours (three 4-byte row loads, masked to
                                // the 3x3 block; mask bytes are 0/1 or at least non-zero where set): nothing
                                // to complete here.
                                let above = raw.loadUnaligned(fromByteOffset: i - pw - 1, as: UInt32.self)
                                let mid = raw.loadUnaligned(fromByteOffset: i - 1, as: UInt32.self)
                                let below = raw.loadUnaligned(fromByteOffset: i + pw - 1, as: UInt32.self)
                                if UInt32(littleEndian: above | mid | below) & 0xFF_FFFF == 0 { continue }
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

    /// Minimum over the (2 radius + 1)^2 square around each pixel (clamped at the borders), separable: `radius`
    /// passes of a 3-wide minimum along the rows, then along the columns (a (2r + 1)-wide minimum is r 3-wide
    /// ones, also at the clamped borders). Each pass runs over contiguous memory, 8 lanes at a time.
    static func minimumFilter(_ a: [Float], width w: Int, height h: Int, radius r: Int) -> [Float] {
        guard w > 0, h > 0, r > 0 else { return a }
        var cur = a
        var nxt = [Float](repeating: 0, count: w * h)
        @inline(__always) func min3(_ a: Float, _ b: Float, _ c: Float) -> Float {
            let t = a < b ? a : b
            return t < c ? t : c
        }
        // The same selection lane by lane (inputs are finite, so this is the minimum either way).
        @inline(__always) func min3(_ a: SIMD8<Float>, _ b: SIMD8<Float>, _ c: SIMD8<Float>) -> SIMD8<Float> {
            let t = b.replacing(with: a, where: a .< b)
            return c.replacing(with: t, where: t .< c)
        }
        let v = MemoryLayout<Float>.stride   // bytes per element
        for _ in 0..<min(r, w - 1) {
            cur.withUnsafeBufferPointer { c in
                nxt.withUnsafeMutableBufferPointer { n in
                    let cp = UnsafeRawPointer(c.baseAddress!), np = UnsafeMutableRawPointer(n.baseAddress!)
                    for y in 0..<h {
                        let row = y * w
                        n[row] = c[row] < c[row + 1] ? c[row] : c[row + 1]
                        var x = 1
                        while x + 8 <= w - 1 {
                            let m = min3(cp.loadUnaligned(fromByteOffset: (row + x - 1) * v, as: SIMD8<Float>.self),
                                         cp.loadUnaligned(fromByteOffset: (row + x) * v, as: SIMD8<Float>.self),
                                         cp.loadUnaligned(fromByteOffset: (row + x + 1) * v, as: SIMD8<Float>.self))
                            np.storeBytes(of: m, toByteOffset: (row + x) * v, as: SIMD8<Float>.self)
                            x += 8
                        }
                        while x < w - 1 { n[row + x] = min3(c[row + x - 1], c[row + x], c[row + x + 1]); x += 1 }
                        n[row + w - 1] = c[row + w - 2] < c[row + w - 1] ? c[row + w - 2] : c[row + w - 1]
                    }
                }
            }
            swap(&cur, &nxt)
        }
        for _ in 0..<min(r, h - 1) {
            cur.withUnsafeBufferPointer { c in
                nxt.withUnsafeMutableBufferPointer { n in
                    let cp = UnsafeRawPointer(c.baseAddress!), np = UnsafeMutableRawPointer(n.baseAddress!)
                    for y in 0..<h {
                        let up = y > 0 ? (y - 1) * w : y * w, mid = y * w, down = y + 1 < h ? (y + 1) * w : y * w
                        var x = 0
                        while x + 8 <= w {
                            let m = min3(cp.loadUnaligned(fromByteOffset: (up + x) * v, as: SIMD8<Float>.self),
                                         cp.loadUnaligned(fromByteOffset: (mid + x) * v, as: SIMD8<Float>.self),
                                         cp.loadUnaligned(fromByteOffset: (down + x) * v, as: SIMD8<Float>.self))
                            np.storeBytes(of: m, toByteOffset: (mid + x) * v, as: SIMD8<Float>.self)
                            x += 8
                        }
                        while x < w { n[mid + x] = min3(c[up + x], c[mid + x], c[down + x]); x += 1 }
                    }
                }
            }
            swap(&cur, &nxt)
        }
        return cur
    }
}
