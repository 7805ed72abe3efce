import Foundation

/// Shape descriptors of a pixel region (scikit-image `regionprops` conventions), in pixels.
struct RegionShape {
    var areaPX: Double = 0
    /// Boundary length: 4-connected crack edges x pi/4, an unbiased estimate for randomly oriented smooth
    /// boundaries (a digital disk gets circularity close to 1).
    var perimeterPX: Double = 0
    var centroidX: Double = 0
    var centroidY: Double = 0
    /// Axes of the ellipse with the same second moments (4 sqrt(eigenvalue)).
    var majorAxisPX: Double = 0
    var minorAxisPX: Double = 0
    /// sqrt(1 - minor^2 / major^2), 0 for a disk, -> 1 for a line.
    var eccentricity: Double = 0
    /// Area / area of the convex hull of the pixel squares.
    var solidity: Double = 0
    /// Largest distance between two points of the hull of the pixel squares.
    var maxFeretPX: Double = 0
    /// Diameter of the disk with the same area.
    var equivalentDiameterPX: Double { (4 * areaPX / Double.pi).squareRoot() }
    /// 4 pi A / P^2, clamped to [0, 1].
    var circularity: Double { perimeterPX > 0 ? min(1, 4 * Double.pi * areaPX / (perimeterPX * perimeterPX)) : 0 }

    /// Measures the region whose pixels (sorted row-major indices) are `pixels`; a neighbour belongs to the
    /// region when `labels[neighbour] == id` (for the perimeter).
    init(pixels: [Int32], width w: Int, height h: Int, labels: [Int32], id: Int32) {
        // Through a raw pointer: neighbours are inside the image (the tests guard the borders), and the
        // bounds check of an Array read per neighbour was a tenth of this initialiser.
        self = labels.withUnsafeBufferPointer { lb in
            let l = lb.baseAddress!
            return RegionShape(pixels: pixels, width: w, height: h) { l[$0] == id }
        }
    }

    /// Measures the region whose pixels (sorted row-major indices) are `pixels`; `isInside` tells which
    /// neighbours belong to it (for the perimeter).
    init(pixels: [Int32], width w: Int, height h: Int, isInside: (Int) -> Bool) {
        guard !pixels.isEmpty else { return }
        var sx = 0.0, sy = 0.0, sxx = 0.0, syy = 0.0, sxy = 0.0
        var crack = 0
        // Per-row extremes (pixels are in raster order) feed the convex hull: the hull of the pixel squares is
        // the hull of each row's outer corners. They are emitted in (y, x) order, so the hull needs no sort.
        var corners: [(Double, Double)] = []
        corners.reserveCapacity(64)
        var rowY = -1, rowMin = 0, rowMax = 0
        func flushRow() {
            guard rowY >= 0 else { return }
            let y0 = Double(rowY) - 0.5, y1 = Double(rowY) + 0.5
            let left = Double(rowMin) - 0.5, right = Double(rowMax) + 0.5
            // The top edge of this row may coincide with the bottom edge of the previous one: merge them so
            // the sequence stays sorted by (y, x).
            if corners.count >= 2 && corners[corners.count - 1].1 == y0 {
                let l = min(corners[corners.count - 2].0, left), r = max(corners[corners.count - 1].0, right)
                corners[corners.count - 2] = (l, y0); corners[corners.count - 1] = (r, y0)
            } else {
                corners.append((left, y0)); corners.append((right, y0))
            }
            corners.append((left, y1)); corners.append((right, y1))
        }
        // Pixels come in raster order, so the row changes only a few times: one division per row, not per
        // pixel (an integer division costs tens of cycles).
        var rowStart = 0, rowEnd = 0, y = 0
        for p32 in pixels {
            let p = Int(p32)
            if p >= rowEnd { y = p / w; rowStart = y * w; rowEnd = rowStart + w }
            let x = p - rowStart
            let fx = Double(x), fy = Double(y)
            sx += fx; sy += fy; sxx += fx * fx; syy += fy * fy; sxy += fx * fy
            if x == 0 || !isInside(p - 1) { crack += 1 }
            if x == w - 1 || !isInside(p + 1) { crack += 1 }
            if y == 0 || !isInside(p - w) { crack += 1 }
            if y == h - 1 || !isInside(p + w) { crack += 1 }
            if y != rowY { flushRow(); rowY = y; rowMin = x; rowMax = x } else { rowMin = min(rowMin, x); rowMax = max(rowMax, x) }
        }
        flushRow()
        let n = Double(pixels.count)
        areaPX = n
        perimeterPX = Double(crack) * Double.pi / 4
        centroidX = sx / n; centroidY = sy / n
        // Central moments with the 1/12 of a unit pixel square, as regionprops does.
        let mxx = sxx / n - centroidX * centroidX + 1.0 / 12
        let myy = syy / n - centroidY * centroidY + 1.0 / 12
        let mxy = sxy / n - centroidX * centroidY
        let tr = mxx + myy, det = mxx * myy - mxy * mxy
        let disc = max(0, tr * tr / 4 - det).squareRoot()
        let l1 = tr / 2 + disc, l2 = max(0, tr / 2 - disc)
        majorAxisPX = 4 * l1.squareRoot(); minorAxisPX = 4 * l2.squareRoot()
        eccentricity = l1 > 0 ? (1 - l2 / l1).squareRoot() : 0
        // The hull in a raw scratch buffer (an Array per region went through the runtime's generic allocation).
        let hull = UnsafeMutablePointer<(Double, Double)>.allocate(capacity: max(4, 2 * corners.count))
        defer { hull.deallocate() }
        let hullCount = corners.withUnsafeBufferPointer { Self.convexHull($0.baseAddress!, $0.count, into: hull) }
        var hullArea = 0.0
        for i in 0..<hullCount {
            // (i + 1) wrapped without a division.
            let a = hull[i], b = hull[i + 1 < hullCount ? i + 1 : 0]
            hullArea += a.0 * b.1 - b.0 * a.1
        }
        hullArea = abs(hullArea) / 2
        solidity = hullArea > 0 ? min(1, n / hullArea) : 1
        var feret2 = 0.0
        for i in 0..<hullCount {
            for j in (i + 1)..<hullCount {
                let dx = hull[i].0 - hull[j].0, dy = hull[i].1 - hull[j].1
                feret2 = max(feret2, dx * dx + dy * dy)
            }
        }
        maxFeretPX = feret2.squareRoot()
    }

    /// Andrew's monotone chain over points already sorted lexicographically (here by y, then x); returns the
    /// hull without repeated points, in one consistent orientation.
    static func convexHull(sorted p: [(Double, Double)]) -> [(Double, Double)] {
        guard p.count > 2 else { return p }
        let hull = UnsafeMutablePointer<(Double, Double)>.allocate(capacity: 2 * p.count)
        defer { hull.deallocate() }
        let m = p.withUnsafeBufferPointer { convexHull($0.baseAddress!, $0.count, into: hull) }
        return Array(UnsafeBufferPointer(start: hull, count: m))
    }

    /// `convexHull(sorted:)` of the `n` points at `p`, written to `hb` (room for 2n points, at least 4);
    /// returns the number of hull points (the points themselves when n <= 2).
    static func convexHull(_ p: UnsafePointer<(Double, Double)>, _ n: Int,
                           into hb: UnsafeMutablePointer<(Double, Double)>) -> Int {
        guard n > 2 else {
            for i in 0..<n { hb[i] = p[i] }
            return n
        }
        @inline(__always) func cross(_ o: (Double, Double), _ a: (Double, Double), _ b: (Double, Double)) -> Double {
            (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
        }
        // Both chains in one buffer (the upper one continues from the lower one's last point, which it never
        // pops): the same points in the same order as lower.dropLast() + upper.dropLast().
        var k = 0
        for i in 0..<n {
            let q = p[i]
            while k >= 2 && cross(hb[k - 2], hb[k - 1], q) <= 0 { k -= 1 }
            hb[k] = q; k += 1
        }
        let t = k + 1
        for i in stride(from: n - 2, through: 0, by: -1) {
            let q = p[i]
            while k >= t && cross(hb[k - 2], hb[k - 1], q) <= 0 { k -= 1 }
            hb[k] = q; k += 1
        }
        return k - 1
    }

    /// The hull of arbitrary points (sorted first by x, then y).
    static func convexHull(_ pts: [(Double, Double)]) -> [(Double, Double)] {
        convexHull(sorted: pts.sorted { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 })
    }
}
