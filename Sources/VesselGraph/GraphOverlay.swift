import Foundation
import Retina

/// Draws what the pipeline found on top of the image, for people to check by eye.
public enum GraphOverlay {
    /// An RGB picture of `image` (scaled up `scale` times, 1-4) with: the FAZ filled magenta with a solid
    /// border, the vessel mask tinted blue (so ICA borders are its edges), the vessel centrelines in yellow,
    /// branch points as red dots and the ETDRS circles (1, 3, 6 mm) in green.
    public static func render(_ image: GrayImage, _ a: VesselAnalysis, scale: Int = 1) -> RGBImage {
        let k = min(4, max(1, scale))
        let w = image.width, h = image.height
        var out = RGBImage(width: w * k, height: h * k)
        let g = image.bytes()
        for y in 0..<(h * k) { for x in 0..<(w * k) { let v = g[(y / k) * w + x / k]; out.plot(x, y, (v, v, v)) } }
        func fill(_ p: Int, _ c: (UInt8, UInt8, UInt8), _ alpha: Float) {
            let x = p % w, y = p / w
            for yy in 0..<k { for xx in 0..<k { out.plot(x * k + xx, y * k + yy, c, alpha: alpha) } }
        }
        let faz = a.fazMask.bits, ves = a.vesselMask.bits
        for p in 0..<(w * h) {
            let x = p % w, y = p / w
            if faz[p] != 0 {
                let edge = x == 0 || y == 0 || x == w - 1 || y == h - 1 || faz[p - 1] == 0 || faz[p + 1] == 0
                    || faz[p - w] == 0 || faz[p + w] == 0
                fill(p, (255, 0, 255), edge ? 1 : 0.35)
            } else if ves[p] != 0 {
                fill(p, (40, 120, 255), 0.35)
            }
        }
        for p in 0..<(w * h) where a.skeleton.bits[p] != 0 { fill(p, (255, 220, 0), 1) }
        // One dot per branch point (at its cluster's first pixel), a little larger than a centreline pixel.
        var seen = Set<Int>()
        for p32 in a.bifurcationPixels {
            let p = Int(p32), x = p % w, y = p / w
            if seen.contains(p) { continue }
            for dy in -1...1 { for dx in -1...1 { seen.insert((y + dy) * w + x + dx) } }
            let cx = x * k + k / 2, cy = y * k + k / 2
            for dy in -1...1 { for dx in -1...1 where abs(dx) + abs(dy) <= 1 { out.plot(cx + dx, cy + dy, (255, 30, 30)) } }
        }
        // ETDRS circles, drawn as many points as the circumference needs.
        let cx = a.graph.gridCentrePX[0], cy = a.graph.gridCentrePX[1]
        for dMM in [1.0, 3.0, 6.0] {
            let r = dMM / 2 / image.pixelSizeMM * Double(k)
            let steps = Int(2 * Double.pi * r * 2) + 8
            for i in 0..<steps {
                let t = 2 * Double.pi * Double(i) / Double(steps)
                out.plot(Int(((cx + 0.5) * Double(k) + r * cos(t)).rounded(.down)),
                         Int(((cy + 0.5) * Double(k) + r * sin(t)).rounded(.down)), (60, 230, 60), alpha: 0.8)
            }
        }
        return out
    }
}
