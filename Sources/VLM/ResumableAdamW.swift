import Common
import Foundation
import Tensors

/// AdamW with its moment estimates exposed as tensors, so a checkpoint can store and restore them.
///
/// Same update as Tensors' `AdamW` (decoupled weight decay, bias correction); it lives here because that
/// class keeps its moments private and a training run must resume after a kill exactly where it stopped.
/// Weight decay applies only to matrices (rank >= 2), not to biases, LayerNorm gains or position vectors.
public final class ResumableAdamW {
    /// Parameters with their checkpoint names.
    public let parameters: [(name: String, tensor: Tensor)]
    /// First and second moments, one pair per parameter.
    public let m: [Tensor], v: [Tensor]
    /// Learning rate of the next step.
    public var learningRate: Float
    public let beta1: Float, beta2: Float, eps: Float, weightDecay: Float
    /// Steps taken.
    public var stepCount = 0

    /// An optimizer over named parameters.
    public init(parameters: [(name: String, tensor: Tensor)], learningRate: Float, beta1: Float = 0.9,
                beta2: Float = 0.95, eps: Float = 1e-8, weightDecay: Float = 0.01) {
        self.parameters = parameters
        m = parameters.map { Tensor.zeros($0.tensor.shape) }
        v = parameters.map { Tensor.zeros($0.tensor.shape) }
        self.learningRate = learningRate; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.weightDecay = weightDecay
    }

    /// One update from the current gradients (parameters without a gradient are skipped).
    public func step() {
        stepCount += 1
        let t = Float(stepCount)
        let r1 = 1 / (1 - powf(beta1, t)), r2 = 1 / (1 - powf(beta2, t))
        let (lr, b1, b2, eps) = (learningRate, beta1, beta2, self.eps)
        for (k, (_, p)) in parameters.enumerated() {
            guard let G = p.grad?.baseAddress else { continue }
            let wd = p.rank >= 2 ? weightDecay : 0
            let P = p.data.baseAddress!, M = m[k].data.baseAddress!, V = v[k].data.baseAddress!
            Parallel.forEach(p.count, minChunk: 1 << 16) { r in
                for i in r {
                    let g = G[i]
                    let mi = b1 * M[i] + (1 - b1) * g
                    let vi = b2 * V[i] + (1 - b2) * g * g
                    M[i] = mi; V[i] = vi
                    P[i] -= lr * ((mi * r1) / ((vi * r2).squareRoot() + eps) + wd * P[i])
                }
            }
        }
    }

    /// Moments as named tensors (`adam_m.<name>`, `adam_v.<name>`) for a checkpoint.
    public func stateTensors() -> [(name: String, tensor: Tensor)] {
        parameters.enumerated().flatMap { k, p in [("adam_m." + p.name, m[k]), ("adam_v." + p.name, v[k])] }
    }
}
