import Common
import Foundation

/// The large-vessel layout of the macula: the superior and inferior temporal arcades.
///
/// Arterioles and venules leave the optic disc (about 4-5 mm nasal of the fovea), arch above and below the
/// fovea and run on temporally towards the horizontal raphe; the macular branches leave the arcades towards
/// the fovea. Each arcade trunk is an arc of an ellipse around a point 1.5-3.0 mm nasal of the fovea (its
/// apex lies near or beyond the disc-side edge of a 6 mm field, so inside the field the two arcades
/// converge towards the temporal side, a wedge opening towards the disc, as in OCTA-500):
/// nasal coordinate a = a_c + A cos(phi), vertical offset v = -/+ B sin(phi), phi from near 0 (disc side)
/// to about 165 deg (temporal), each arcade with its own a_c, A, B and a tilt of up to 12 deg about the
/// fovea. On a 6 mm scan the trunks cross the field above and below the FAZ (OCTA-500: about 1.5-2.3 mm
/// from the fovea at their closest); on a 3 mm scan they pass outside the field and only their branches
/// enter it. Coordinates: field mm (origin top-left, y down).
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
        // Each arcade has its own shape (apex position, width, height) and is tilted on its own, so the two
        // arcs are not mirror images: with one shared ellipse both trunks crossed a 6 mm field as a
        // symmetric lens converging on the temporal side, which OCTA-500 eyes never show (their trunks
        // enter obliquely from the disc side and leave across the temporal or the top/bottom edge).
        // a_c / A <= 0.6 keeps each main trunk at least 0.8 B (>= 1.5 mm) from the fovea where it passes it.
        let acSup = rng.uniform(1.5, 3.0), acInf = rng.uniform(1.5, 3.0)
        let aSup = rng.uniform(5.0, 7.0), aInf = rng.uniform(5.0, 7.0)
        let sup = rng.uniform(1.9, 2.7), inf = rng.uniform(1.9, 2.7)
        let tiltSup = rng.uniform(-12, 12) * Double.pi / 180, tiltInf = rng.uniform(-12, 12) * Double.pi / 180
        shape = Shape(centreNasalMM: 0.5 * (acSup + acInf), semiAxisHorizontalMM: 0.5 * (aSup + aInf), superiorMM: sup, inferiorMM: inf)
        var out: [Trunk] = []
        for (side, b0, ac, A, tilt) in [(-1.0, sup, acSup, aSup, tiltSup), (1.0, inf, acInf, aInf, tiltInf)] {
            // An artery and a vein per arcade. The companion follows its own arc 0.7-1.5 mm further out
            // (centre and width differ too), so at 6 mm it mostly lies outside the field or enters it at a
            // corner; closer companions (0.2-1.1 mm before) ran beside the main trunk as parallel rails.
            let mainIsArtery = rng.uniform() < 0.5
            for main in [true, false] {
                let B = main ? b0 : b0 + rng.uniform(0.7, 1.5)
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
                    // Tilt the arcade about the fovea (distances to the fovea are kept).
                    let pa = a - off * dv / len, pv = v + off * da / len
                    let ra = pa * Foundation.cos(tilt) - pv * Foundation.sin(tilt)
                    let rv = pa * Foundation.sin(tilt) + pv * Foundation.cos(tilt)
                    // Arcades do not cross the horizontal raphe: past its apex, a tilted trunk ends 0.3 mm
                    // short of it.
                    if phi > Double.pi / 2 && side * rv < 0.3 { break }
                    xs.append(fx + nasalSign * ra); ys.append(fy + rv)
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
