import Common

extension Tensor {
    /// act(x W^T + b) in one op for `.relu` and `.leakyRelu` (slope 0.01), whose derivative can be read off
    /// the output's sign: the bias, the product and the activation write one [..., out] tensor, and the
    /// backward pass needs no stored pre-activation. `.gelu` is `linearGELU` (which keeps the pre-activation
    /// and its tanh for the backward pass) and `.silu` is `linearSiLU` (which keeps sigmoid(z)): no separate
    /// activation op, output tensor or gradient buffer.
    /// Other activations run as `linear` then `apply`.
    /// Shapes as `linear`; traps, naming both shapes, on mismatch.
    public static func linear(_ x: Tensor, weight: Tensor, bias: Tensor?, activation: Activation) -> Tensor {
        switch activation {
        case .relu: return linear(x, weight: weight, bias: bias, kernel: ReLUKernel())
        case .leakyRelu: return linear(x, weight: weight, bias: bias, kernel: LeakyReLUKernel(slope: 0.01))
        // One GELU path for the whole code base: `linearGELU` keeps tanh for the backward pass.
        case .gelu: return linearGELU(x, weight: weight, bias: bias)
        // and one SiLU path: `linearSiLU` keeps sigmoid(z), vector code (SmoothLayers).
        case .silu: return linearSiLU(x, weight: weight, bias: bias)
        default: return activation.apply(linear(x, weight: weight, bias: bias))
        }
    }

    /// The fused product + sign-preserving activation (f(z) > 0 exactly when z > 0, so f'(z) = df(y, y)).
    static func linear<K: UnaryKernel>(_ x: Tensor, weight: Tensor, bias: Tensor?, kernel k: K) -> Tensor {
        let p = LinearOperands("linear", x: x, weight: weight, bias: bias)
        let m = p.rows, n = p.outputs
        let out = p.makeOutput()
        let Y = out.data.baseAddress!
        p.product(into: Y)
        Parallel.forEach(m * n, minChunk: elementwiseMinChunk) { r in for i in r { Y[i] = k.f(Y[i]) } }
        record(out, p.recordedInputs) { flags in
            { out in
                let G = out.grad!.baseAddress!
                let dz = BufferOwner(count: m * n)  // dL/d(pre-activation)
                let DZ = dz.buffer.baseAddress!
                Parallel.forEach(m * n, minChunk: elementwiseMinChunk) { r in
                    for i in r { DZ[i] = G[i] * k.df(x: Y[i], y: Y[i]) }
                }
                p.accumulateGradients(DZ, flags: flags)
            }
        }
        return out
    }

    /// The backward pass shared by the fused linear ops: given dL/dz [rows, out] for z = x W^T + b, adds
    /// dX += dZ W, dW += dZ^T X and db += column sums of dZ to the inputs that need them (`flags`: x, weight,
    /// bias, as recorded).
    static func accumulateLinearGradients(_ DZ: UnsafeMutablePointer<Float>, x: Tensor, weight: Tensor, bias: Tensor?,
                                          flags: [Bool], rows m: Int) {
        let n = weight.shape[0], kIn = weight.shape[1]
        if flags[0] {  // dX [M,K] += dZ [M,N] * W [N,K]
            let (gx, acc) = x.gradDestination()
            BLAS.sgemm(m: m, n: kIn, k: n, a: DZ, b: weight.data.baseAddress!, beta: acc ? 1 : 0, c: gx)
        }
        if flags[1] {  // dW [N,K] += dZ^T [N,M] * X [M,K]
            let (gw, acc) = weight.gradDestination()
            BLAS.sgemm(transA: true, m: n, n: kIn, k: m, a: DZ, b: x.data.baseAddress!, beta: acc ? 1 : 0, c: gw)
        }
        if flags.count > 2 && flags[2] { columnSums(DZ, rows: m, cols: n, into: bias!.gradDestination()) }
    }
}
