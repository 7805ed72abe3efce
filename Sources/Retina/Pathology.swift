import Common
import Foundation

/// Applies severity-driven DR pathology to a grown vessel forest (OCTA-SVR style): capillary dropout in
/// blobs mostly in a ring around the FAZ (removing capillary subtrees), tortuosity near dropout borders,
/// venous beading, microaneurysms next to dropout, and neovascular tufts in PDR.
struct Pathology {
    var tree: VascularTree
    let svcCount: Int
    let faz: StarShape
    let F: Double
    let load: Double
    let severity: Double
    let options: PathologyOptions
    let pixelSizeMM: Double

    /// Dropout regions.
    var blobs: [StarShape] = []
    /// Microaneurysms: centre (mm) and radius (mm).
    var microaneurysms: [(x: Double, y: Double, r: Double)] = []
    /// Venous beading amplitude (relative radius modulation) and period, mm.
    var beadingAmplitude = 0.0
    let beadingPeriodMM = 0.07
    var lesions: [Lesion] = []

    init(tree: VascularTree, svcCount: Int, faz: StarShape, F: Double, load: Double, severity: Double,
         options: PathologyOptions, pixelSizeMM: Double) {
        self.tree = tree; self.svcCount = svcCount; self.faz = faz; self.F = F
        self.load = load; self.severity = severity; self.options = options; self.pixelSizeMM = pixelSizeMM
    }

    /// Radius below which a superficial vessel counts as capillary (can drop out), mm.
    static let capillaryLimitMM = 0.0065

    mutating func apply(rng: inout SeededGenerator) {
        let stage = SeverityScale.stage(severity)
        placeDropout(rng: &rng, stage: stage)
        removeDroppedCapillaries(rng: &rng)
        addTortuosity(rng: &rng)
        beadingAmplitude = stage == .healthy ? 0 : 0.45 * max(0, load - 0.25) * rng.uniform(0.6, 1.2)
        if stage != .healthy { placeMicroaneurysms(rng: &rng) }
        if stage == .pdr { growNeovascularTufts(rng: &rng) }
        for b in blobs {
            let r = (b.areaMM2 / Double.pi).squareRoot()
            lesions.append(Lesion(type: .nonPerfusion, centerMM: (b.centreX, b.centreY), radiusUM: r * 1000,
                                  pixelSizeMM: pixelSizeMM))
        }
    }

    /// Dropout blobs: none in healthy eyes; 1-6 in DR, 85% in the ring 0.05-0.8 mm outside the FAZ border.
    mutating func placeDropout(rng: inout SeededGenerator, stage: DRStage) {
        guard stage != .healthy else { return }
        let expected = 1 + Double(options.maxDropoutBlobs - 1) * load * rng.uniform(0.5, 1.3)
        let n = max(1, min(options.maxDropoutBlobs, Int(expected.rounded())))
        let scale = F / 3
        for _ in 0..<n {
            var cx = 0.0, cy = 0.0
            for _ in 0..<20 {
                if rng.uniform() < 0.85 {
                    let t = rng.uniform(0, 2 * Double.pi)
                    let d = faz.radius(atAngle: t) + rng.uniform(0.05, 0.8) * scale.squareRoot()
                    cx = faz.centreX + d * Foundation.cos(t); cy = faz.centreY + d * Foundation.sin(t)
                } else {
                    cx = rng.uniform(0.1, F - 0.1); cy = rng.uniform(0.1, F - 0.1)
                }
                if cx > 0.05 && cy > 0.05 && cx < F - 0.05 && cy < F - 0.05 { break }
            }
            let radius = (0.07 + 0.20 * load * rng.uniform(0.5, 1.4))
            let blob = StarShape(centreX: cx, centreY: cy, areaMM2: Double.pi * radius * radius,
                                 irregularity: 0.8, ovality: 0.15, rng: &rng)
            blobs.append(blob)
        }
    }

    func inBlob(_ x: Double, _ y: Double) -> Bool {
        for b in blobs where b.contains(x, y) { return true }
        return false
    }

    /// Distance-like value to the nearest blob border (negative inside), mm.
    func blobExcess(_ x: Double, _ y: Double) -> Double {
        var best = Double.infinity
        for b in blobs { best = min(best, b.radialExcess(x, y)) }
        return best
    }

    /// Removes capillaries inside blobs (each with probability = blob strength) and the capillary subtrees
    /// they feed, up to a short distance outside the blob, so non-perfusion follows the vessel topology.
    mutating func removeDroppedCapillaries(rng: inout SeededGenerator) {
        // Diffuse rarefaction: with disease, scattered capillary branches close everywhere (vessel density
        // falls across the whole macula, not only in the focal blobs); a closed branch takes its capillary
        // subtree with it.
        let diffuse = 0.03 * load
        if diffuse > 0 {
            // Closure origin per node (-1: open); a closure spreads downstream at most 0.08 mm.
            var origin = [Int32](repeating: -1, count: tree.count)
            for i in 0..<tree.count {
                let isCap = tree.kind[i] == .deepCapillary || tree.radiusMM[i] < Self.capillaryLimitMM
                guard isCap else { continue }
                let p = Int(tree.parent[i])
                if p >= 0 && origin[p] >= 0 {
                    let o = Int(origin[p])
                    let dx = tree.x[i] - tree.x[o], dy = tree.y[i] - tree.y[o]
                    if dx * dx + dy * dy < 0.08 * 0.08 { origin[i] = origin[p]; tree.perfused[i] = false; continue }
                }
                if rng.uniform() < diffuse { origin[i] = Int32(i); tree.perfused[i] = false }
            }
        }
        guard !blobs.isEmpty else { return }
        let strength = rng.uniform(options.dropoutStrength.lowerBound, options.dropoutStrength.upperBound)
        for i in 0..<tree.count {
            let isCap = tree.kind[i] == .deepCapillary || tree.radiusMM[i] < Self.capillaryLimitMM
            guard isCap else { continue }
            let p = Int(tree.parent[i])
            if p >= 0 && !tree.perfused[p] && blobExcess(tree.x[i], tree.y[i]) < 0.04 {
                tree.perfused[i] = false      // fed by a dropped capillary: also unperfused
                continue
            }
            if inBlob(tree.x[i], tree.y[i]) && rng.uniform() < strength { tree.perfused[i] = false }
        }
    }

    /// Smooth random displacement of capillary nodes near dropout borders (and faintly everywhere with
    /// disease), producing the tortuous, looping capillaries seen at non-perfusion edges.
    mutating func addTortuosity(rng: inout SeededGenerator) {
        guard load > 0 else { return }
        let noise = ValueNoise(seed: rng.next(), wavelengthMM: 0.05)
        let amp = 0.014 * load
        for i in 0..<tree.count where tree.radiusMM[i] < Self.capillaryLimitMM && tree.perfused[i] {
            let e = blobs.isEmpty ? 1.0 : blobExcess(tree.x[i], tree.y[i])
            let near = e > -0.02 && e < 0.15 ? 1.0 - max(0, e) / 0.15 : 0.0
            let w = amp * (0.25 + 0.75 * near)
            let (nx, ny) = noise.vector(tree.x[i], tree.y[i])
            tree.x[i] += w * nx; tree.y[i] += w * ny
        }
    }

    /// Microaneurysms (10-30 um diameter) on perfused capillaries close to dropout borders.
    mutating func placeMicroaneurysms(rng: inout SeededGenerator) {
        let lambda = options.microaneurysmsAtMax * Foundation.pow(load, 1.2)
        let n = Self.poisson(lambda, rng: &rng)
        guard n > 0 else { return }
        var candidates: [Int] = []
        for i in 0..<svcCount where tree.perfused[i] && tree.radiusMM[i] < Self.capillaryLimitMM {
            let x = tree.x[i], y = tree.y[i]
            guard x > 0.02 && y > 0.02 && x < F - 0.02 && y < F - 0.02 else { continue }
            if blobs.isEmpty { candidates.append(i); continue }
            let e = blobExcess(x, y)
            if e > 0 && e < 0.12 { candidates.append(i) }
        }
        guard !candidates.isEmpty else { return }
        for _ in 0..<n {
            let i = candidates[rng.int(below: candidates.count)]
            let r = rng.uniform(0.005, 0.015)
            microaneurysms.append((tree.x[i], tree.y[i], r))
            lesions.append(Lesion(type: .microaneurysm, centerMM: (tree.x[i], tree.y[i]), radiusUM: r * 1000,
                                  pixelSizeMM: pixelSizeMM))
        }
    }

    /// Neovascular tufts: 8-24 fine, strongly tortuous sprouts looping within 0.1-0.22 mm of a point at a
    /// dropout border (or beside a large vessel), in PDR only.
    mutating func growNeovascularTufts(rng: inout SeededGenerator) {
        let n = options.neovascularTufts.lowerBound
            + rng.int(below: options.neovascularTufts.upperBound - options.neovascularTufts.lowerBound + 1)
        for _ in 0..<n {
            // Origin: a perfused superficial node at a dropout border, else any perfused arteriole/venule node.
            var origin = -1
            for _ in 0..<200 {
                let i = rng.int(below: svcCount)
                guard tree.perfused[i] else { continue }
                let x = tree.x[i], y = tree.y[i]
                guard x > 0.25 && y > 0.25 && x < F - 0.25 && y < F - 0.25, !faz.contains(x, y, marginMM: 0.1) else { continue }
                let e = blobs.isEmpty ? 1 : blobExcess(x, y)
                if (e > 0 && e < 0.1) || tree.radiusMM[i] > 0.010 { origin = i; break }
            }
            guard origin >= 0 else { continue }
            let tuftR = rng.uniform(0.10, 0.22)
            let cx = tree.x[origin], cy = tree.y[origin]
            let sprouts = 8 + rng.int(below: 17)
            for _ in 0..<sprouts {
                var parent = Int32(origin)
                var x = cx, y = cy
                var heading = rng.uniform(0, 2 * Double.pi)
                let steps = 10 + rng.int(below: 25)
                for _ in 0..<steps {
                    heading += rng.normal() * 0.7
                    let dx = x - cx, dy = y - cy
                    if dx * dx + dy * dy > tuftR * tuftR {
                        // Turn back towards the tuft centre: the loops stay compact.
                        heading = Foundation.atan2(-dy, -dx) + rng.normal() * 0.5
                    }
                    x += 0.008 * Foundation.cos(heading); y += 0.008 * Foundation.sin(heading)
                    let k = tree.append(x: x, y: y, parent: parent, dx: Foundation.cos(heading), dy: Foundation.sin(heading),
                                        kind: .neovascular)
                    tree.radiusMM[k] = rng.uniform(0.0035, 0.006)
                    tree.flow[k] = Float(rng.uniform(0.9, 1.2))
                    parent = Int32(k)
                }
            }
            lesions.append(Lesion(type: .neovascularization, centerMM: (cx, cy), radiusUM: tuftR * 1000,
                                  pixelSizeMM: pixelSizeMM))
        }
    }

    static func poisson(_ lambda: Double, rng: inout SeededGenerator) -> Int {
        guard lambda > 0 else { return 0 }
        if lambda > 30 { return max(0, Int(rng.normal(mean: lambda, sd: lambda.squareRoot()).rounded())) }
        let l = Foundation.exp(-lambda)
        var k = 0, p = 1.0
        repeat { k += 1; p *= rng.uniform() } while p > l
        return k - 1
    }
}

/// Smooth 2-D value noise (bilinear over a seeded lattice with smoothstep), two channels for a vector field.
struct ValueNoise {
    let seed: UInt64
    let wavelengthMM: Double

    @inline(__always)
    private func lattice(_ i: Int, _ j: Int, _ c: UInt64) -> Double {
        var h = seed ^ (UInt64(bitPattern: Int64(i)) &* 0x9E37_79B9_7F4A_7C15) ^ (UInt64(bitPattern: Int64(j)) &* 0xC2B2_AE3D_27D4_EB4F) ^ (c &* 0x1656_67B1_9E37_79F9)
        h = (h ^ (h >> 30)) &* 0xBF58_476D_1CE4_E5B9
        h = (h ^ (h >> 27)) &* 0x94D0_49BB_1331_11EB
        h ^= h >> 31
        return Double(h >> 11) * 0x1.0p-53 * 2 - 1
    }

    func value(_ x: Double, _ y: Double, channel c: UInt64) -> Double {
        let u = x / wavelengthMM, v = y / wavelengthMM
        let i = Int(Foundation.floor(u)), j = Int(Foundation.floor(v))
        var fu = u - Double(i), fv = v - Double(j)
        fu = fu * fu * (3 - 2 * fu); fv = fv * fv * (3 - 2 * fv)
        let a = lattice(i, j, c), b = lattice(i + 1, j, c), d = lattice(i, j + 1, c), e = lattice(i + 1, j + 1, c)
        return (a * (1 - fu) + b * fu) * (1 - fv) + (d * (1 - fu) + e * fu) * fv
    }

    func vector(_ x: Double, _ y: Double) -> (Double, Double) {
        (value(x, y, channel: 1), value(x, y, channel: 2))
    }
}
