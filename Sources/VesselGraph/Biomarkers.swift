import Foundation
/// Global vascular biomarkers computed from masks.
enum Biomarkers {
    /// Chain length of a one-pixel-wide skeleton, px: every link between 8-neighbour skeleton pixels once,
    /// 1 px axial and sqrt 2 px diagonal, a diagonal link skipped when an axial two-step path joins the same
    /// pixels (so a staircase corner or a junction triangle is not counted twice); an isolated pixel counts
    /// 1 px. This is Retina's `VesselMaskMorphometry` skeleton length (the simulator's truth and the measure
    /// applied to manual masks). Unlike a sum of traced segment lengths, it includes the links inside
    /// branch-point clusters, which segments start and end at (about 10% of a capillary mesh's skeleton).
    static func chainLengthPX(_ skeleton: [UInt8], pixels: [Int32], width w: Int, height h: Int) -> Double {
        var axial = 0, diagonal = 0, isolated = 0
        @inline(__always) func on(_ x: Int, _ y: Int) -> Bool { x >= 0 && y >= 0 && x < w && y < h && skeleton[y * w + x] != 0 }
        skeleton.withUnsafeBufferPointer { sk in
            // Pixels come in raster order: one division per row, not two per pixel.
            var rowStart = 0, rowEnd = 0, y = 0
            for p32 in pixels {
                let p = Int(p32)
                if p >= rowEnd || p < rowStart { y = p / w; rowStart = y * w; rowEnd = rowStart + w }
                let x = p - rowStart
                let e: Bool, we: Bool, s: Bool, n: Bool, se: Bool, ne: Bool, sw: Bool, nw: Bool
                if x > 0 && y > 0 && x + 1 < w && y + 1 < h {
                    // Inside the border: direct reads.
                    e = sk[p + 1] != 0; we = sk[p - 1] != 0; s = sk[p + w] != 0; n = sk[p - w] != 0
                    se = sk[p + w + 1] != 0; ne = sk[p - w + 1] != 0; sw = sk[p + w - 1] != 0; nw = sk[p - w - 1] != 0
                } else {
                    e = on(x + 1, y); we = on(x - 1, y); s = on(x, y + 1); n = on(x, y - 1)
                    se = on(x + 1, y + 1); ne = on(x + 1, y - 1); sw = on(x - 1, y + 1); nw = on(x - 1, y - 1)
                }
                var a = 0, d = 0
                if e { a += 1 }
                if we { a += 1 }
                if s { a += 1 }
                if n { a += 1 }
                if !e && !s && se { d += 1 }
                if !e && !n && ne { d += 1 }
                if !we && !s && sw { d += 1 }
                if !we && !n && nw { d += 1 }
                if a + d == 0 { isolated += 1 }
                axial += a; diagonal += d
            }
        }
        // Each link was seen from both of its pixels.
        return (Double(axial) + Double(diagonal) * 2.0.squareRoot()) / 2 + Double(isolated)
    }

    /// Box-counting (Minkowski-Bouligand) dimension of a pixel set: slope of log N(s) against log(1/s) for
    /// boxes of 2, 4, 8, ... px up to a quarter of the shorter side; 0 when fewer than three sizes fit or the set is empty.
    static func boxCountingDimension(_ pixels: [Int32], width w: Int, height h: Int) -> Double {
        guard !pixels.isEmpty else { return 0 }
        var sizes: [Int] = []
        var s = 2
        while s <= min(w, h) / 4 { sizes.append(s); s *= 2 }
        guard sizes.count >= 3 else { return 0 }
        var xs: [Double] = [], ys: [Double] = []
        // Box sizes are consecutive powers of two, so box indices are shifts (no divisions per pixel).
        // Occupancy of the smallest boxes from the pixels (raster order: one division per row), then each larger
        // size from the previous one: a box of side 2s is occupied exactly when one of its four boxes of side s
        // is (box indices halve, and ceil(ceil(w / s) / 2) = ceil(w / 2s)), so each size costs its number of
        // boxes instead of a pass over every pixel.
        var bw = (w + sizes[0] - 1) / sizes[0], bh = (h + sizes[0] - 1) / sizes[0]
        var grid = [UInt8](repeating: 0, count: bw * bh)
        let shift0 = sizes[0].trailingZeroBitCount
        grid.withUnsafeMutableBufferPointer { g in
            var rowStart = 0, rowEnd = 0, y = 0
            for p32 in pixels {
                let p = Int(p32)
                if p >= rowEnd || p < rowStart { y = p / w; rowStart = y * w; rowEnd = rowStart + w }
                g[(y &>> shift0) * bw + ((p - rowStart) &>> shift0)] = 1
            }
        }
        for (level, s) in sizes.enumerated() {
            if level > 0 {
                let nbw = (w + s - 1) / s, nbh = (h + s - 1) / s
                var next = [UInt8](repeating: 0, count: nbw * nbh)
                next.withUnsafeMutableBufferPointer { nx in
                    grid.withUnsafeBufferPointer { g in
                        for by in 0..<bh {
                            let row = by * bw, nrow = (by &>> 1) * nbw
                            for bx in 0..<bw { nx[nrow + (bx &>> 1)] |= g[row + bx] }
                        }
                    }
                }
                grid = next; bw = nbw; bh = nbh
            }
            var count = 0
            grid.withUnsafeBufferPointer { g in for c in g { count += Int(c) } }
            xs.append(log(1 / Double(s))); ys.append(log(Double(count)))
        }
        let mx = xs.reduce(0, +) / Double(xs.count), my = ys.reduce(0, +) / Double(ys.count)
        var num = 0.0, den = 0.0
        for i in 0..<xs.count { num += (xs[i] - mx) * (ys[i] - my); den += (xs[i] - mx) * (xs[i] - mx) }
        return den > 0 ? num / den : 0
    }

    /// Perfusion density (vessel-pixel fraction, 0-1) per ETDRS sector that lies at least half inside the
    /// image: keys "perfusion_density_<sector>" (C, IS, IN, II, IT, OS, ON, OI, OT).
    static func sectorDensities(mask: [UInt8], width w: Int, height h: Int,
                                grid: ETDRSGrid) -> [String: Double] {
        var inside = [Int](repeating: 0, count: 10), vessel = [Int](repeating: 0, count: 10)
        // `ETDRSGrid.sector` with its per-column and per-row terms computed once (the same expressions, so
        // the same codes): a full per-pixel evaluation was most of the biomarker stage.
        let dxs = (0..<w).map { (Double($0) - grid.centreX) * grid.pixelSizeMM * grid.nasalSign }
        let dx2s = dxs.map { $0 * $0 }
        // |dx| and the sector a column wins when |dx| > |up| (1 nasal, 3 temporal), once per column.
        let adxs = dxs.map { abs($0) }
        let sideOf = dxs.map { $0 > 0 ? 1 : 3 }
        inside.withUnsafeMutableBufferPointer { ins in
            vessel.withUnsafeMutableBufferPointer { ves in
                mask.withUnsafeBufferPointer { m in
                dx2s.withUnsafeBufferPointer { dx2 in
                adxs.withUnsafeBufferPointer { adx in
                sideOf.withUnsafeBufferPointer { side in
                    for y in 0..<h {
                        let up = (grid.centreY - Double(y)) * grid.pixelSizeMM, up2 = up * up
                        let aup = abs(up), vertical = up > 0 ? 0 : 2
                        let row = y * w
                        for x in 0..<w {
                            let r2 = dx2[x] + up2
                            let s: Int
                            if r2 < 0.25 { s = 0 } else if r2 >= 9 { s = 9 } else {
                                s = (r2 < 2.25 ? 1 : 5) + (aup >= adx[x] ? vertical : side[x])
                            }
                            ins[s] += 1
                            ves[s] += Int(m[row + x])
                        }
                    }
                }
                }
                }
                }
            }
        }
        // Full sector areas in pixels: centre disc pi*0.5^2, each inner sector pi*(1.5^2-0.5^2)/4, outer pi*(3^2-1.5^2)/4 mm2.
        let pxArea = grid.pixelSizeMM * grid.pixelSizeMM
        let full: [Double] = [Double.pi * 0.25] + Array(repeating: Double.pi * 2 / 4, count: 4)
            + Array(repeating: Double.pi * 6.75 / 4, count: 4)
        var out: [String: Double] = [:]
        for s in 0..<9 where Double(inside[s]) * pxArea >= 0.5 * full[s] {
            out["perfusion_density_" + ETDRSGrid.sectorNames[s]] = Double(vessel[s]) / Double(inside[s])
        }
        return out
    }
}
