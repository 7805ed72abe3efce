/// Eight-lane versions of the transcendental kernels (exp, GELU, softmax) for the transformer's hot loops.
///
/// The scalar `Kernels.exp` is written to vectorise, but loops that call it through a function with
/// possibly aliasing pointers, a closure or a generic `pointwiseMax` stay scalar (the attention softmax and
/// the GELU of the VLM were 7% and 7% of their profiles). These spell the lanes out with `SIMD8<Float>`,
/// doing the same operations in the same order as the scalar functions, so each lane's result is
/// bit-identical to the scalar one (Swift contracts no multiply-add on its own).
extension Kernels {
    typealias V8 = SIMD8<Float>

    @inline(__always) static func load8(_ p: UnsafePointer<Float>) -> V8 { UnsafeRawPointer(p).loadUnaligned(as: V8.self) }
    @inline(__always) static func store8(_ v: V8, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self)
    }

    /// `exp` of eight values (same polynomial and range handling as the scalar `Kernels.exp`).
    @inline(__always)
    public static func exp(_ x: SIMD8<Float>) -> SIMD8<Float> {
        let lo = V8(repeating: -87.3), hi = V8(repeating: 88.72)
        var xc = x.replacing(with: lo, where: x .< lo)
        xc = xc.replacing(with: hi, where: xc .> hi)
        let t = xc * 1.442695040888963 + 12_582_912
        let n = t - 12_582_912
        let ni = unsafeBitCast(t, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let r = (xc - n * 0.693145751953125) - n * 1.428606765330187e-06
        var p = V8(repeating: (1 as Float) / 5040)
        p = p * r + (1 as Float) / 720
        p = p * r + (1 as Float) / 120
        p = p * r + (1 as Float) / 24
        p = p * r + (1 as Float) / 6
        p = p * r + 0.5
        p = p * r + 1
        p = p * r + 1
        let h = ni &>> 1
        let s1 = unsafeBitCast((h &+ 127) &<< 23, to: V8.self)
        let s2 = unsafeBitCast((ni &- h &+ 127) &<< 23, to: V8.self)
        var y = p * s1 * s2
        y = y.replacing(with: 0, where: x .< lo)
        y = y.replacing(with: .infinity, where: x .> hi)
        return y
    }

    /// tanh(geluScale * (z + 0.044715 z^3)) of eight values: the tanh GELU's inner term (`fastTanh`).
    @inline(__always)
    public static func geluTanh(_ z: SIMD8<Float>) -> SIMD8<Float> {
        let u = geluScale * (z + 0.044715 * z * z * z)
        return 1 - 2 / (exp(2 * u) + 1)
    }

    /// y[i] = GELU(x[i]) (tanh approximation) for `count` values, eight at a time; x and y may be the same
    /// buffer. Equal to `gelu(_:_:count:)` value for value.
    public static func geluVector(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let z = load8(x + i)
            store8(0.5 * z * (1 + geluTanh(z)), y + i)
            i += 8
        }
        while i < count { y[i] = gelu(x[i]); i += 1 }
    }

    /// Largest of `count` floats (-inf for none), eight lanes at a time.
    @inline(__always)
    public static func maxVector(_ x: UnsafePointer<Float>, count: Int) -> Float {
        var acc = V8(repeating: -.infinity)
        var j = 0
        while j + 8 <= count {
            let v = load8(x + j)
            acc = acc.replacing(with: v, where: v .> acc)
            j += 8
        }
        var m = acc.max()
        while j < count { m = Swift.max(m, x[j]); j += 1 }
        return m
    }

    /// In place over `count` values: y[j] = exp(y[j] - m); returns their sum (eight partial sums, then the tail).
    @inline(__always)
    static func expShiftedSum(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, minus m: Float, count: Int) -> Float {
        var acc = V8()
        var j = 0
        while j + 8 <= count {
            let e = exp(load8(x + j) - m)
            store8(e, y + j)
            acc += e
            j += 8
        }
        var s = acc.sum()
        while j < count { let e = exp(x[j] - m); y[j] = e; s += e; j += 1 }
        return s
    }

    /// y[j] *= s for `count` values.
    @inline(__always)
    static func scale(_ y: UnsafeMutablePointer<Float>, by s: Float, count: Int) {
        var j = 0
        while j + 8 <= count { store8(load8(y + j) * s, y + j); j += 8 }
        while j < count { y[j] *= s; j += 1 }
    }

    /// Softmax of each row of x [rows, cols] into y (may alias x), eight lanes at a time. With `causalOffset`
    /// o, row r keeps only its first o + r + 1 entries (the rest are set to 0): the causal mask of a block of
    /// query rows starting at position o. Same result as `softmaxRows` up to the order of the sum.
    public static func softmaxRowsVector(_ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                                         rows: Int, cols: Int, causalOffset: Int? = nil) {
        for r in 0..<rows {
            let xr = x + r * cols, yr = y + r * cols
            let v = causalOffset.map { Swift.min(cols, $0 + r + 1) } ?? cols
            let m = maxVector(xr, count: v)
            let s = expShiftedSum(yr, xr, minus: m, count: v)
            scale(yr, by: 1 / s, count: v)
            if v < cols { (yr + v).update(repeating: 0, count: cols - v) }
        }
    }
}
