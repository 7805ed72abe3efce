import Foundation
/// Separable Gaussian smoothing of row-major Float planes.
///
/// Small sigmas (< 2 px) use an exact sampled kernel; larger ones use three successive box filters, whose
/// running sums cost O(1) per pixel whatever the sigma (Wells 1986), so a 100 um background estimate is as
/// cheap as a 6 um denoise. Borders are handled by clamping coordinates (edge pixels repeat).
enum GaussianBlur {
    /// Returns `plane` (width x height) smoothed with standard deviation `sigmaPX` pixels; sigma <= 0 copies.
    static func apply(_ plane: [Float], width: Int, height: Int, sigmaPX: Double) -> [Float] {
        guard sigmaPX > 0.05, width > 0, height > 0 else { return plane }
        var a = plane
        var tmp = [Float](repeating: 0, count: plane.count)
        if sigmaPX < 2 {
            let r = max(1, Int((3 * sigmaPX).rounded(.up)))
            var k = [Float](repeating: 0, count: 2 * r + 1)
            var s: Float = 0
            for i in -r...r {
                let v = Float(exp(-Double(i * i) / (2 * sigmaPX * sigmaPX)))
                k[i + r] = v; s += v
            }
            for i in 0..<k.count { k[i] /= s }
            convolveRows(a, &tmp, width, height, k, r)
            convolveColumns(tmp, &a, width, height, k, r)
            return a
        }
        for r in boxRadii(sigmaPX) {
            boxRows(a, &tmp, width, height, r)
            boxColumns(tmp, &a, width, height, r)
        }
        return a
    }

    /// Radii of three boxes whose cascade has variance sigma^2 (Kovesi's "Fast almost-Gaussian filtering").
    static func boxRadii(_ sigma: Double) -> [Int] {
        let n = 3.0
        let wIdeal = (12 * sigma * sigma / n + 1).squareRoot()
        var wl = Int(wIdeal.rounded(.down))
        if wl % 2 == 0 { wl -= 1 }
        let wu = wl + 2
        let mIdeal = (12 * sigma * sigma - n * Double(wl * wl) - 4 * n * Double(wl) - 3 * n) / (-4 * Double(wl) - 4)
        let m = Int(mIdeal.rounded())
        return (0..<3).map { i in ((i < m ? wl : wu) - 1) / 2 }
    }

    private static func convolveRows(_ src: [Float], _ dst: inout [Float], _ w: Int, _ h: Int, _ k: [Float], _ r: Int) {
        src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                k.withUnsafeBufferPointer { k in
                    let sp = UnsafeRawPointer(s.baseAddress!), dp = UnsafeMutableRawPointer(d.baseAddress!)
                    for y in 0..<h {
                        let row = y * w
                        var x = 0
                        while x < w {
                            // Interior: 8 outputs at a time (same sums in the same order as the scalar path).
                            if x >= r && x + 7 + r < w {
                                var acc = SIMD8<Float>(repeating: 0)
                                for i in 0...(2 * r) {
                                    acc += SIMD8<Float>(repeating: k[i])
                                        * sp.loadUnaligned(fromByteOffset: (row + x - r + i) * 4, as: SIMD8<Float>.self)
                                }
                                dp.storeBytes(of: acc, toByteOffset: (row + x) * 4, as: SIMD8<Float>.self)
                                x += 8
                                continue
                            }
                            var acc: Float = 0
                            if x >= r && x + r < w {
                                for i in 0...(2 * r) { acc += k[i] * s[row + x - r + i] }
                            } else {
                                for i in 0...(2 * r) { acc += k[i] * s[row + min(w - 1, max(0, x - r + i))] }
                            }
                            d[row + x] = acc
                            x += 1
                        }
                    }
                }
            }
        }
    }

    private static func convolveColumns(_ src: [Float], _ dst: inout [Float], _ w: Int, _ h: Int, _ k: [Float], _ r: Int) {
        src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                k.withUnsafeBufferPointer { k in
                    // Row-wise accumulation keeps memory access sequential (cache friendly); 8 lanes at a time.
                    let sp = UnsafeRawPointer(s.baseAddress!), dp = UnsafeMutableRawPointer(d.baseAddress!)
                    let lanes = w & ~7
                    for y in 0..<h {
                        let row = y * w
                        for x in 0..<w { d[row + x] = 0 }
                        for i in 0...(2 * r) {
                            let sy = min(h - 1, max(0, y - r + i)) * w
                            let kv = k[i], kv8 = SIMD8<Float>(repeating: k[i])
                            var x = 0
                            while x < lanes {
                                let o = (row + x) * 4
                                let acc = dp.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
                                    + kv8 * sp.loadUnaligned(fromByteOffset: (sy + x) * 4, as: SIMD8<Float>.self)
                                dp.storeBytes(of: acc, toByteOffset: o, as: SIMD8<Float>.self)
                                x += 8
                            }
                            while x < w { d[row + x] += kv * s[sy + x]; x += 1 }
                        }
                    }
                }
            }
        }
    }

    /// Box mean of radius r along rows, clamped borders, O(1) per pixel.
    ///
    /// Each output is `acc * norm` with `acc += s[x + r + 1] - s[x - r]` per step, in that order (the result is
    /// bit-identical to the plain running sum; `GaussianBlurTests` checks it). The running sum is a chain of
    /// dependent adds, so four rows are scanned together (four independent chains the CPU overlaps), and in
    /// the interior the differences are taken eight at a time into a scratch row first.
    static func boxRows(_ src: [Float], _ dst: inout [Float], _ w: Int, _ h: Int, _ r: Int) {
        let norm = 1 / Float(2 * r + 1)
        // Interior: both x - r and x + r + 1 inside the row; clamped indices only near the ends.
        let lo = min(w, r), hi = max(lo, w - r - 1)
        let diff = UnsafeMutablePointer<Float>.allocate(capacity: 4 * max(1, w))
        defer { diff.deallocate() }
        src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                let sp = UnsafeRawPointer(s.baseAddress!), dfp = UnsafeMutableRawPointer(diff)
                /// Start sum of row `row` and its interior differences into diff[k * w + x], x in lo..<hi.
                func prepare(_ row: Int, _ k: Int) -> Float {
                    var acc: Float = 0
                    for i in -r...r { acc += s[row + min(w - 1, max(0, i))] }
                    let base = k * w
                    var x = lo
                    while x + 8 <= hi {
                        let v = sp.loadUnaligned(fromByteOffset: (row + x + r + 1) * 4, as: SIMD8<Float>.self)
                            - sp.loadUnaligned(fromByteOffset: (row + x - r) * 4, as: SIMD8<Float>.self)
                        dfp.storeBytes(of: v, toByteOffset: (base + x) * 4, as: SIMD8<Float>.self)
                        x += 8
                    }
                    while x < hi { diff[base + x] = s[row + x + r + 1] - s[row + x - r]; x += 1 }
                    return acc
                }
                /// The clamped head (x < lo) of row `row`, advancing `acc`.
                func head(_ row: Int, _ acc: inout Float) {
                    for x in 0..<lo {
                        d[row + x] = acc * norm
                        acc += s[row + min(w - 1, x + r + 1)] - s[row + max(0, x - r)]
                    }
                }
                /// The clamped tail (x >= hi) of row `row`.
                func tail(_ row: Int, _ acc: inout Float) {
                    for x in hi..<w {
                        d[row + x] = acc * norm
                        acc += s[row + min(w - 1, x + r + 1)] - s[row + max(0, x - r)]
                    }
                }
                var y = 0
                while y + 4 <= h {
                    let r0 = y * w, r1 = r0 + w, r2 = r1 + w, r3 = r2 + w
                    var a0 = prepare(r0, 0), a1 = prepare(r1, 1), a2 = prepare(r2, 2), a3 = prepare(r3, 3)
                    head(r0, &a0); head(r1, &a1); head(r2, &a2); head(r3, &a3)
                    for x in lo..<hi {
                        d[r0 + x] = a0 * norm; a0 += diff[x]
                        d[r1 + x] = a1 * norm; a1 += diff[w + x]
                        d[r2 + x] = a2 * norm; a2 += diff[2 * w + x]
                        d[r3 + x] = a3 * norm; a3 += diff[3 * w + x]
                    }
                    tail(r0, &a0); tail(r1, &a1); tail(r2, &a2); tail(r3, &a3)
                    y += 4
                }
                while y < h {
                    let row = y * w
                    var acc = prepare(row, 0)
                    head(row, &acc)
                    for x in lo..<hi { d[row + x] = acc * norm; acc += diff[x] }
                    tail(row, &acc)
                    y += 1
                }
            }
        }
    }

    /// Box mean of radius r along columns, processed a row at a time for sequential access.
    private static func boxColumns(_ src: [Float], _ dst: inout [Float], _ w: Int, _ h: Int, _ r: Int) {
        let norm = 1 / Float(2 * r + 1)
        var acc = [Float](repeating: 0, count: w)
        src.withUnsafeBufferPointer { s in
            dst.withUnsafeMutableBufferPointer { d in
                acc.withUnsafeMutableBufferPointer { a in
                    for i in -r...r {
                        let sy = min(h - 1, max(0, i)) * w
                        for x in 0..<w { a[x] += s[sy + x] }
                    }
                    let sp = UnsafeRawPointer(s.baseAddress!), dp = UnsafeMutableRawPointer(d.baseAddress!)
                    let ap = UnsafeMutableRawPointer(a.baseAddress!)
                    let lanes = w & ~7, norm8 = SIMD8<Float>(repeating: norm)
                    for y in 0..<h {
                        let row = y * w
                        let add = min(h - 1, y + r + 1) * w, sub = max(0, y - r) * w
                        var x = 0
                        while x < lanes {
                            var acc = ap.loadUnaligned(fromByteOffset: x * 4, as: SIMD8<Float>.self)
                            dp.storeBytes(of: acc * norm8, toByteOffset: (row + x) * 4, as: SIMD8<Float>.self)
                            acc += sp.loadUnaligned(fromByteOffset: (add + x) * 4, as: SIMD8<Float>.self)
                                - sp.loadUnaligned(fromByteOffset: (sub + x) * 4, as: SIMD8<Float>.self)
                            ap.storeBytes(of: acc, toByteOffset: x * 4, as: SIMD8<Float>.self)
                            x += 8
                        }
                        while x < w {
                            d[row + x] = a[x] * norm
                            a[x] += s[add + x] - s[sub + x]
                            x += 1
                        }
                    }
                }
            }
        }
    }
}
