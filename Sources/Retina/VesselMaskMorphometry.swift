import Foundation

/// Measurements of a binary vessel mask that are made the same way on real manual masks (OCTA-500) and on
/// simulated ground truth, so the two can be compared number for number (`capillary cohort-report --real`).
///
/// The skeleton is `Skeletonizer.thin` (Zhang-Suen with Lü and Wang's correction, staircase corners removed:
/// the same skeleton as VesselGraph's centrelines); its length is the 8-neighbour chain length (1 px per
/// axial link, sqrt 2 px per diagonal link). Widths are local: every mask pixel is owned by its nearest
/// skeleton pixel (breadth-first through the mask); at every skeleton pixel, the pixels owned by the
/// skeleton pixels within `widthWindowPX` (square window) divided by their skeleton length (area / length,
/// which reads w for a straight vessel w px wide, odd or even, whatever its angle).
public struct VesselMaskMorphometry: Sendable, Equatable {
    /// Fraction of the image inside the mask, 0-1.
    public var perfusionDensity: Double
    /// Skeleton length of the mask per field area, mm per mm2.
    public var skeletonLengthDensityMMPerMM2: Double
    /// Mask area / skeleton length over the whole image, um.
    public var meanWidthUM: Double
    /// 10th, 50th and 90th percentile of the local widths at the skeleton pixels, um.
    public var widthP10UM: Double
    /// Median local width, um.
    public var widthMedianUM: Double
    /// 90th percentile of the local widths, um.
    public var widthP90UM: Double
    /// Number of intercapillary areas (4-connected regions outside the mask and the FAZ that do not touch
    /// the image border) per mm2 of image.
    public var intercapillaryAreasPerMM2: Double
    /// Median equivalent diameter 2 sqrt(A / pi) of those areas, um.
    public var intercapillaryMedianDiameterUM: Double

    /// Half-side of the square window in which local width is averaged, px.
    public static let widthWindowPX = 3

    /// Measures `mask` (pixel size `pixelSizeMM`); `faz` pixels, when given, are excluded from the
    /// intercapillary areas. Masks must have the same size (programmer error otherwise).
    public static func measure(mask: BinaryMask, faz: BinaryMask?, pixelSizeMM: Double) -> VesselMaskMorphometry {
        let w = mask.width, h = mask.height
        precondition(faz == nil || (faz!.width == w && faz!.height == h), "VesselMaskMorphometry: mask sizes differ")
        let n = w * h
        let bits = mask.bits.map { $0 != 0 ? UInt8(1) : 0 }
        let skeleton = Skeletonizer.thin(bits, width: w, height: h)
        let linkLength = skeletonLinkLengths(skeleton, width: w, height: h)
        var skeletonPX = 0.0
        for v in linkLength { skeletonPX += Double(v) }
        let areaPX = Double(bits.reduce(0) { $0 + Int($1) })
        let fieldMM2 = Double(n) * pixelSizeMM * pixelSizeMM
        let umPerPX = pixelSizeMM * 1000

        // Local widths: every mask pixel belongs to its nearest skeleton pixel (breadth-first through the
        // mask, 8-connected); at each skeleton pixel, the mask pixels owned by the skeleton pixels within a
        // (2R+1)^2 window divided by their skeleton length.
        var owner = [Int32](repeating: -1, count: n)
        var queue: [Int] = []
        queue.reserveCapacity(n)
        for k in 0..<n where skeleton[k] != 0 { owner[k] = Int32(k); queue.append(k) }
        var head = 0
        while head < queue.count {
            let k = queue[head]; head += 1
            let x = k % w, y = k / w
            for dy in -1...1 { for dx in -1...1 where dx != 0 || dy != 0 {
                let xx = x + dx, yy = y + dy
                guard xx >= 0 && yy >= 0 && xx < w && yy < h else { continue }
                let j = yy * w + xx
                if bits[j] != 0 && owner[j] < 0 { owner[j] = owner[k]; queue.append(j) }
            }}
        }
        var owned = [Int](repeating: 0, count: n)
        for k in 0..<n where owner[k] >= 0 { owned[Int(owner[k])] += 1 }
        let R = widthWindowPX
        var widths: [Double] = []
        for y in 0..<h { for x in 0..<w where skeleton[y * w + x] != 0 {
            var area = 0, length = 0.0
            for yy in max(0, y - R)...min(h - 1, y + R) { for xx in max(0, x - R)...min(w - 1, x + R) {
                let k = yy * w + xx
                area += owned[k]; length += Double(linkLength[k])
            }}
            if length > 0 { widths.append(Double(area) / length * umPerPX) }
        } }
        widths.sort()
        func pct(_ p: Double) -> Double {
            widths.isEmpty ? 0 : widths[min(widths.count - 1, Int(p * Double(widths.count - 1) + 0.5))]
        }

        // Intercapillary areas.
        var free = [UInt8](repeating: 0, count: n)
        for k in 0..<n where bits[k] == 0 && (faz == nil || faz!.bits[k] == 0) { free[k] = 1 }
        var seen = [Bool](repeating: false, count: n)
        var diameters: [Double] = []
        var stack: [Int] = []
        for s in 0..<n where free[s] != 0 && !seen[s] {
            var count = 0, touches = false
            stack.append(s); seen[s] = true
            while let k = stack.popLast() {
                count += 1
                let x = k % w, y = k / w
                if x == 0 || y == 0 || x == w - 1 || y == h - 1 { touches = true }
                for (nx, ny) in [(x - 1, y), (x + 1, y), (x, y - 1), (x, y + 1)] where nx >= 0 && ny >= 0 && nx < w && ny < h {
                    let j = ny * w + nx
                    if free[j] != 0 && !seen[j] { seen[j] = true; stack.append(j) }
                }
            }
            if !touches { diameters.append(2 * (Double(count) / Double.pi).squareRoot() * umPerPX) }
        }
        diameters.sort()
        return VesselMaskMorphometry(
            perfusionDensity: areaPX / Double(n),
            skeletonLengthDensityMMPerMM2: skeletonPX * pixelSizeMM / fieldMM2,
            meanWidthUM: skeletonPX > 0 ? areaPX / skeletonPX * umPerPX : 0,
            widthP10UM: pct(0.1), widthMedianUM: pct(0.5), widthP90UM: pct(0.9),
            intercapillaryAreasPerMM2: Double(diameters.count) / fieldMM2,
            intercapillaryMedianDiameterUM: diameters.isEmpty ? 0 : diameters[diameters.count / 2])
    }

    /// Per skeleton pixel, half the summed length of its links to 8-neighbour skeleton pixels (1 px axial,
    /// sqrt 2 px diagonal; a diagonal link is skipped when an axial path through a shared neighbour exists,
    /// so an L-corner is not counted twice). Summed over the skeleton this is its chain length; an isolated
    /// pixel counts 1 px.
    static func skeletonLinkLengths(_ sk: [UInt8], width w: Int, height h: Int) -> [Float] {
        var out = [Float](repeating: 0, count: w * h)
        @inline(__always) func on(_ x: Int, _ y: Int) -> Bool { x >= 0 && y >= 0 && x < w && y < h && sk[y * w + x] != 0 }
        let diag = Float(2.0.squareRoot())
        for y in 0..<h { for x in 0..<w where sk[y * w + x] != 0 {
            var s: Float = 0
            for (dx, dy) in [(1, 0), (-1, 0), (0, 1), (0, -1)] where on(x + dx, y + dy) { s += 1 }
            for (dx, dy) in [(1, 1), (1, -1), (-1, 1), (-1, -1)] where on(x + dx, y + dy) {
                if on(x + dx, y) || on(x, y + dy) { continue }
                s += diag
            }
            out[y * w + x] = s > 0 ? s / 2 : 1
        }}
        return out
    }
}

/// Texture statistics of an OCTA image that show how grainy it is, comparable between real and simulated
/// images of the same pixel size.
public struct OCTATexture: Sendable, Equatable {
    /// Correlation of the fine-scale residual (image minus its 5x5 mean) between horizontally and
    /// vertically adjacent pixels: about -0.1 for white per-pixel noise, higher for grain a few px wide.
    public var residualLag1Correlation: Double
    /// Standard deviation of the fine-scale residual relative to the image's standard deviation.
    public var residualRelativeSD: Double
    /// Fraction of the (row and column) power spectrum, without DC, at 0.25-0.5 cycles/px: the share of
    /// structure finer than 4 px.
    public var highFrequencyPowerFraction: Double

    /// Measures `image`.
    public static func measure(_ image: GrayImage) -> OCTATexture {
        let w = image.width, h = image.height
        let px = image.pixels.map(Double.init)
        let n = Double(w * h)
        let mean = px.reduce(0, +) / n
        let sd = (px.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
        // 5x5 box mean with clamped borders.
        var res = [Double](repeating: 0, count: w * h)
        for y in 0..<h { for x in 0..<w {
            var s = 0.0
            for dy in -2...2 { for dx in -2...2 {
                s += px[min(h - 1, max(0, y + dy)) * w + min(w - 1, max(0, x + dx))]
            } }
            res[y * w + x] = px[y * w + x] - s / 25
        } }
        var v = 0.0, c = 0.0, m = 0
        for y in 2..<(h - 2) { for x in 2..<(w - 2) {
            let k = y * w + x
            v += res[k] * res[k]
            c += res[k] * (res[k + 1] + res[k + w]) / 2
            m += 1
        } }
        // Row and column power spectra by direct DFT (images are at most a few hundred px).
        var hi = 0.0, total = 0.0
        var cosT = [Double](repeating: 0, count: w * w), sinT = cosT
        for f in 0..<w { for x in 0..<w {
            let a = 2 * Double.pi * Double(f * x % w) / Double(w)
            cosT[f * w + x] = Foundation.cos(a); sinT[f * w + x] = Foundation.sin(a)
        } }
        func spectrum(_ line: [Double]) {
            let L = line.count
            for f in 1...(L / 2) {
                var re = 0.0, im = 0.0
                for x in 0..<L { re += line[x] * cosT[f * L + x]; im += line[x] * sinT[f * L + x] }
                let p = re * re + im * im
                total += p
                if Double(f) / Double(L) >= 0.25 { hi += p }
            }
        }
        if w == h {
            for y in stride(from: 0, to: h, by: 2) { spectrum(Array(px[(y * w)..<(y * w + w)])) }
            for x in stride(from: 0, to: w, by: 2) { spectrum((0..<h).map { px[$0 * w + x] }) }
        }
        return OCTATexture(residualLag1Correlation: v > 0 ? c / v : 0,
                           residualRelativeSD: sd > 0 ? (v / Double(max(1, m))).squareRoot() / sd : 0,
                           highFrequencyPowerFraction: total > 0 ? hi / total : 0)
    }
}
