import Common
import Foundation

/// The large-vessel layout of the macula: the superior and inferior temporal arcades.
///
/// Arterioles and venules leave the optic disc (about 4-5 mm nasal of the fovea), arch above and below the
/// fovea and run on temporally towards the horizontal raphe; the macular branches leave the arcades towards
/// the fovea. Each arcade trunk is an arc of an ellipse around a point slightly nasal of the fovea:
/// nasal coordinate a = a_c + A cos(phi), vertical offset v = -/+ B sin(phi), phi from near 0 (disc side)
/// to about 165 deg (temporal). On a 6 mm scan the trunks cross the field above and below the FAZ
/// (OCTA-500: about 1.5-2.3 mm from the fovea); on a 3 mm scan they pass just outside the field and only
/// their branches enter it. Coordinates: field mm (origin top-left, y down).
struct MacularArcades {
    /// One trunk: its centreline from the disc end towards the temporal end, and its kind.
    struct Trunk {
        var x: [Double]
        var y: [Double]
        var kind: VesselKind
    }

    /// Arcade shape parameters of one eye (mm), kept for the metadata and tests.
    struct Shape {
        /// Nasal offset of the ellipse centre from the fovea, mm.
        var centreNasalMM: Double
        /// Horizontal semi-axis, mm.
        var semiAxisHorizontalMM: Double
        /// Vertical semi-axes of the superior and inferior arcade's main trunk, mm.
        var superiorMM: Double, inferiorMM: Double
    }

    let trunks: [Trunk]
    let shape: Shape

    /// Draws one eye's arcades around the fovea (fx, fy). `nasalSign` is -1 when the disc is to the left
    /// (nasal = smaller x), +1 when it is to the right. Points are `stepMM` apart along each trunk.
    init(foveaX fx: Double, foveaY fy: Double, nasalSign: Double, stepMM: Double, rng: inout SeededGenerator) {
        let ac = rng.uniform(0.6, 1.4)
        let A = rng.uniform(4.0, 5.0)
        let sup = rng.uniform(1.75, 2.35), inf = rng.uniform(1.75, 2.35)
        shape = Shape(centreNasalMM: ac, semiAxisHorizontalMM: A, superiorMM: sup, inferiorMM: inf)
        var out: [Trunk] = []
        for (side, b0) in [(-1.0, sup), (1.0, inf)] {
            // An artery and a vein per arcade. The companion trunk follows its own, slightly different arc
            // (centre, width, height), so the pair runs 0.2-1.1 mm apart at the top of the arc and
            // converges or crosses towards its ends instead of running as parallel rails; which one is
            // the main (inner) trunk varies.
            let mainIsArtery = rng.uniform() < 0.5
            for main in [true, false] {
                let B = main ? b0 : b0 + (rng.uniform() < 0.3 ? -rng.uniform(0.2, 0.4) : rng.uniform(0.45, 1.1))
                let Ai = main ? A : A * rng.uniform(0.85, 1.1)
                let aci = main ? ac : ac + rng.uniform(-0.6, 0.6)
                // End angle: the companion often stops (branches out) earlier.
                let phiEnd = (main ? rng.uniform(160, 172) : rng.uniform(120, 165)) * Double.pi / 180
                let phiStart = 0.05
                // A slow wobble (1-2 mm wavelength, up to +-5% of the height) so that trunks are not
                // perfect ellipses.
                let wobbleA = rng.uniform(0.02, 0.05), wobbleK = rng.uniform(1.5, 3.5), wobblePhase = rng.uniform(0, 2 * Double.pi)
                // Real trunks wander gently around the arc: a sideways meander of two wavelengths
                // (1.2-2.5 mm, up to 15-40 um; 0.3-0.6 mm, up to 4-12 um) along the arc length, so no trunk
                // runs as a straight rail along a 3 mm field's edge.
                let m1 = (a: rng.uniform(0.015, 0.04), l: rng.uniform(1.2, 2.5), p: rng.uniform(0, 2 * Double.pi))
                let m2 = (a: rng.uniform(0.004, 0.012), l: rng.uniform(0.3, 0.6), p: rng.uniform(0, 2 * Double.pi))
                var xs: [Double] = [], ys: [Double] = []
                var phi = phiStart
                var s = 0.0
                while phi < phiEnd {
                    let w = 1 + wobbleA * Foundation.sin(wobbleK * phi + wobblePhase)
                    let a = aci + Ai * Foundation.cos(phi)
                    let v = side * B * w * Foundation.sin(phi)
                    // Unit normal of the ellipse arc (in a, v coordinates).
                    let da = -Ai * Foundation.sin(phi), dv = side * B * Foundation.cos(phi)
                    let len = max(1e-9, (da * da + dv * dv).squareRoot())
                    let off = m1.a * Foundation.sin(2 * Double.pi * s / m1.l + m1.p) + m2.a * Foundation.sin(2 * Double.pi * s / m2.l + m2.p)
                    xs.append(fx + nasalSign * (a - off * dv / len)); ys.append(fy + v + off * da / len)
                    // Advance by about one step of arc length.
                    phi += stepMM / max(1e-3, len)
                    s += stepMM
                }
                out.append(Trunk(x: xs, y: ys, kind: main == mainIsArtery ? .artery : .vein))
            }
        }
        trunks = out
    }

    /// Appends the trunks of `kind` to `tree` as chains (the first point is the root). Returns, per trunk,
    /// the node indices in order from the disc end.
    func append(to tree: inout VascularTree, kind: VesselKind) -> [[Int]] {
        var chains: [[Int]] = []
        for t in trunks where t.kind == kind {
            var ids: [Int] = []
            for k in 0..<t.x.count {
                let j = min(t.x.count - 1, k + 1), i = max(0, j - 1)
                var dx = t.x[j] - t.x[i], dy = t.y[j] - t.y[i]
                let n = max(1e-12, (dx * dx + dy * dy).squareRoot())
                dx /= n; dy /= n
                ids.append(tree.append(x: t.x[k], y: t.y[k], parent: ids.last.map { Int32($0) } ?? -1, dx: dx, dy: dy, kind: t.kind))
            }
            chains.append(ids)
        }
        return chains
    }
}
