import Foundation

/// The 8 symmetries of the square (rotations by 0/90/180/270 degrees, each optionally mirrored) applied to
/// an image already cut into patches (`ImagePatches` layout), as index permutations built once per config.
///
/// Why: the diabetic-retinopathy stage and the global graph biomarkers do not change when the scan is
/// rotated or mirrored, so stage-1 alignment (whose answers are only the `Stage:` line) can show the
/// encoder 8 views of each of its few hundred training images. Stage 2 does not use it: its answers name
/// sectors (superior, nasal, ...) that a rotation would make wrong.
public struct PatchAugmentation: Sendable {
    /// permutations[t][i]: the source index of output value i under transform t (t = 0 is the identity).
    public let permutations: [[Int32]]

    /// The permutations for `config`'s image and patch sides.
    public init(config: VLMConfig) {
        let s = config.imageSizePX, p = config.patchSizePX, grid = s / p
        // Index in the patch layout of image pixel (y, x).
        func index(_ y: Int, _ x: Int) -> Int { ((y / p) * grid + x / p) * p * p + (y % p) * p + (x % p) }
        var perms: [[Int32]] = []
        for t in 0..<8 {
            var perm = [Int32](repeating: 0, count: s * s)
            for y in 0..<s {
                for x in 0..<s {
                    // Rotate (y, x) by t % 4 quarter turns, then mirror horizontally when t >= 4.
                    var (sy, sx) = (y, x)
                    for _ in 0..<(t % 4) { (sy, sx) = (sx, s - 1 - sy) }
                    if t >= 4 { sx = s - 1 - sx }
                    perm[index(y, x)] = Int32(index(sy, sx))
                }
            }
            perms.append(perm)
        }
        permutations = perms
    }

    /// `patches` under transform `t` (0..<8).
    public func apply(_ t: Int, to patches: [Float]) -> [Float] {
        precondition(t >= 0 && t < 8 && patches.count == permutations[0].count,
                     "PatchAugmentation.apply: transform 0..<8 on an image of the config's size")
        let perm = permutations[t]
        return perm.withUnsafeBufferPointer { pp in
            patches.withUnsafeBufferPointer { src in
                [Float](unsafeUninitializedCapacity: pp.count) { out, n in
                    for i in 0..<pp.count { out[i] = src[Int(pp[i])] }
                    n = pp.count
                }
            }
        }
    }
}
