import Foundation

/// The union of vessel centrelines at the image's pixel resolution, and its length.
///
/// An image cannot show two centrelines inside one pixel, so the true skeleton length of an eye is the
/// length of the UNION of its visible centrelines on the pixel grid, not the sum of the simulated
/// segment lengths (capillaries closer than a pixel, overlaps at shared nodes and crossings count once).
/// Every centreline segment is drawn as a one-pixel-wide digital line (one pixel per column along its
/// major axis, the pixel whose row contains the line at the column centre). Each marked pixel carries the
/// length of one 8-neighbour step in the line's direction as a chain of axial (1 px) and diagonal
/// (sqrt 2 px) steps would measure it: w = 1 + (sqrt 2 - 1) tan(theta), theta the angle to the major axis
/// (0-45 deg). Summed over a straight digital line, these weights equal its 8-neighbour chain length, the
/// measure VesselGraph uses on its skeleton. A pixel marked by several segments counts once, with the
/// largest weight (deterministic, independent of drawing order).
struct CentrelineRaster {
    let width: Int
    /// Per-pixel step weight in px, 0 where no centreline passes.
    private(set) var weightPX: [Float]

    init(width: Int) {
        self.width = width
        weightPX = [Float](repeating: 0, count: width * width)
    }

    /// Draws the segment (ax, ay)-(bx, by), in pixel units (pixel (x, y) covers [x, x+1) x [y, y+1)): one
    /// pixel in each column (or row, along the major axis) whose centre the segment spans. Parts outside
    /// the image are ignored (clipped to the field). A piece shorter than a pixel that spans no column
    /// centre marks nothing; inside a polyline its neighbours cover those columns.
    mutating func add(ax: Double, ay: Double, bx: Double, by: Double) {
        let ex = bx - ax, ey = by - ay
        let alongX = abs(ex) >= abs(ey)
        // Major-axis coordinate u, minor-axis coordinate v.
        let (ua, va, ub, vb) = alongX ? (ax, ay, bx, by) : (ay, ax, by, bx)
        let du = ub - ua, dv = vb - va
        let w = Float(1 + (2.0.squareRoot() - 1) * (du == 0 ? 0 : min(1, abs(dv / du))))
        let uLo = min(ua, ub), uHi = max(ua, ub)
        // Columns whose centre c + 0.5 lies in [uLo, uHi): the pieces of a polyline then cover every column
        // of the chain exactly once.
        guard uHi - 0.5 > -1, uLo - 0.5 < Double(width) else { return }
        let c0 = max(0, Int(Foundation.ceil(uLo - 0.5))), c1 = min(width - 1, Int(Foundation.ceil(uHi - 0.5)) - 1)
        guard c0 <= c1 else { return }
        for c in c0...c1 {
            // Minor coordinate where the line crosses the column centre.
            let u = Double(c) + 0.5
            let v = va + (u - ua) / du * dv
            let r = Int(Foundation.floor(v))
            guard r >= 0, r < width else { continue }
            let k = alongX ? r * width + c : c * width + r
            if w > weightPX[k] { weightPX[k] = w }
        }
    }

    /// Length of the union of the drawn centrelines, px.
    var lengthPX: Double {
        var s = 0.0
        for v in weightPX { s += Double(v) }
        return s
    }

    /// Number of pixels on a centreline.
    var pixelCount: Int { weightPX.reduce(0) { $0 + ($1 > 0 ? 1 : 0) } }
}
