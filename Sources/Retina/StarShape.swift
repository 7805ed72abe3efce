import Common
import Foundation

/// A star-shaped outline around a centre (the FAZ, a dropout blob):
/// r(theta) = r0 * (1 + sum_k a_k cos(k theta + phi_k)), k = 2...12, in field mm.
struct StarShape: Sendable {
    let centreX: Double
    let centreY: Double
    /// Radius at 720 evenly spaced angles, mm.
    let radiusMM: [Double]

    /// A FAZ of `areaMM2` whose border irregularity (harmonic amplitudes) grows with `irregularity` in [0, 1].
    /// `capillaryLoops` (FAZ only) adds the scalloped border of a ring of capillary loops.
    init(centreX: Double, centreY: Double, areaMM2: Double, irregularity: Double, ovality: Double = 0.06,
         capillaryLoops: CapillaryLoops? = nil, rng: inout SeededGenerator) {
        self.centreX = centreX
        self.centreY = centreY
        var amps: [(k: Double, a: Double, phi: Double)] = []
        for k in 2...12 {
            // Healthy FAZs are slightly oval with a finely scalloped border (real manual FAZ outlines have a
            // circularity of about 0.7-0.85); disease adds larger low- and mid-order lobes.
            let base = k == 2 ? ovality : 0.035 / Double(k - 2).squareRoot()
            let disease = irregularity * 0.16 / Double(k - 1).squareRoot()
            let a = (base + disease) * rng.uniform(0.4, 1.3)
            amps.append((Double(k), a, rng.uniform(0, 2 * Double.pi)))
        }
        var r = [Double](repeating: 1, count: 720)
        for i in 0..<720 {
            let t = Double(i) * 2 * Double.pi / 720
            var v = 1.0
            for h in amps { v += h.a * Foundation.cos(h.k * t + h.phi) }
            r[i] = max(0.35, v)
        }
        // Scale so that the polygon area is exactly `areaMM2`.
        r = Self.scaled(r, toAreaMM2: areaMM2)
        if let loops = capillaryLoops {
            // The FAZ border is a ring of capillary loops: each loop is an arc bulging into the FAZ, loops
            // meet in outward cusps (where a capillary leaves the ring). Lengths and depths in mm.
            var theta = 0
            while theta < 720 {
                let r0 = r[theta]
                let lengthMM = rng.uniform(loops.lengthMM.lowerBound, loops.lengthMM.upperBound)
                let depthMM = loops.depthMM * rng.uniform(0.4, 1.0)
                var n = max(4, Int((lengthMM / (r0 * 2 * Double.pi / 720)).rounded()))
                // The last loop absorbs the remainder, so the outline closes at a cusp.
                if 720 - theta - n < n / 2 { n = 720 - theta }
                for j in 0..<n { r[theta + j] -= depthMM * Foundation.sin(Double.pi * Double(j) / Double(n)) }
                theta += n
            }
            r = Self.scaled(r, toAreaMM2: areaMM2)
        }
        radiusMM = r
    }

    /// Capillary-scale scalloping of a FAZ border: loop lengths and the largest inward depth, mm.
    struct CapillaryLoops: Sendable {
        var lengthMM: ClosedRange<Double>
        var depthMM: Double
    }

    /// `r` times the factor that makes the sector-sum area exactly `areaMM2`.
    static func scaled(_ r: [Double], toAreaMM2 areaMM2: Double) -> [Double] {
        var area = 0.0
        for v in r { area += 0.5 * v * v * (2 * Double.pi / Double(r.count)) }
        let s = (areaMM2 / area).squareRoot()
        return r.map { $0 * s }
    }

    /// Border radius in the direction `theta` (radians), mm.
    @inline(__always)
    func radius(atAngle theta: Double) -> Double {
        var t = theta / (2 * Double.pi) * 720
        t = t.truncatingRemainder(dividingBy: 720)
        if t < 0 { t += 720 }
        let i = Int(t) % 720
        let f = t - Double(Int(t))
        return radiusMM[i] * (1 - f) + radiusMM[(i + 1) % 720] * f
    }

    /// Whether a field point (mm) lies inside the FAZ, optionally grown by `marginMM`.
    @inline(__always)
    func contains(_ x: Double, _ y: Double, marginMM: Double = 0) -> Bool {
        let dx = x - centreX, dy = y - centreY
        let d = (dx * dx + dy * dy).squareRoot()
        if d < 1e-9 { return true }
        return d < radius(atAngle: Foundation.atan2(dy, dx)) + marginMM
    }

    /// Signed distance-like value: (distance from centre) - (border radius in that direction), mm.
    func radialExcess(_ x: Double, _ y: Double) -> Double {
        let dx = x - centreX, dy = y - centreY
        return (dx * dx + dy * dy).squareRoot() - radius(atAngle: Foundation.atan2(dy, dx))
    }

    /// Polygon area, mm2.
    var areaMM2: Double {
        var a = 0.0
        for i in 0..<720 { a += 0.5 * radiusMM[i] * radiusMM[(i + 1) % 720] * Foundation.sin(2 * Double.pi / 720) }
        return a
    }

    /// Polygon perimeter, mm.
    var perimeterMM: Double {
        var p = 0.0
        for i in 0..<720 {
            let t0 = Double(i) * 2 * Double.pi / 720, t1 = Double(i + 1) * 2 * Double.pi / 720
            let r0 = radiusMM[i], r1 = radiusMM[(i + 1) % 720]
            let dx = r1 * Foundation.cos(t1) - r0 * Foundation.cos(t0), dy = r1 * Foundation.sin(t1) - r0 * Foundation.sin(t0)
            p += (dx * dx + dy * dy).squareRoot()
        }
        return p
    }

    /// Isoperimetric circularity 4 pi A / P^2 of the continuous outline (1 for a circle).
    var circularity: Double { 4 * Double.pi * areaMM2 / (perimeterMM * perimeterMM) }
}
