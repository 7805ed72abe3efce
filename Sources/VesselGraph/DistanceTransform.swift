/// Exact Euclidean distance transform (Felzenszwalb & Huttenlocher 2012): two 1-D lower-envelope passes.
enum DistanceTransform {
    /// Squared distance, in px^2, from every pixel to the nearest pixel where `isSource` is non-zero.
    /// With no source pixel at all every distance is `Float.infinity`.
    static func squared(_ isSource: [UInt8], width w: Int, height h: Int) -> [Float] {
        let inf = Float(1e20)
        var f = [Float](repeating: 0, count: w * h)
        let n = max(w, h)
        var line = [Float](repeating: 0, count: n)
        var out = [Float](repeating: 0, count: n)
        var v = [Int](repeating: 0, count: n)
        var z = [Float](repeating: 0, count: n + 1)
        f.withUnsafeMutableBufferPointer { f in
            isSource.withUnsafeBufferPointer { src in
                for i in 0..<(w * h) { f[i] = src[i] != 0 ? 0 : inf }
            }
            line.withUnsafeMutableBufferPointer { line in
                out.withUnsafeMutableBufferPointer { out in
                    v.withUnsafeMutableBufferPointer { v in
                        z.withUnsafeMutableBufferPointer { z in
                            // Columns, then rows.
                            for x in 0..<w {
                                for y in 0..<h { line[y] = f[y * w + x] }
                                envelope(line, h, out, v, z)
                                for y in 0..<h { f[y * w + x] = out[y] }
                            }
                            for y in 0..<h {
                                for x in 0..<w { line[x] = f[y * w + x] }
                                envelope(line, w, out, v, z)
                                for x in 0..<w { f[y * w + x] = out[x] }
                            }
                        }
                    }
                }
            }
            for i in 0..<(w * h) where f[i] >= inf * 0.5 { f[i] = .infinity }
        }
        return f
    }

    @inline(__always)
    private static func envelope(_ f: UnsafeMutableBufferPointer<Float>, _ n: Int, _ d: UnsafeMutableBufferPointer<Float>,
                                 _ v: UnsafeMutableBufferPointer<Int>, _ z: UnsafeMutableBufferPointer<Float>) {
        let inf = Float(1e20)
        // Skip leading infinite samples: parabolas rooted there never win and overflow the intersection maths.
        var first = -1
        for q in 0..<n where f[q] < inf { first = q; break }
        if first < 0 { for q in 0..<n { d[q] = inf }; return }
        var k = 0
        v[0] = first; z[0] = -.infinity; z[1] = .infinity
        var q = first + 1
        while q < n {
            if f[q] < inf {
                let fq = f[q] + Float(q * q)
                var s: Float
                while true {
                    let p = v[k]
                    s = (fq - (f[p] + Float(p * p))) / Float(2 * (q - p))
                    if s <= z[k] { k -= 1 } else { break }
                }
                k += 1
                v[k] = q; z[k] = s; z[k + 1] = .infinity
            }
            q += 1
        }
        k = 0
        for q in 0..<n {
            while z[k + 1] < Float(q) { k += 1 }
            let dq = Float(q - v[k])
            d[q] = dq * dq + f[v[k]]
        }
    }
}

extension DistanceTransform {
    /// Squared distance, px^2, from each of `pixels` to the nearest pixel where `mask` is 0, searching outwards
    /// ring by ring up to `maxPX` (beyond it `maxPX^2` is returned). Cheaper than a full transform when only
    /// the centreline needs radii.
    static func squaredToBackground(at pixels: [Int32], mask: [UInt8], width w: Int, height h: Int, maxPX: Int) -> [Float] {
        var out = [Float](repeating: Float(maxPX * maxPX), count: pixels.count)
        out.withUnsafeMutableBufferPointer { out in
        mask.withUnsafeBufferPointer { m in
            for (i, p32) in pixels.enumerated() {
                let p = Int(p32), px = p % w, py = p / w
                if m[p] == 0 { out[i] = 0; continue }
                var best = maxPX * maxPX
                var k = 1
                while k <= maxPX && k * k < best {
                    if px - k >= 0 && px + k < w && py - k >= 0 && py + k < h {
                        // The whole ring inside the image (almost always): the same candidates without bounds tests,
                        // in plain counted loops (range iteration cost more than the tests).
                        let top = p - k * w, bottom = p + k * w, k2 = k * k
                        var dx = -k
                        while dx <= k {
                            if m[top + dx] == 0 || m[bottom + dx] == 0 { best = min(best, dx * dx + k2) }
                            dx += 1
                        }
                        var row = p - (k - 1) * w, dy = -k + 1
                        while dy < k {
                            if m[row - k] == 0 || m[row + k] == 0 { best = min(best, k2 + dy * dy) }
                            row += w; dy += 1
                        }
                        k += 1
                        continue
                    }
                    // Ring at Chebyshev distance k: top and bottom rows, then left and right columns.
                    for dx in -k...k {
                        let x = px + dx
                        if x < 0 || x >= w { continue }
                        if py - k >= 0 && m[(py - k) * w + x] == 0 { best = min(best, dx * dx + k * k) }
                        if py + k < h && m[(py + k) * w + x] == 0 { best = min(best, dx * dx + k * k) }
                    }
                    for dy in (-k + 1)..<k {
                        let y = py + dy
                        if y < 0 || y >= h { continue }
                        if px - k >= 0 && m[y * w + px - k] == 0 { best = min(best, k * k + dy * dy) }
                        if px + k < w && m[y * w + px + k] == 0 { best = min(best, k * k + dy * dy) }
                    }
                    k += 1
                }
                out[i] = Float(best)
            }
        }
        }
        return out
    }
}
