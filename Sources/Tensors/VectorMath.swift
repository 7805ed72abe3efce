import Common
#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif

extension Kernels {
    /// Lane-wise IEEE square root of 8 floats as two SSE `sqrtps`. Swift's `SIMD8<Float>.squareRoot()`
    /// compiles to eight scalar `sqrtss` with a branch each (measured in AdamW: the sqrt lanes were its
    /// hottest instructions); `sqrtps` is correctly rounded, so results are bit-identical.
    @inline(__always)
    static func squareRoot(_ v: SIMD8<Float>) -> SIMD8<Float> {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        return SIMD8(lowHalf: _mm_sqrt_ps(v.lowHalf), highHalf: _mm_sqrt_ps(v.highHalf))
        #else
        return v.squareRoot()
        #endif
    }

    /// Writes `row` (`cols` floats) into each of `rows` consecutive rows of y (a bias before sgemm with
    /// beta 1), in parallel. An inline vector loop: one memmove call per 64-float row cost more than the copy.
    static func broadcastRows(_ row: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, rows: Int, cols: Int) {
        Parallel.forEach(rows, minChunk: Swift.max(1, (1 << 15) / Swift.max(cols, 1))) { r in
            for i in r {
                let dst = y + i * cols
                var j = 0
                while j + 8 <= cols {
                    UnsafeMutableRawPointer(dst + j).storeBytes(of: UnsafeRawPointer(row + j).loadUnaligned(as: SIMD8<Float>.self),
                                                                as: SIMD8<Float>.self)
                    j += 8
                }
                while j < cols { dst[j] = row[j]; j += 1 }
            }
        }
    }
}
