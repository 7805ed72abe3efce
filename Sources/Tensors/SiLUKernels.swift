#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif

/// Explicitly vectorised exp, sigmoid and SiLU (8 lanes) for the smooth GNN's activations and its
/// log-mean-exp readout.
///
/// The scalar `Kernels.exp` is written to vectorise, but loops that call it through a generic
/// `UnaryKernel` often stay scalar (in-place buffers the compiler cannot prove disjoint, accumulating
/// closures); a profile of `capillary bench-gnn --smooth` found SiLU's scalar `divss` loops among the
/// hottest code. These functions use `SIMD8<Float>` directly, so every call is vector code.
extension Kernels {
    typealias V8 = SIMD8<Float>

    @inline(__always) static func load8(_ p: UnsafePointer<Float>) -> V8 { UnsafeRawPointer(p).loadUnaligned(as: V8.self) }
    @inline(__always) static func store8(_ v: V8, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self)
    }

    /// Lane-wise minimum and maximum as SSE `minps` / `maxps`: Swift's generic `pointwiseMin` / `pointwiseMax`
    /// on SIMD8 were outlined calls (7.8% of an integrated-gradients profile).
    @inline(__always) static func min8(_ a: V8, _ b: V8) -> V8 {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        return V8(lowHalf: _mm_min_ps(a.lowHalf, b.lowHalf), highHalf: _mm_min_ps(a.highHalf, b.highHalf))
        #else
        return pointwiseMin(a, b)
        #endif
    }
    @inline(__always) static func max8(_ a: V8, _ b: V8) -> V8 {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        return V8(lowHalf: _mm_max_ps(a.lowHalf, b.lowHalf), highHalf: _mm_max_ps(a.highHalf, b.highHalf))
        #else
        return pointwiseMax(a, b)
        #endif
    }

    /// e^x lane-wise: the same arithmetic as the scalar `Kernels.exp` (bit-identical results), 8 at a time.
    /// On x86-64 written with SSE2 intrinsics per 4-lane half (explicit selects instead of masked `replace`);
    /// callgrind counts the same instructions as the generic SIMD8 form below (both are vector code).
    @inline(__always)
    static func exp8(_ x: V8) -> V8 {
        #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
        return V8(lowHalf: exp4(x.lowHalf), highHalf: exp4(x.highHalf))
        #else
        let xc = min8(V8(repeating: 88.72), max8(V8(repeating: -87.3), x))
        let t = xc * 1.442695040888963 + 12_582_912
        let n = t - 12_582_912
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let r = (xc - n * 0.693145751953125) - n * 1.428606765330187e-06
        var p = V8(repeating: 1.0 / 5040)
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let h = ni &>> 1
        let s1 = unsafeBitCast((h &+ 127) &<< 23, to: V8.self)
        let s2 = unsafeBitCast((ni &- h &+ 127) &<< 23, to: V8.self)
        var y = p * s1 * s2
        y.replace(with: 0, where: x .< -87.3)
        y.replace(with: .infinity, where: x .> 88.72)
        return y
        #endif
    }

    #if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
    /// `exp8` on one SSE register (4 lanes).
    @inline(__always)
    static func exp4(_ x: SIMD4<Float>) -> SIMD4<Float> {
        typealias V4 = SIMD4<Float>
        // Constants first: minps/maxps return their second operand when one is NaN, so NaN propagates.
        let xc = _mm_min_ps(V4(repeating: 88.72), _mm_max_ps(V4(repeating: -87.3), x))
        let t = xc * 1.442695040888963 + 12_582_912
        let n = t - 12_582_912
        let ni = _mm_sub_epi32(_mm_castps_si128(t), _mm_set1_epi32(0x4B40_0000))
        let r = (xc - n * 0.693145751953125) - n * 1.428606765330187e-06
        var p = V4(repeating: 1.0 / 5040)
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let h = _mm_srai_epi32(ni, 1)
        let bias = _mm_set1_epi32(127)
        let s1 = _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(h, bias), 23))
        let s2 = _mm_castsi128_ps(_mm_slli_epi32(_mm_add_epi32(_mm_sub_epi32(ni, h), bias), 23))
        let y = p * s1 * s2
        // x < -87.3 -> 0, x > 88.72 -> +inf (bitwise selects: SSE2 has no blend).
        let low = _mm_cmplt_ps(x, V4(repeating: -87.3)), high = _mm_cmpgt_ps(x, V4(repeating: 88.72))
        let kept = _mm_andnot_ps(high, _mm_andnot_ps(low, y))
        return _mm_or_ps(kept, _mm_and_ps(high, V4(repeating: .infinity)))
    }
    #endif

    /// 1 / (1 + e^-x) lane-wise (0 and 1 in the saturated tails, never NaN).
    @inline(__always)
    static func sigmoid8(_ x: V8) -> V8 { 1 / (1 + exp8(-x)) }

    /// SiLU in place or out of place: y[i] = z[i] sigmoid(z[i]); when `sigmoid` is given, sigmoid(z[i]) is
    /// stored there too (what the backward pass needs: f'(z) = s + y (1 - s), no second exp).
    /// z, y may be the same buffer; `sigmoid` must not alias either.
    static func siluForward(_ z: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, sigmoid: UnsafeMutablePointer<Float>?,
                            count: Int) {
        var i = 0
        while i + 8 <= count {
            let v = load8(z + i), s = sigmoid8(v)
            store8(v * s, y + i)
            if let sigmoid { store8(s, sigmoid + i) }
            i += 8
        }
        while i < count {
            let v = z[i], s = 1 / (1 + exp(-v))
            y[i] = v * s
            sigmoid?[i] = s
            i += 1
        }
    }

    /// dz[i] = g[i] (s[i] + y[i] (1 - s[i])): the SiLU backward from the stored sigmoid s and output y.
    static func siluBackward(grad g: UnsafePointer<Float>, output y: UnsafePointer<Float>, sigmoid s: UnsafePointer<Float>,
                             into dz: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let sv = load8(s + i)
            store8(load8(g + i) * (sv + load8(y + i) * (1 - sv)), dz + i)
            i += 8
        }
        while i < count { dz[i] = g[i] * (s[i] + y[i] * (1 - s[i])); i += 1 }
    }
}
