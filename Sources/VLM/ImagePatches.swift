import Foundation
import Retina

/// Turns an OCTA image into the vision encoder's input: resized by area averaging to a square of
/// `imageSizePX`, standardised per image (zero mean, unit variance, so scanner brightness does not matter),
/// and cut into patches in row-major patch order, each patch's pixels row-major.
public enum ImagePatches {
    /// [visualTokens * patchDim] floats for `image` under `config`.
    public static func patches(of image: GrayImage, config: VLMConfig) -> [Float] {
        let s = config.imageSizePX, p = config.patchSizePX
        let resized = resize(image, to: s)
        var mean: Float = 0
        for v in resized { mean += v }
        mean /= Float(resized.count)
        var variance: Float = 0
        for v in resized { variance += (v - mean) * (v - mean) }
        let inv = 1 / (variance / Float(resized.count) + 1e-6).squareRoot()
        let grid = s / p
        var out = [Float](repeating: 0, count: grid * grid * p * p)
        for py in 0..<grid {
            for px in 0..<grid {
                let base = (py * grid + px) * p * p
                for y in 0..<p {
                    for x in 0..<p {
                        out[base + y * p + x] = (resized[(py * p + y) * s + px * p + x] - mean) * inv
                    }
                }
            }
        }
        return out
    }

    /// Area-average resize of `image` to `side` x `side` (each output pixel averages the input pixels whose
    /// index falls in its box; upsampling repeats pixels).
    public static func resize(_ image: GrayImage, to side: Int) -> [Float] {
        let w = image.width, h = image.height
        var out = [Float](repeating: 0, count: side * side)
        for oy in 0..<side {
            let y0 = oy * h / side, y1 = max(y0 + 1, (oy + 1) * h / side)
            for ox in 0..<side {
                let x0 = ox * w / side, x1 = max(x0 + 1, (ox + 1) * w / side)
                var acc: Float = 0
                for y in y0..<y1 { for x in x0..<x1 { acc += image.pixels[y * w + x] } }
                out[oy * side + ox] = acc / Float((y1 - y0) * (x1 - x0))
            }
        }
        return out
    }
}
