#if arch(x86_64) && canImport(_Builtin_intrinsics.intel)
import _Builtin_intrinsics.intel
#endif

/// Explicitly vectorised sigmoid and SiLU (8 lanes) for the smooth GNN's activations and its log-mean-exp
/// readout, on the eight-lane `Kernels.exp(SIMD8)` of VectorKernels.swift (V8, load8 and store8 live there too).
///
/// The scalar `Kernels.exp` is written to vectorise, but loops that call it through a generic
/// `UnaryKernel` often stay scalar (in-place buffers the compiler cannot prove disjoint, accumulating
/// closures); a profile of `capillary bench-gnn --smooth` found SiLU's scalar `divss` loops among the
/// hottest code. These functions use `SIMD8<Float>` directly, so every call is vector code.
extension Kernels {
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

    /// 1 / (1 + e^-x) lane-wise (0 and 1 in the saturated tails, never NaN).
    @inline(__always)
    static func sigmoid8(_ x: V8) -> V8 { 1 / (1 + exp(-x)) }

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

extension Kernels {
    /// First half of the backward pass of y = SiLU(LayerNorm(x)) for one row of `cols`: with n = (x - mean) rstd
    /// and z = n gamma + beta, writes norm = n and dnorm = gamma dz, where dz = g silu'(z) (`sigmoid` holds
    /// sigmoid(z) from the forward pass), adds n dz and dz into `dGamma` / `dBeta` when given, and returns the
    /// row sums (sum dnorm, sum dnorm n) that the LayerNorm input gradient needs. Shared by the SiLU residual
    /// LayerNorm and the fused message-passing layer, so both differentiate the same arithmetic.
    @inline(__always)
    static func siluLayerNormRowBackward(x: UnsafePointer<Float>, g: UnsafePointer<Float>, sigmoid sgr: UnsafePointer<Float>,
                                         mean m: Float, rstd s: Float, gamma Gm: UnsafePointer<Float>, beta Bt: UnsafePointer<Float>,
                                         cols: Int, norm: UnsafeMutablePointer<Float>, dnorm: UnsafeMutablePointer<Float>,
                                         dGamma dW: UnsafeMutablePointer<Float>?, dBeta dB: UnsafeMutablePointer<Float>?) -> (sumD: Float, sumDN: Float) {
        var sumD = V8(), sumDN = V8()
        var j = 0
        while j + 8 <= cols {
            let n = (load8(x + j) - m) * s, gm = load8(Gm + j)
            let z = n * gm + load8(Bt + j), sg = load8(sgr + j)
            let dz = load8(g + j) * sg * (1 + z * (1 - sg))
            let dn = gm * dz
            store8(n, norm + j); store8(dn, dnorm + j)
            sumD += dn; sumDN += dn * n
            if let dW, let dB {
                store8(load8(dW + j) + n * dz, dW + j)
                store8(load8(dB + j) + dz, dB + j)
            }
            j += 8
        }
        var sd = sumD.sum(), sdn = sumDN.sum()
        while j < cols {
            let n = (x[j] - m) * s, z = n * Gm[j] + Bt[j], sg = sgr[j]
            let dz = g[j] * sg * (1 + z * (1 - sg)), dn = Gm[j] * dz
            norm[j] = n; dnorm[j] = dn
            sd += dn; sdn += dn * n
            if let dW, let dB { dW[j] += n * dz; dB[j] += dz }
            j += 1
        }
        return (sd, sdn)
    }
}

extension Kernels {
    /// y = residual + y sigmoid(y) over `count` values in place (SiLU of a LayerNorm output plus the residual),
    /// writing sigmoid(y) to `sigmoid` when given (the backward pass then needs no exp).
    @inline(__always)
    static func residualSiLUInPlace(_ y: UnsafeMutablePointer<Float>, residual res: UnsafePointer<Float>, count: Int,
                                    sigmoid sg: UnsafeMutablePointer<Float>?) {
        var i = 0
        while i + 8 <= count {
            let z = load8(y + i), s = sigmoid8(z)
            store8(load8(res + i) + z * s, y + i)
            if let sg { store8(s, sg + i) }
            i += 8
        }
        while i < count { let z = y[i], s = 1 / (1 + exp(-z)); y[i] = res[i] + z * s; sg?[i] = s; i += 1 }
    }
}
