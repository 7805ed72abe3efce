import Common
import Foundation
import Retina

/// Exact geometric test images (bright vessels on a dark background) with known answers, and a seeded
/// random line network for timing. These are test patterns, not a model of OCTA (Retina's simulator is).
public enum GeometricPhantom {
    /// Draws a filled capsule (thick line with round caps) from (x0, y0) to (x1, y1) px, `widthPX` wide.
    public static func drawLine(_ mask: inout BinaryMask, from a: (Double, Double), to b: (Double, Double),
                                widthPX: Double) {
        let r = widthPX / 2
        let x0 = max(0, Int((min(a.0, b.0) - r).rounded(.down))), x1 = min(mask.width - 1, Int((max(a.0, b.0) + r).rounded(.up)))
        let y0 = max(0, Int((min(a.1, b.1) - r).rounded(.down))), y1 = min(mask.height - 1, Int((max(a.1, b.1) + r).rounded(.up)))
        guard x0 <= x1, y0 <= y1 else { return }
        let dx = b.0 - a.0, dy = b.1 - a.1, len2 = dx * dx + dy * dy
        for y in y0...y1 {
            for x in x0...x1 {
                let px = Double(x), py = Double(y)
                let t = len2 > 0 ? min(1, max(0, ((px - a.0) * dx + (py - a.1) * dy) / len2)) : 0
                let qx = a.0 + t * dx - px, qy = a.1 + t * dy - py
                if qx * qx + qy * qy <= r * r { mask[x, y] = true }
            }
        }
    }

    /// Draws an annulus centred at (cx, cy) px between radii `inner` and `outer` px.
    public static func drawRing(_ mask: inout BinaryMask, centre c: (Double, Double), inner: Double, outer: Double) {
        for y in 0..<mask.height {
            for x in 0..<mask.width {
                let d2 = (Double(x) - c.0) * (Double(x) - c.0) + (Double(y) - c.1) * (Double(y) - c.1)
                if d2 >= inner * inner && d2 <= outer * outer { mask[x, y] = true }
            }
        }
    }

    /// A gray image of a mask: vessels at `vessel` intensity, background at `background`.
    public static func image(of mask: BinaryMask, pixelSizeMM: Double, vessel: Float = 0.8,
                             background: Float = 0.1) -> GrayImage {
        GrayImage(width: mask.width, height: mask.height, pixelSizeMM: pixelSizeMM,
                  pixels: mask.bits.map { $0 != 0 ? vessel : background })
    }

    /// A seeded random network for benchmarks: `lines` straight vessels 1-4 px wide crossing the field
    /// outside a central avascular disc of `fazRadiusMM`, plus Gaussian noise of `noiseSD`.
    public static func network(width: Int, height: Int, pixelSizeMM: Double, seed: UInt64, lines: Int = 160,
                               fazRadiusMM: Double = 0.3, noiseSD: Double = 0.08) -> GrayImage {
        var rng = SeededGenerator(seed: seed)
        var mask = BinaryMask(width: width, height: height)
        let cx = Double(width) / 2, cy = Double(height) / 2, rf = fazRadiusMM / pixelSizeMM
        for _ in 0..<lines {
            let a = (rng.uniform(0, Double(width)), rng.uniform(0, Double(height)))
            let angle = rng.uniform(0, Double.pi)
            let len = rng.uniform(0.1, 0.5) * Double(min(width, height))
            let b = (a.0 + cos(angle) * len, a.1 + sin(angle) * len)
            drawLine(&mask, from: a, to: b, widthPX: rng.uniform(1, 4))
        }
        var img = image(of: mask, pixelSizeMM: pixelSizeMM, vessel: 0.7, background: 0.15)
        for y in 0..<height {
            for x in 0..<width {
                let d2 = (Double(x) - cx) * (Double(x) - cx) + (Double(y) - cy) * (Double(y) - cy)
                var v = Double(img[x, y])
                if d2 < rf * rf { v = 0.05 }
                img[x, y] = Float(min(1, max(0, v + noiseSD * rng.normal())))
            }
        }
        return img
    }
}
