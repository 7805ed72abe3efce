import Foundation

/// Flat, no-autodiff kernels on raw row-major buffers.
///
/// The autodiff ops call these, and so can hot inference loops (e.g. a KV-cached decoder generating one
/// token at a time), which then pay no graph bookkeeping. Every function works on `rows` rows of `cols`
/// contiguous floats unless stated otherwise; input and output may be the same buffer where noted.
public enum Kernels {
    static let geluScale: Float = 0.7978845608028654  // sqrt(2 / pi)

    /// e^x from pure arithmetic (no libm call), so loops that use it vectorise: x = n ln2 + r with
    /// |r| <= ln2/2, e^r by a degree-7 Taylor polynomial, 2^n assembled in the exponent bits.
    /// Relative error below 3e-7 (about 2 ulp) on the whole Float range; 0 below -87.3 (where Float
    /// underflows to subnormals) and +inf above 88.72.
    @inline(__always)
    public static func exp(_ x: Float) -> Float {
        let xc = Swift.min(Swift.max(x, -87.3), 88.72)
        // Round to nearest by adding 1.5 * 2^23: the sum's low mantissa bits then hold n as an integer.
        // Plain arithmetic and wrapping integer ops only (rounded() calls rintf and Int32(Float) checks its
        // range; either stops the loop from vectorising).
        let t = xc * 1.442695040888963 + 12_582_912
        let n = t - 12_582_912
        let ni = Int32(bitPattern: t.bitPattern) &- 0x4B40_0000
        // Two-constant ln2 split (Cody-Waite) keeps r accurate for large |n|.
        let r = (xc - n * 0.693145751953125) - n * 1.428606765330187e-06
        var p: Float = 1.0 / 5040
        p = p * r + 1.0 / 720
        p = p * r + 1.0 / 120
        p = p * r + 1.0 / 24
        p = p * r + 1.0 / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        // 2^n as 2^h * 2^(n-h) with h = n/2, so both factors stay normal for n in [-126, 128].
        let h = ni >> 1
        let s1 = Float(bitPattern: UInt32(bitPattern: (h &+ 127) &<< 23))
        let s2 = Float(bitPattern: UInt32(bitPattern: (ni &- h &+ 127) &<< 23))
        let y = p * s1 * s2
        return x < -87.3 ? 0 : (x > 88.72 ? .infinity : y)
    }

    /// tanh through one exp: 1 - 2 / (e^(2u) + 1). About 4x faster than libm's tanhf and accurate to a few
    /// 1e-7 in absolute terms, which is what GELU needs (it multiplies by x and adds 1). Saturates correctly:
    /// e^(2u) = inf gives 1, e^(2u) = 0 gives -1.
    @inline(__always)
    public static func fastTanh(_ u: Float) -> Float {
        1 - 2 / (exp(2 * u) + 1)
    }

    /// GELU (tanh approximation) of one value.
    @inline(__always)
    public static func gelu(_ x: Float) -> Float {
        let u = geluScale * (x + 0.044715 * x * x * x)
        return 0.5 * x * (1 + fastTanh(u))
    }

    /// d GELU(x) / dx for the tanh approximation.
    @inline(__always)
    public static func geluDerivative(_ x: Float) -> Float {
        let u = geluScale * (x + 0.044715 * x * x * x)
        let t = fastTanh(u)
        let sech2 = 1 - t * t
        return 0.5 * (1 + t) + 0.5 * x * sech2 * geluScale * (1 + 3 * 0.044715 * x * x)
    }

    /// Sum of `count` floats with 16 independent lanes (vectorised; summation order differs from a plain
    /// loop, by rounding only).
    @inline(__always)
    public static func sum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD8<Float>()
        var j = 0
        while j + 8 <= count { acc += UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self); j += 8 }
        var s = acc.sum()
        while j < count { s += x[j]; j += 1 }
        return s
    }

    /// Largest of `count` floats (-inf for none), vectorised.
    @inline(__always)
    public static func max(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD8<Float>(repeating: -.infinity)
        var j = 0
        while j + 8 <= count {
            acc = pointwiseMax(acc, UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)); j += 8
        }
        var m = acc.max()
        while j < count { m = Swift.max(m, x[j]); j += 1 }
        return m
    }

    /// Sum of x[j] * y[j], vectorised.
    @inline(__always)
    public static func dot(_ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, count: Int) -> Float {
        var acc = SIMD8<Float>()
        var j = 0
        while j + 8 <= count {
            acc += UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
                * UnsafeRawPointer(y + j).loadUnaligned(as: SIMD8<Float>.self)
            j += 8
        }
        var s = acc.sum()
        while j < count { s += x[j] * y[j]; j += 1 }
        return s
    }

    /// y[i] = GELU(x[i]) for `count` values (x and y may be the same buffer).
    public static func gelu(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count { y[i] = gelu(x[i]) }
    }

    /// Softmax of each row of x [rows, cols] into y (may alias x). Subtracts the row max for stability.
    /// `validCols` (<= cols) limits each row to its first entries (the rest are set to 0): a causal mask.
    public static func softmaxRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                   rows: Int, cols: Int, validCols: ((Int) -> Int)? = nil) {
        for r in 0..<rows {
            let xr = x + r * cols, yr = y + r * cols
            let v = validCols?(r) ?? cols
            let m = max(xr, count: v)
            for j in 0..<v { yr[j] = exp(xr[j] - m) }
            let inv = 1 / sum(yr, count: v)
            for j in 0..<v { yr[j] *= inv }
            for j in v..<cols { yr[j] = 0 }
        }
    }

    /// Layer normalisation of each row: y = (x - mean) / sqrt(var + eps) * gamma + beta (biased variance).
    /// Writes each row's mean and 1/std into `mean` and `rstd` when given (the backward pass needs them).
    /// y may alias x.
    public static func layerNormRows(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                     gamma: UnsafePointer<Float>, beta: UnsafePointer<Float>,
                                     rows: Int, cols: Int, eps: Float = 1e-5,
                                     mean: UnsafeMutablePointer<Float>? = nil,
                                     rstd: UnsafeMutablePointer<Float>? = nil) {
        let n = Float(cols)
        for r in 0..<rows {
            let xr = x + r * cols, yr = y + r * cols
            let m = sum(xr, count: cols) / n
            // Two passes (mean, then squared deviations) rather than E[x^2] - m^2, which cancels badly.
            var acc = SIMD8<Float>()
            var j = 0
            while j + 8 <= cols {
                let d = UnsafeRawPointer(xr + j).loadUnaligned(as: SIMD8<Float>.self) - m
                acc += d * d
                j += 8
            }
            var v = acc.sum()
            while j < cols { let d = xr[j] - m; v += d * d; j += 1 }
            v /= n
            let s = 1 / (v + eps).squareRoot()
            for j in 0..<cols { yr[j] = (xr[j] - m) * s * gamma[j] + beta[j] }
            mean?[r] = m
            rstd?[r] = s
        }
    }

    /// y[i] += s * x[i] for `count` values, 8 lanes at a time (the row update of scatter and gather).
    @inline(__always)
    public static func addScaled(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ s: Float, count: Int) {
        var j = 0
        while j + 8 <= count {
            let v = UnsafeRawPointer(y + j).loadUnaligned(as: SIMD8<Float>.self)
                + s * UnsafeRawPointer(x + j).loadUnaligned(as: SIMD8<Float>.self)
            UnsafeMutableRawPointer(y + j).storeBytes(of: v, as: SIMD8<Float>.self)
            j += 8
        }
        while j < count { y[j] += s * x[j]; j += 1 }
    }

    /// y[i] += x[i] for `count` values (residual connections).
    public static func addInPlace(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, count: Int) {
        for i in 0..<count { y[i] += x[i] }
    }

    /// One decoding step of multi-head attention against a KV cache, without autodiff: for each head h,
    /// out_h = softmax(K_h q_h / sqrt(headDim)) V_h over the `positions` cached rows (the new token's key and
    /// value must already be in the cache, so this is causal by construction).
    /// - query: heads * headDim floats (the new token's projected query).
    /// - keys, values: cache rows; row j starts at `keys + j * rowStride`, head h at column h * headDim.
    ///   With the fused layout of `causalSelfAttention` (qkv rows of 3C) pass qkv + C, qkv + 2C, rowStride 3C.
    /// - out: heads * headDim floats. scratch: at least `positions` floats.
    /// Matches `Tensor.causalSelfAttention` on the last row (tested).
    public static func cachedAttention(query: UnsafePointer<Float>, keys: UnsafePointer<Float>,
                                       values: UnsafePointer<Float>, rowStride: Int, positions: Int,
                                       heads: Int, headDim: Int, out: UnsafeMutablePointer<Float>,
                                       scratch: UnsafeMutablePointer<Float>) {
        let scale = 1 / Float(headDim).squareRoot()
        for h in 0..<heads {
            let off = h * headDim
            // scores[j] = scale * K[j, head] . q
            BLAS.sgemv(m: positions, n: headDim, alpha: scale, a: keys + off, lda: rowStride, x: query + off, y: scratch)
            softmaxRows(scratch, scratch, rows: 1, cols: positions)
            // out_h = V[:, head]^T scores
            BLAS.sgemv(transA: true, m: positions, n: headDim, a: values + off, lda: rowStride, x: scratch, y: out + off)
        }
    }

    /// Index of the largest of `count` values (first one on ties); greedy decoding.
    public static func argmax(_ x: UnsafePointer<Float>, count: Int) -> Int {
        var best = 0
        for i in 1..<Swift.max(count, 1) where x[i] > x[best] { best = i }
        return best
    }
}
