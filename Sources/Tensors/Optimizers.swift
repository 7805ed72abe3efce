import Common
import Foundation

/// AdamW (Loshchilov & Hutter): Adam with bias correction and weight decay decoupled from the gradient:
///   m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  mhat = m / (1-b1^t);  vhat = v / (1-b2^t)
///   p -= lr * (mhat / (sqrt(vhat) + eps) + weightDecay * p)
/// Parameters without a gradient this step are skipped (their moments are left untouched).
public final class AdamW {
    /// The tensors updated by `step()`.
    public let parameters: [Tensor]
    /// Step size; set it every step from a schedule.
    public var learningRate: Float
    /// Moment decay rates, denominator epsilon and decoupled weight decay.
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    /// Number of steps taken (t in the bias correction).
    public private(set) var stepCount = 0
    private let moments: [BufferOwner]  // per parameter: m then v (2 * count floats)

    /// An optimizer over `parameters` (defaults as PyTorch's AdamW, weight decay 0.01).
    public init(parameters: [Tensor], learningRate: Float = 1e-3, beta1: Float = 0.9, beta2: Float = 0.999,
                eps: Float = 1e-8, weightDecay: Float = 0.01) {
        self.parameters = parameters
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2
        self.eps = eps; self.weightDecay = weightDecay
        moments = parameters.map {
            let b = BufferOwner(count: 2 * $0.count)
            b.buffer.initialize(repeating: 0)
            return b
        }
    }

    /// One update from the parameters' current gradients. With `zeroingGradients`, each gradient is set
    /// to zero in the same pass that reads it (equal to `step()` then `zeroGrad()`, one pass over the
    /// gradients fewer: the training loop's separate zero fill).
    public func step(zeroingGradients: Bool = false) {
        stepCount += 1
        let t = Float(stepCount)
        // Multiply by reciprocals of the bias corrections (no divisions besides the one per element).
        let r1 = 1 / (1 - powf(beta1, t)), r2 = 1 / (1 - powf(beta2, t))
        let (lr, b1, b2, eps, wd) = (learningRate, beta1, beta2, self.eps, weightDecay)
        for (k, p) in parameters.enumerated() {
            guard let G = p.grad?.baseAddress else { continue }
            let P = p.data.baseAddress!, M = moments[k].buffer.baseAddress!, V = M + p.count
            Parallel.forEach(p.count, minChunk: 1 << 16) { r in
                // Explicit 8-wide SIMD: with four buffers the compiler does not vectorise the plain loop.
                typealias V8 = SIMD8<Float>
                var i = r.lowerBound
                while i + 8 <= r.upperBound {
                    let g = UnsafeRawPointer(G + i).loadUnaligned(as: V8.self)
                    let m = b1 * UnsafeRawPointer(M + i).loadUnaligned(as: V8.self) + (1 - b1) * g
                    let v = b2 * UnsafeRawPointer(V + i).loadUnaligned(as: V8.self) + (1 - b2) * g * g
                    let p = UnsafeRawPointer(P + i).loadUnaligned(as: V8.self)
                    let step = lr * ((m * r1) / (Kernels.squareRoot(v * r2) + eps) + wd * p)
                    UnsafeMutableRawPointer(M + i).storeBytes(of: m, as: V8.self)
                    UnsafeMutableRawPointer(V + i).storeBytes(of: v, as: V8.self)
                    UnsafeMutableRawPointer(P + i).storeBytes(of: p - step, as: V8.self)
                    if zeroingGradients { UnsafeMutableRawPointer(G + i).storeBytes(of: V8(), as: V8.self) }
                    i += 8
                }
                while i < r.upperBound {
                    let g = G[i]
                    let m = b1 * M[i] + (1 - b1) * g
                    let v = b2 * V[i] + (1 - b2) * g * g
                    M[i] = m
                    V[i] = v
                    P[i] -= lr * ((m * r1) / ((v * r2).squareRoot() + eps) + wd * P[i])
                    if zeroingGradients { G[i] = 0 }
                    i += 1
                }
            }
        }
    }

    /// Zeroes the gradients of all parameters.
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }
}

/// Stochastic gradient descent with (heavy-ball) momentum and optional L2 weight decay, as PyTorch's SGD:
///   g' = g + weightDecay p;  buf = momentum buf + g';  p -= lr * buf
public final class SGD {
    /// The tensors updated by `step()`.
    public let parameters: [Tensor]
    /// Step size.
    public var learningRate: Float
    /// Momentum factor and L2 weight decay.
    public let momentum: Float, weightDecay: Float
    private let velocity: [BufferOwner]

    /// An optimizer over `parameters`.
    public init(parameters: [Tensor], learningRate: Float, momentum: Float = 0, weightDecay: Float = 0) {
        self.parameters = parameters; self.learningRate = learningRate
        self.momentum = momentum; self.weightDecay = weightDecay
        velocity = parameters.map {
            let b = BufferOwner(count: $0.count)
            b.buffer.initialize(repeating: 0)
            return b
        }
    }

    /// One update from the parameters' current gradients. With `zeroingGradients`, each gradient is set
    /// to zero in the same pass that reads it (equal to `step()` then `zeroGrad()`, one pass over the
    /// gradients fewer: the training loop's separate zero fill).
    public func step(zeroingGradients: Bool = false) {
        for (k, p) in parameters.enumerated() {
            guard let G = p.grad else { continue }
            let P = p.data, B = velocity[k].buffer
            for i in 0..<p.count {
                let g = G[i] + weightDecay * P[i]
                B[i] = momentum * B[i] + g
                P[i] -= learningRate * B[i]
                if zeroingGradients { G[i] = 0 }
            }
        }
    }

    /// Zeroes the gradients of all parameters.
    public func zeroGrad() { for p in parameters { p.zeroGrad() } }
}

/// Scales all gradients so their global L2 norm is at most `maxNorm`; returns the norm before clipping.
@discardableResult
public func clipGradNorm(_ parameters: [Tensor], maxNorm: Float) -> Float {
    var sq: Double = 0
    for p in parameters { if let g = p.grad { for i in 0..<p.count { sq += Double(g[i]) * Double(g[i]) } } }
    let norm = Float(sq.squareRoot())
    if norm > maxNorm && norm > 0 {
        let s = maxNorm / (norm + 1e-6)
        for p in parameters { if let g = p.grad { for i in 0..<p.count { g[i] *= s } } }
    }
    return norm
}

/// Cosine learning-rate schedule with linear warm-up:
/// step < warmup: base * (step + 1) / warmup; then min + (base - min) * 0.5 (1 + cos(pi * progress)).
public struct CosineSchedule: Sendable {
    /// Peak and final rate, warm-up length and total length in steps.
    public let base: Float, minimum: Float, warmupSteps: Int, totalSteps: Int
    /// A schedule from `base` (after warm-up) down to `minimum` at `totalSteps`.
    public init(base: Float, minimum: Float = 0, warmupSteps: Int = 0, totalSteps: Int) {
        self.base = base; self.minimum = minimum; self.warmupSteps = warmupSteps; self.totalSteps = totalSteps
    }
    /// Learning rate for 0-based `step` (held at `minimum` after `totalSteps`).
    public func learningRate(step: Int) -> Float {
        if step < warmupSteps { return base * Float(step + 1) / Float(warmupSteps) }
        let span = max(1, totalSteps - warmupSteps)
        let progress = min(1, Float(step - warmupSteps) / Float(span))
        return minimum + (base - minimum) * 0.5 * (1 + cosf(Float.pi * progress))
    }
}

/// Exponential decay: base * gamma^epoch (the GNN's per-epoch decay, e.g. gamma 0.95).
public struct ExponentialSchedule: Sendable {
    /// Initial rate and per-epoch factor.
    public let base: Float, gamma: Float
    /// A schedule base * gamma^epoch.
    public init(base: Float, gamma: Float) { self.base = base; self.gamma = gamma }
    /// Learning rate for 0-based `epoch`.
    public func learningRate(epoch: Int) -> Float { base * powf(gamma, Float(epoch)) }
}
