import Retina

/// Finds the foveal avascular zone: the dark, vessel-free region around the darkest point near the centre.
///
/// Steps: seed = darkest point of a heavily smoothed image within `fazSearchRadiusMM` of the centre; level =
/// seed + `fazThresholdFraction` x (median - seed) on a moderately smoothed image; region = the 4-connected
/// part below that level holding the seed, holes filled, opened by a disk (shape regularisation), the
/// seed's component kept. No FAZ is reported when the image has no contrast around the seed, or the region
/// touches the border, or its area is outside [minFAZAreaMM2, maxFAZAreaMM2].
struct FAZDetector {
    let config: VesselGraphConfig

    /// FAZ mask (1 inside, holes filled) or nil; `vesselMask` (1 = vessel) bounds the growth to the vessel walls.
    func detect(_ image: GrayImage, vesselMask: [UInt8]?) -> [UInt8]? {
        let w = image.width, h = image.height, n = w * h
        let umPerPX = image.pixelSizeMM * 1000
        guard config.detectFAZ, w >= 8, h >= 8 else { return nil }
        let s = GaussianBlur.apply(image.pixels, width: w, height: h, sigmaPX: config.fazSmoothingSigmaUM / umPerPX)
        let cx = Double(w - 1) / 2, cy = Double(h - 1) / 2
        let rPX = config.fazSearchRadiusMM / image.pixelSizeMM
        // The seed plane is only read within the search disc: blur a window of the disc plus 3 sigma.
        let seedSigmaPX = config.fazSeedSigmaUM / umPerPX
        let margin = Int((rPX + 3 * seedSigmaPX).rounded(.up))
        let x0 = max(0, Int(cx) - margin), x1 = min(w - 1, Int(cx.rounded(.up)) + margin)
        let y0 = max(0, Int(cy) - margin), y1 = min(h - 1, Int(cy.rounded(.up)) + margin)
        let ww = x1 - x0 + 1, wh = y1 - y0 + 1
        var window = [Float](repeating: 0, count: ww * wh)
        for y in 0..<wh { for x in 0..<ww { window[y * ww + x] = image.pixels[(y + y0) * w + x + x0] } }
        let seedPlane = GaussianBlur.apply(window, width: ww, height: wh, sigmaPX: seedSigmaPX)
        var seed = -1
        var seedLevel = Float.infinity
        for y in y0...y1 {
            let dy = Double(y) - cy
            for x in x0...x1 {
                let dx = Double(x) - cx
                if dx * dx + dy * dy > rPX * rPX { continue }
                let v = seedPlane[(y - y0) * ww + x - x0]
                if v < seedLevel { seedLevel = v; seed = y * w + x }
            }
        }
        guard seed >= 0 else { return nil }
        let median = Self.median(s)
        guard median - seedLevel > 0.02 else { return nil }  // no dark centre: blank or inverted image
        let level = seedLevel + Float(config.fazThresholdFraction) * (median - seedLevel)
        var below = [UInt8](repeating: 0, count: n)
        below.withUnsafeMutableBufferPointer { b in for i in 0..<n where s[i] < level { b[i] = 1 } }
        guard below[seed] != 0 else { return nil }
        var region = Self.component(of: seed, in: below, width: w, height: h)
        let clearancePX = config.fazVesselClearanceUM / umPerPX
        if let vessels = vesselMask, clearancePX > 0,
           let free = Self.capillaryFree(around: region, vessels: vessels, radiusPX: clearancePX, width: w, height: h) {
            region = free
        }
        // The smoothed level stops short of the first vessels; annotators draw the FAZ up to the vessel walls,
        // so grow the region through avascular pixels by at most the smoothing scale.
        let reach = Int((config.fazGrowToVesselsUM / umPerPX).rounded())
        if let vessels = vesselMask, reach > 0 { Self.grow(&region, through: vessels, steps: reach, width: w, height: h) }
        region = Morphology.fillHoles(region, width: w, height: h)
        if config.fazCoreRadiusUM > 0 {
            // Dark non-perfusion often touches the FAZ: keep only what lies near the FAZ's round core (an
            // opening by a large disk), so a leak through a neck into a dropout region is cut.
            let core = Morphology.open(region, width: w, height: h, radiusPX: config.fazCoreRadiusUM / umPerPX)
            if core.contains(1) {
                let near = Morphology.dilate(core, width: w, height: h, radiusPX: config.fazCoreReachUM / umPerPX)
                region.withUnsafeMutableBufferPointer { rg in for i in 0..<n where near[i] == 0 { rg[i] = 0 } }
            }
        }
        region = Morphology.open(region, width: w, height: h, radiusPX: config.fazOpeningRadiusUM / umPerPX)
        // The opening may split the region; keep the seed's piece (or the largest one if the seed fell out).
        let cc = ComponentLabeling(region, width: w, height: h, eightConnected: false)
        guard cc.count > 0 else { return nil }
        var keep = Int(cc.labels[seed])
        if keep < 0 { keep = cc.sizes.indices.max { cc.sizes[$0] < cc.sizes[$1] }! }
        var faz = [UInt8](repeating: 0, count: n)
        faz.withUnsafeMutableBufferPointer { f in for i in 0..<n where cc.labels[i] == Int32(keep) { f[i] = 1 } }
        if cc.touchesBorder(width: w, height: h)[keep] { return nil }
        let areaMM2 = Double(cc.sizes[keep]) * image.pixelAreaMM2
        guard areaMM2 >= config.minFAZAreaMM2, areaMM2 <= config.maxFAZAreaMM2 else { return nil }
        return faz
    }

    /// The capillary-free zone around the dark region: pixels at least `radiusPX` from every vessel pixel,
    /// the 4-connected piece holding the dark region's most vessel-distant pixel, dilated back by `radiusPX`
    /// and cut at the vessels (an opening of the avascular area by a disk). Nil when the dark region holds no
    /// pixel that far from the vessels.
    static func capillaryFree(around dark: [UInt8], vessels: [UInt8], radiusPX r: Double, width w: Int, height h: Int) -> [UInt8]? {
        let n = w * h
        let d2 = DistanceTransform.squared(vessels, width: w, height: h)
        let r2 = Float(r * r)
        var best = -1
        var bestD2: Float = -1
        for i in 0..<n where dark[i] != 0 && d2[i] > bestD2 { bestD2 = d2[i]; best = i }
        guard best >= 0, bestD2 >= r2 else { return nil }
        var far = [UInt8](repeating: 0, count: n)
        far.withUnsafeMutableBufferPointer { f in for i in 0..<n where d2[i] >= r2 { f[i] = 1 } }
        let core = component(of: best, in: far, width: w, height: h)
        var out = Morphology.dilate(core, width: w, height: h, radiusPX: r)
        out.withUnsafeMutableBufferPointer { o in for i in 0..<n where vessels[i] != 0 { o[i] = 0 } }
        return out
    }

    /// Breadth-first growth of `region` into pixels where `vessels` is 0, at most `steps` 8-connected steps.
    static func grow(_ region: inout [UInt8], through vessels: [UInt8], steps: Int, width w: Int, height h: Int) {
        var frontier: [Int32] = []
        for i in 0..<(w * h) where region[i] != 0 { frontier.append(Int32(i)) }
        var next: [Int32] = []
        for _ in 0..<steps {
            next.removeAll(keepingCapacity: true)
            for p32 in frontier {
                let p = Int(p32), x = p % w, y = p / w
                for yy in max(0, y - 1)...min(h - 1, y + 1) {
                    for xx in max(0, x - 1)...min(w - 1, x + 1) {
                        let q = yy * w + xx
                        if region[q] == 0 && vessels[q] == 0 { region[q] = 1; next.append(Int32(q)) }
                    }
                }
            }
            if next.isEmpty { break }
            swap(&frontier, &next)
        }
    }

    static func component(of seed: Int, in m: [UInt8], width w: Int, height h: Int) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: w * h)
        var stack: [Int32] = [Int32(seed)]
        out[seed] = 1
        while let p32 = stack.popLast() {
            let p = Int(p32), x = p % w, y = p / w
            func visit(_ q: Int) { if m[q] != 0 && out[q] == 0 { out[q] = 1; stack.append(Int32(q)) } }
            if x > 0 { visit(p - 1) }
            if x + 1 < w { visit(p + 1) }
            if y > 0 { visit(p - w) }
            if y + 1 < h { visit(p + w) }
        }
        return out
    }

    /// Median by a 4096-bin histogram of [0, 1] intensities (exact enough for a threshold, O(n)).
    static func median(_ v: [Float]) -> Float {
        var hist = [Int](repeating: 0, count: 4096)
        // Clamping the scaled value before the conversion gives the same bin as clamping the integer after it
        // (truncation toward zero), without the conversion's range check or a bounds check per pixel.
        hist.withUnsafeMutableBufferPointer { hb in
            v.withUnsafeBufferPointer { vb in
                for x in vb { hb[Int(min(4095, max(0, x * 4095)))] += 1 }
            }
        }
        var acc = 0
        for i in 0..<4096 {
            acc += hist[i]
            if 2 * acc >= v.count { return Float(i) / 4095 }
        }
        return 1
    }
}
