import Common
import Foundation

/// Turns a vessel forest with pathology into an en-face OCTA image plus masks.
///
/// Vessels are rasterised as anti-aliased capsules (visible half-width = max(radius, PSF FWHM / 2)) into a
/// maximum-projection layer; the perfused background, a smooth multiplicative field, speckle, quantum noise,
/// motion lines and floaters follow; finally gamma and an auto-gain to a drawn mean and contrast. Every
/// quality draw comes from the quality stream only, so it is independent of severity.
struct OCTARenderer {
    let config: SimulatorConfig

    struct Quality { var targetMean, targetSD, gamma: Double; var motionLines, floaters: Int }

    struct Output {
        var image: GrayImage
        var vesselMask: BinaryMask
        var fazMask: BinaryMask
        var dropoutMask: BinaryMask
        /// Length of the union of the visible centrelines on the pixel grid (`CentrelineRaster`), mm.
        var visibleLengthMM: Double
        /// Sum of the visible simulated centreline lengths clipped to the field (overlaps count twice), mm.
        var geometricLengthMM: Double
        var quality: Quality
    }

    /// - Parameter fazBoundMM: nil: the FAZ truth is the drawn outline (pixel centres inside `faz`).
    ///   Otherwise the FAZ truth is what an annotator draws on the image: the vessel-free region around the
    ///   outline bounded by the innermost perfused vessels (the perifoveal ring) and, where the ring is
    ///   missing (dropout), by the ring's course `fazBoundMM` outside the outline.
    func render(pathology: Pathology, faz: StarShape, fazBoundMM: Double? = nil, rng: inout SeededGenerator) -> Output {
        let W = config.sizePX
        let N = W * W
        let ps = config.pixelSizeMM
        let F = config.fovMM
        let ro = config.render
        let tree = pathology.tree
        var layer = [Float](repeating: 0, count: N)
        var mask = [UInt8](repeating: 0, count: N)
        let minHalfMM = ro.psfFWHMUM / 2000

        // Arc length from the root (for venous beading), parents precede children.
        var arc = [Double](repeating: 0, count: tree.count)
        for i in 0..<tree.count {
            let p = Int(tree.parent[i])
            if p >= 0 {
                let dx = tree.x[i] - tree.x[p], dy = tree.y[i] - tree.y[p]
                arc[i] = arc[p] + (dx * dx + dy * dy).squareRoot()
            }
        }
        // Capillary-free zone beside arterioles and venules: a band 40 um wider than the lumen on
        // either side where the unresolved background is darker (no capillaries run alongside them).
        var cfz = [Float](repeating: 0, count: N)
        var visibleLength = 0.0
        var centrelines = CentrelineRaster(width: W)
        let beadPhase = rng.uniform(0, 2 * Double.pi)
        for i in 0..<tree.count {
            let p = Int(tree.parent[i])
            guard p >= 0, tree.perfused[i], tree.perfused[p] else { continue }
            let kind = tree.kind[i]
            var r = tree.radiusMM[i]
            let (weight, inMask) = visibility(kind: kind, radiusMM: r)
            guard weight > 0 else { continue }
            if kind == .vein && r > 0.008 && pathology.beadingAmplitude > 0 {
                let s = 0.5 * (arc[i] + arc[p])
                r *= 1 + pathology.beadingAmplitude * max(0, Foundation.sin(2 * Double.pi * s / pathology.beadingPeriodMM + beadPhase))
            }
            // The point-spread widens what is seen: the drawn profile falls to half its peak at
            // h = sqrt(r^2 + (FWHM/2)^2) from the centreline, and the vessel mask is exactly that half-maximum
            // footprint (mask = what is drawn).
            let h = (r * r + minHalfMM * minHalfMM).squareRoot()
            // Brightness rises with calibre (more decorrelating flow), saturating for arterioles and venules.
            // Arterioles and venules (r >= 6 um, the coarse trees) are brighter than capillaries even where
            // they are thin, rising to full brightness at 26 um (OCTA-500: second-order branches stand out
            // from the grey mesh). Not brighter: with 0.72 at 6 um (full at 18 um), VesselGraph's
            // Otsu-relative threshold rose with the many bright thin arterioles and lost capillaries
            // (`capillary graph --evaluate-synthetic 40`: skeleton length error 10.0-11.9%, ranking test
            // 19 of 28 pairs; with this ramp 8.6%, 23 of 28).
            let coarse = r > 0.0055 && (kind == .artery || kind == .vein)
            let base = coarse ? 0.55 + 0.40 * min(1, (r - 0.006) / 0.020) : 0.45 + 0.45 * min(1, max(0, (r - 0.004) / 0.010))
            let ampA = Float(base * weight) * tree.flow[p], ampB = Float(base * weight) * tree.flow[i]
            // Vessels of the other slab are out of the imaged depth: their projection is blurred, so wider.
            let drawnHalf = inMask ? h : 1.4 * h
            drawVessel(&layer, &mask, W: W, ax: tree.x[p] / ps, ay: tree.y[p] / ps, bx: tree.x[i] / ps, by: tree.y[i] / ps,
                       halfPX: drawnHalf / ps, ampA: ampA, ampB: ampB, profile: Self.profile(radiusMM: r), inMask: inMask)
            if inMask && r >= 0.008 {
                drawVessel(&cfz, &mask, W: W, ax: tree.x[p] / ps, ay: tree.y[p] / ps, bx: tree.x[i] / ps, by: tree.y[i] / ps,
                           halfPX: (h + 0.04) / ps, ampA: 1, ampB: 1, profile: 3, inMask: false)
            }
            if inMask {
                visibleLength += Self.clippedLength(tree.x[p], tree.y[p], tree.x[i], tree.y[i], F: F)
                centrelines.add(ax: tree.x[p] / ps, ay: tree.y[p] / ps, bx: tree.x[i] / ps, by: tree.y[i] / ps)
            }
        }
        for m in pathology.microaneurysms {
            // A saccular dilation blurred by the point-spread: a bright dot clearly wider than its capillary.
            let h = m.r + minHalfMM
            drawVessel(&layer, &mask, W: W, ax: m.x / ps, ay: m.y / ps, bx: m.x / ps, by: m.y / ps,
                       halfPX: h / ps, ampA: 0.95, ampB: 0.95, profile: 1, inMask: true)
        }

        // FAZ and dropout masks at pixel centres. How dark avascular tissue looks depends on the device's
        // noise floor and projection artefacts, so its level is a quality draw too.
        let fazLevel = Float(rng.uniform(0.06, 0.24)), dropoutLevel = Float(rng.uniform(0.2, 0.45))
        var fazBits = [UInt8](repeating: 0, count: N)
        var dropBits = [UInt8](repeating: 0, count: N)
        var perfusionField = [Float](repeating: 1, count: N)
        for y in 0..<W {
            let my = (Double(y) + 0.5) * ps
            for x in 0..<W {
                let mx = (Double(x) + 0.5) * ps
                let k = y * W + x
                let e = faz.radialExcess(mx, my)
                // Inside the FAZ the faint signal (deeper-plexus projection, scatter) is darkest in the
                // middle: from its border level it falls towards 25% with a 100 um decay length.
                if e < 0 { fazBits[k] = 1; perfusionField[k] = fazLevel * Float(0.25 + 0.75 * Foundation.exp(e / 0.1)) }
                else if pathology.inBlob(mx, my) { dropBits[k] = 1; perfusionField[k] = dropoutLevel }
                // Parafoveal halo: the unresolved background thins out over the last 300 um towards the
                // FAZ (to 15% at the outline), so the FAZ fades in as in OCTA-500 instead of having a
                // hard edge. (150 um to 50% before: with the annotated FAZ truth, VesselGraph's smoothed-
                // threshold detector then stopped ~12% short in area; with this halo it is unbiased.)
                if e >= 0 && e < 0.3 { perfusionField[k] *= Float(0.15 + 0.85 * e / 0.3) }
            }
        }
        if let bound = fazBoundMM {
            fazBits = Self.annotatedFAZ(vessels: mask, faz: faz, boundMM: bound, W: W, pixelSizeMM: ps)
            // The FAZ is not dropout (a dropout blob may reach the ring's course).
            for k in 0..<N where fazBits[k] != 0 { dropBits[k] = 0 }
        }
        // Background from unresolved capillaries and the deeper slab: dark in the FAZ and in dropout.
        let smoothPX = max(1, Int((0.055 / ps).rounded()))
        perfusionField = Self.boxBlur(Self.boxBlur(perfusionField, W: W, radius: smoothPX), W: W, radius: smoothPX)
        let cfzDepth = Float(rng.uniform(0.35, 0.6))
        for k in 0..<N where cfz[k] > 0 { perfusionField[k] *= 1 - cfzDepth * cfz[k] }
        // Background: unresolved flow and deeper capillaries, a soft projection tail around every drawn
        // vessel (decorrelation tails and scatter spread the signal beyond the lumen), and a fine grain with
        // about 1.5 px correlation (speckle of unresolved flow), all scaled by the perfusion field so the
        // FAZ and dropout stay dark. The level varies between devices and eyes (quality, independent of
        // severity).
        let white = Float(min(0.9, max(0.2, (ps - 0.005) / 0.02)))
        let smooth = (1 - white * white).squareRoot()
        let backgroundLevel = Float(0.11 * rng.uniform(0.7, 1.4))
        let tailPX = max(1, Int((0.012 / ps).rounded()))
        let tail = Self.boxBlur(Self.boxBlur(layer, W: W, radius: tailPX), W: W, radius: tailPX)
        let tailLevel = Float(rng.uniform(0.13, 0.29))   // 0.10-0.22 before: a greyer mesh
        var grain = [Float](repeating: 0, count: N)
        for k in 0..<N { grain[k] = Float(rng.normal()) }
        let grainWhite = grain
        grain = Self.blur3(grain, W: W)
        for k in 0..<N { grain[k] = 0.375 * (white * grainWhite[k] + smooth * grain[k] / 0.375) }
        var img = [Float](repeating: 0, count: N)
        for k in 0..<N {
            // blur3 of unit white noise has sd 0.375: rescale to unit sd, then a log-normal grain.
            let g = Foundation.exp(0.35 * grain[k] / 0.375 - 0.06125)
            let b = min(0.8, (backgroundLevel * g + tailLevel * tail[k]) * perfusionField[k])
            let v = layer[k]
            img[k] = b + v * (1 - b)
        }

        // Smooth multiplicative illumination field (n x n control grid, smoothstep-bilinear).
        let g = max(2, ro.backgroundGrid)
        var ctrl = [Double](repeating: 0, count: g * g)
        for k in 0..<(g * g) { ctrl[k] = rng.normal() * ro.backgroundFieldSD }
        for y in 0..<W {
            let v = Double(y) / Double(max(1, W - 1)) * Double(g - 1)
            let j = min(g - 2, Int(v)); var fv = v - Double(j); fv = fv * fv * (3 - 2 * fv)
            for x in 0..<W {
                let u = Double(x) / Double(max(1, W - 1)) * Double(g - 1)
                let i = min(g - 2, Int(u)); var fu = u - Double(i); fu = fu * fu * (3 - 2 * fu)
                let a = ctrl[j * g + i] * (1 - fu) + ctrl[j * g + i + 1] * fu
                let c = ctrl[(j + 1) * g + i] * (1 - fu) + ctrl[(j + 1) * g + i + 1] * fu
                img[y * W + x] *= Float(Foundation.exp(a * (1 - fv) + c * fv))
            }
        }

        // Speckle: multiplicative, log-normal, spatially correlated over about 1.5 px (the speckle grain is
        // about the size of the point-spread, not one pixel), plus a little white quantum noise.
        // The grain is about 15 um across whatever the pixel size: a mix of white and [1,2,1]-blurred noise,
        // whiter at coarse pixels (6 mm / 400 px: residual neighbour correlation ~0.3-0.4, as in OCTA-500).
        var spWhite = [Float](repeating: 0, count: N)
        for k in 0..<N { spWhite[k] = Float(rng.normal()) }
        var sp = Self.blur3(spWhite, W: W)
        for k in 0..<N { sp[k] = 0.375 * (white * spWhite[k] + smooth * sp[k] / 0.375) }
        let spSD = Float(ro.speckle)
        let q = Float(ro.quantumNoiseSD)
        for k in 0..<N {
            // Decorrelation saturates in fast flow: bright lumens of large vessels are smooth, while
            // capillaries and background keep the full grain.
            let sdK = spSD * (1 - 0.55 * min(1, layer[k]))
            let gain = Foundation.exp(sdK * sp[k] / 0.375 - 0.5 * sdK * sdK)
            img[k] = max(0, img[k] * gain + q * Float(rng.normal()))
        }
        // Noise floor: decorrelation noise of static tissue gives even the FAZ a faint grain (real FAZs are
        // dark grey and grainy, not black); level per device/eye, the same ~15 um grain as the speckle.
        // Log-normal sd 0.7 (0.6 before): a per-pixel spread near its mean, so the FAZ reads as grain, not flat.
        let floorLevel = Float(rng.uniform(0.015, 0.04))
        var fl = [Float](repeating: 0, count: N)
        for k in 0..<N { fl[k] = Float(rng.normal()) }
        let flWhite = fl
        fl = Self.blur3(fl, W: W)
        for k in 0..<N {
            let n = white * flWhite[k] + smooth * fl[k] / 0.375
            img[k] += floorLevel * Foundation.exp(0.7 * n - 0.245)
        }

        // Motion lines: rows shifted sideways (saccade) or brightened (decorrelation stripe).
        var motionLines = 0
        if rng.uniform() < ro.motionLineProbability {
            motionLines = 1 + rng.int(below: 3)
            for _ in 0..<motionLines {
                let y0 = rng.int(below: W), hgt = 1 + rng.int(below: max(1, W / 150))
                let shift = rng.int(below: 9) - 4
                let bright = Float(rng.uniform(0, 0.25))
                for y in y0..<min(W, y0 + hgt) {
                    let row = Array(img[(y * W)..<(y * W + W)])
                    for x in 0..<W {
                        let sx = min(W - 1, max(0, x + shift))
                        img[y * W + x] = row[sx] + bright
                    }
                }
            }
        }
        // Floaters: soft dark shadows from vitreous opacities.
        var floaters = 0
        if rng.uniform() < ro.floaterProbability {
            floaters = 1 + rng.int(below: 2)
            for _ in 0..<floaters {
                let fx = rng.uniform(0, F), fy = rng.uniform(0, F)
                let sigma = rng.uniform(0.08, 0.25) * F / 3, depth = Float(rng.uniform(0.3, 0.6))
                for y in 0..<W { for x in 0..<W {
                    let dx = (Double(x) + 0.5) * ps - fx, dy = (Double(y) + 0.5) * ps - fy
                    let e = Float(Foundation.exp(-(dx * dx + dy * dy) / (2 * sigma * sigma)))
                    img[y * W + x] *= 1 - depth * e
                } }
            }
        }

        // Gamma, then auto-gain to a target mean and contrast (device brightness/contrast).
        let gamma = rng.uniform(ro.gammaRange.lowerBound, ro.gammaRange.upperBound)
        let targetMean = rng.uniform(ro.meanIntensityRange.lowerBound, ro.meanIntensityRange.upperBound)
        let targetSD = targetMean * rng.uniform(ro.contrastSDRange.lowerBound, ro.contrastSDRange.upperBound)
        var mean = 0.0, sq = 0.0
        for k in 0..<N {
            let v = Double(Foundation.pow(max(0, img[k]), Float(gamma)))
            img[k] = Float(v); mean += v; sq += v * v
        }
        mean /= Double(N)
        let sd = max(1e-6, (sq / Double(N) - mean * mean).squareRoot())
        let gain = Float(targetSD / sd), offset = Float(targetMean - mean * targetSD / sd)
        for k in 0..<N { img[k] = min(1, max(0, img[k] * gain + offset)) }

        return Output(
            image: GrayImage(width: W, height: W, pixelSizeMM: ps, pixels: img),
            vesselMask: BinaryMask(width: W, height: W, bits: mask),
            fazMask: BinaryMask(width: W, height: W, bits: fazBits),
            dropoutMask: BinaryMask(width: W, height: W, bits: dropBits),
            visibleLengthMM: centrelines.lengthPX * ps,
            geometricLengthMM: visibleLength,
            quality: Quality(targetMean: targetMean, targetSD: targetSD, gamma: gamma,
                             motionLines: motionLines, floaters: floaters))
    }

    /// The FAZ as annotators draw it on OCTA (along the innermost capillaries): the 4-connected vessel-free
    /// pixels reachable from the vessel-free pixels inside the outline `faz` without leaving
    /// `radialExcess < boundMM` (the ring's course closes gaps where ring capillaries dropped out), holes
    /// filled. Pixel centres, so the mask agrees with the vessel mask pixel for pixel.
    static func annotatedFAZ(vessels: [UInt8], faz: StarShape, boundMM: Double, W: Int, pixelSizeMM ps: Double) -> [UInt8] {
        let N = W * W
        // allowed: 1 = may be FAZ (vessel-free and inside the bound); region: 1 = reached.
        var allowed = [UInt8](repeating: 0, count: N)
        var region = [UInt8](repeating: 0, count: N)
        var stack: [Int32] = []
        // Only the FAZ's bounding box (plus the bound) can hold FAZ pixels.
        var rMax = 0.0
        for r in faz.radiusMM { rMax = max(rMax, r) }
        let reach = rMax + boundMM + 2 * ps
        let x0 = max(0, Int((faz.centreX - reach) / ps)), x1 = min(W - 1, Int((faz.centreX + reach) / ps))
        let y0 = max(0, Int((faz.centreY - reach) / ps)), y1 = min(W - 1, Int((faz.centreY + reach) / ps))
        guard x0 <= x1, y0 <= y1 else { return region }
        for y in y0...y1 {
            let my = (Double(y) + 0.5) * ps
            for x in x0...x1 {
                let k = y * W + x
                guard vessels[k] == 0 else { continue }
                let e = faz.radialExcess((Double(x) + 0.5) * ps, my)
                guard e < boundMM else { continue }
                allowed[k] = 1
                if e < 0 { region[k] = 1; stack.append(Int32(k)) }
            }
        }
        while let p32 = stack.popLast() {
            let p = Int(p32), x = p % W, y = p / W
            for q in [x > 0 ? p - 1 : -1, x + 1 < W ? p + 1 : -1, y > 0 ? p - W : -1, y + 1 < W ? p + W : -1]
            where q >= 0 && allowed[q] != 0 && region[q] == 0 {
                region[q] = 1; stack.append(Int32(q))
            }
        }
        // Fill holes: everything not 4-connected to the bounding box's outside through non-FAZ pixels.
        var outside = [UInt8](repeating: 0, count: N)
        let bx0 = max(0, x0 - 1), bx1 = min(W - 1, x1 + 1), by0 = max(0, y0 - 1), by1 = min(W - 1, y1 + 1)
        for y in by0...by1 { for x in bx0...bx1 where (x == bx0 || x == bx1 || y == by0 || y == by1) && region[y * W + x] == 0 {
            outside[y * W + x] = 1; stack.append(Int32(y * W + x))
        } }
        while let p32 = stack.popLast() {
            let p = Int(p32), x = p % W, y = p / W
            for (q, ok) in [(p - 1, x > bx0), (p + 1, x < bx1), (p - W, y > by0), (p + W, y < by1)]
            where ok && region[q] == 0 && outside[q] == 0 {
                outside[q] = 1; stack.append(Int32(q))
            }
        }
        for y in by0...by1 { for x in bx0...bx1 where outside[y * W + x] == 0 { region[y * W + x] = 1 } }
        return region
    }

    /// Rendering weight of a vessel in the chosen slab, and whether it belongs to the vessel mask.
    func visibility(kind: VesselKind, radiusMM: Double) -> (Double, Bool) {
        let bleed = config.render.bleedThrough
        switch config.plexus {
        case .combined: return (1, true)
        case .superficial: return kind == .deepCapillary ? (bleed, false) : (1, true)
        case .deep:
            switch kind {
            case .deepCapillary, .neovascular: return (1, true)
            default: return radiusMM > 0.008 ? (bleed, false) : (bleed * 0.5, false)
            }
        }
    }

    /// Cross-section profile of a vessel of radius `radiusMM`: 1 = Gaussian, 2 and 3 = flatter
    /// super-Gaussians. Capillaries use 2 (smooth, but with a steeper flank at the half maximum than a
    /// Gaussian, so that a segmentation threshold near half the peak finds the mask's width: with 1 the
    /// VesselGraph segmenter's Dice on 3 mm eyes fell from >= 0.79 to 0.77); arterioles and venules 3 (a
    /// bright, flat lumen with soft edges). Every profile is exactly half its peak at the half-width h.
    static func profile(radiusMM r: Double) -> Int { r < 0.010 ? 2 : 3 }

    /// exp2(-q^m) for q = (d / h)^2 in [0, profileQMax), m = 1, 2, 3, tabulated (the renderer evaluates it
    /// for millions of pixels per eye).
    static let profileQMax: Float = 8
    static let profileSteps = 1024
    static let profileTable: [[Float]] = (1...3).map { m in
        (0...profileSteps).map { i in
            let q = Double(i) / Double(profileSteps) * Double(profileQMax)
            return i == profileSteps ? 0 : Float(Foundation.exp2(-Foundation.pow(q, Double(m))))
        }
    }
    /// How far (in units of h) each profile reaches before it falls below exp2(-8) (tabulated range end).
    static let profileReach: [Double] = [0, 8.0.squareRoot(), Foundation.pow(8, 0.25), Foundation.pow(8, 1.0 / 6)]

    /// Max-projects one vessel segment a-b (pixel units): intensity = amplitude (linear from `ampA` at a to
    /// `ampB` at b, so brightness is continuous along a vessel) times the cross-section `profile` of the
    /// distance to the segment, which is half its peak at `halfPX`. Marks pixel centres within `halfPX`
    /// (the half-maximum footprint) in the mask. Pixel (x, y)'s centre is at (x + 0.5, y + 0.5).
    @inline(__always)
    func drawVessel(_ layer: inout [Float], _ mask: inout [UInt8], W: Int, ax: Double, ay: Double, bx: Double, by: Double,
                    halfPX: Double, ampA: Float, ampB: Float, profile m: Int, inMask: Bool) {
        let reach = halfPX * Self.profileReach[m]
        let x0 = max(0, Int(Foundation.floor(min(ax, bx) - reach))), x1 = min(W - 1, Int(Foundation.ceil(max(ax, bx) + reach)))
        let y0 = max(0, Int(Foundation.floor(min(ay, by) - reach))), y1 = min(W - 1, Int(Foundation.ceil(max(ay, by) + reach)))
        guard x0 <= x1, y0 <= y1 else { return }
        let ex = bx - ax, ey = by - ay
        let len2 = ex * ex + ey * ey
        let h2 = halfPX * halfPX
        let invH2 = Float(1 / h2)
        let table = Self.profileTable[m - 1]
        let scale = Float(Self.profileSteps) / Self.profileQMax
        for y in y0...y1 {
            let py = Double(y) + 0.5
            for x in x0...x1 {
                let px = Double(x) + 0.5
                var t = len2 > 0 ? ((px - ax) * ex + (py - ay) * ey) / len2 : 0
                t = min(1, max(0, t))
                let dx = px - (ax + t * ex), dy = py - (ay + t * ey)
                let d2 = dx * dx + dy * dy
                let k = y * W + x
                if inMask && d2 <= h2 { mask[k] = 1 }
                let u = Float(d2) * invH2 * scale
                guard u < Float(Self.profileSteps) else { continue }
                let j = Int(u), f = u - Float(j)
                let prof = table[j] + f * (table[j + 1] - table[j])
                let v = (ampA + Float(t) * (ampB - ampA)) * prof
                if v > layer[k] { layer[k] = v }
            }
        }
    }

    /// Length of segment (x0,y0)-(x1,y1) inside the square [0, F]^2 (Liang-Barsky clipping), mm.
    static func clippedLength(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, F: Double) -> Double {
        let dx = x1 - x0, dy = y1 - y0
        var t0 = 0.0, t1 = 1.0
        for (p, q) in [(-dx, x0), (dx, F - x0), (-dy, y0), (dy, F - y0)] {
            if p == 0 { if q < 0 { return 0 } else { continue } }
            let r = q / p
            if p < 0 { t0 = max(t0, r) } else { t1 = min(t1, r) }
            if t0 > t1 { return 0 }
        }
        return (t1 - t0) * (dx * dx + dy * dy).squareRoot()
    }

    /// Separable [1, 2, 1] / 4 blur with clamped borders.
    static func blur3(_ a: [Float], W: Int) -> [Float] {
        var t = a
        for y in 0..<W { for x in 0..<W {
            let l = a[y * W + max(0, x - 1)], c = a[y * W + x], r = a[y * W + min(W - 1, x + 1)]
            t[y * W + x] = 0.25 * l + 0.5 * c + 0.25 * r
        } }
        var o = t
        for y in 0..<W { for x in 0..<W {
            let u = t[max(0, y - 1) * W + x], c = t[y * W + x], d = t[min(W - 1, y + 1) * W + x]
            o[y * W + x] = 0.25 * u + 0.5 * c + 0.25 * d
        } }
        return o
    }

    /// Separable box blur of the given radius (running sums, clamped borders).
    static func boxBlur(_ a: [Float], W: Int, radius r: Int) -> [Float] {
        var t = a
        let n = Float(2 * r + 1)
        for y in 0..<W {
            var s: Float = 0
            for x in -r...r { s += a[y * W + min(W - 1, max(0, x))] }
            for x in 0..<W {
                t[y * W + x] = s / n
                s += a[y * W + min(W - 1, x + r + 1)] - a[y * W + max(0, x - r)]
            }
        }
        var o = t
        for x in 0..<W {
            var s: Float = 0
            for y in -r...r { s += t[min(W - 1, max(0, y)) * W + x] }
            for y in 0..<W {
                o[y * W + x] = s / n
                s += t[min(W - 1, y + r + 1) * W + x] - t[max(0, y - r) * W + x]
            }
        }
        return o
    }
}
