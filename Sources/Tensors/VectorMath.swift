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
}
