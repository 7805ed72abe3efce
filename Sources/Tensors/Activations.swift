import Common
import Foundation

/// An elementwise function y = f(x) with its derivative written in terms of x and y (whichever is cheaper).
protocol UnaryKernel {
    func f(_ x: Float) -> Float
    func df(x: Float, y: Float) -> Float
}

struct ReLUKernel: UnaryKernel {
    @inline(__always) func f(_ x: Float) -> Float { x > 0 ? x : 0 }
    @inline(__always) func df(x: Float, y: Float) -> Float { x > 0 ? 1 : 0 }
}
struct LeakyReLUKernel: UnaryKernel {
    let slope: Float
    @inline(__always) func f(_ x: Float) -> Float { x > 0 ? x : slope * x }
    @inline(__always) func df(x: Float, y: Float) -> Float { x > 0 ? 1 : slope }
}
struct ELUKernel: UnaryKernel {
    let alpha: Float
    @inline(__always) func f(_ x: Float) -> Float { x > 0 ? x : alpha * (Kernels.exp(x) - 1) }
    @inline(__always) func df(x: Float, y: Float) -> Float { x > 0 ? 1 : y + alpha }
}
struct TanhKernel: UnaryKernel {
    @inline(__always) func f(_ x: Float) -> Float { tanhf(x) }
    @inline(__always) func df(x: Float, y: Float) -> Float { 1 - y * y }
}
struct SigmoidKernel: UnaryKernel {
    @inline(__always) func f(_ x: Float) -> Float { 1 / (1 + Kernels.exp(-x)) }
    @inline(__always) func df(x: Float, y: Float) -> Float { y * (1 - y) }
}
struct ExpKernel: UnaryKernel {
    @inline(__always) func f(_ x: Float) -> Float { Kernels.exp(x) }
    @inline(__always) func df(x: Float, y: Float) -> Float { y }
}
struct LogKernel: UnaryKernel {
    @inline(__always) func f(_ x: Float) -> Float { logf(x) }
    @inline(__always) func df(x: Float, y: Float) -> Float { 1 / x }
}
struct SquareKernel: UnaryKernel {
    @inline(__always) func f(_ x: Float) -> Float { x * x }
    @inline(__always) func df(x: Float, y: Float) -> Float { 2 * x }
}
struct SqrtKernel: UnaryKernel {
    @inline(__always) func f(_ x: Float) -> Float { x.squareRoot() }
    @inline(__always) func df(x: Float, y: Float) -> Float { 0.5 / y }
}
/// GELU, tanh approximation (as GPT-2 and llm.c use).
struct GELUKernel: UnaryKernel {
    @inline(__always) func f(_ x: Float) -> Float { Kernels.gelu(x) }
    @inline(__always) func df(x: Float, y: Float) -> Float { Kernels.geluDerivative(x) }
}

/// SiLU (swish) x * sigmoid(x): smooth (infinitely differentiable) everywhere, unlike ReLU's kink at 0.
struct SiLUKernel: UnaryKernel {
    @inline(__always) func f(_ x: Float) -> Float { x / (1 + Kernels.exp(-x)) }
    /// sigmoid(x) (1 + x (1 - sigmoid(x))), from x alone (y is not needed).
    @inline(__always) func df(x: Float, y: Float) -> Float {
        let s = 1 / (1 + Kernels.exp(-x))
        return s * (1 + x * (1 - s))
    }
}

extension Tensor {
    func unary<K: UnaryKernel>(_ k: K) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        let X = data, Y = out.data
        Parallel.forEach(count, minChunk: elementwiseMinChunk) { r in for i in r { Y[i] = k.f(X[i]) } }
        Tensor.record(out, [self]) { _ in
            { out in
                let G = out.grad!, (GX, acc) = self.gradDestination()
                Parallel.forEach(out.count, minChunk: elementwiseMinChunk) { r in
                    if acc { for i in r { GX[i] += G[i] * k.df(x: X[i], y: Y[i]) } }
                    else { for i in r { GX[i] = G[i] * k.df(x: X[i], y: Y[i]) } }
                }
            }
        }
        return out
    }

    /// max(x, 0).
    public func relu() -> Tensor { unary(ReLUKernel()) }
    /// x for x > 0, slope * x otherwise.
    public func leakyRelu(slope: Float = 0.01) -> Tensor { unary(LeakyReLUKernel(slope: slope)) }
    /// x for x > 0, alpha * (e^x - 1) otherwise.
    public func elu(alpha: Float = 1) -> Tensor { unary(ELUKernel(alpha: alpha)) }
    /// GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).
    public func gelu() -> Tensor { unary(GELUKernel()) }
    /// SiLU (swish): x * sigmoid(x) = x / (1 + e^-x).
    public func silu() -> Tensor { unary(SiLUKernel()) }
    /// Hyperbolic tangent.
    public func tanh() -> Tensor { unary(TanhKernel()) }
    /// Logistic sigmoid 1 / (1 + e^-x).
    public func sigmoid() -> Tensor { unary(SigmoidKernel()) }
    /// e^x.
    public func exp() -> Tensor { unary(ExpKernel()) }
    /// Natural log (x > 0; no clamping, so log(0) = -inf as in IEEE arithmetic).
    public func log() -> Tensor { unary(LogKernel()) }
    /// x^2.
    public func square() -> Tensor { unary(SquareKernel()) }
    /// sqrt(x) (x >= 0).
    public func sqrt() -> Tensor { unary(SqrtKernel()) }
}
