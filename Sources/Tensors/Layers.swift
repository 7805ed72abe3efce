import Common
import Foundation

/// y = x W^T + b with W [out, in] (PyTorch layout, so weights load from PyTorch checkpoints unchanged).
public final class Linear: Module {
    /// [outFeatures, inFeatures].
    public let weight: Tensor
    /// [outFeatures], or nil.
    public let bias: Tensor?

    /// Kaiming-uniform-like init as PyTorch: U(-1/sqrt(in), 1/sqrt(in)) for weight and bias, seeded.
    public init(_ inFeatures: Int, _ outFeatures: Int, bias: Bool = true, generator: inout SeededGenerator) {
        let bound = 1 / Float(inFeatures).squareRoot()
        weight = .parameter(.uniform([outFeatures, inFeatures], lo: -bound, hi: bound, generator: &generator))
        self.bias = bias ? .parameter(.uniform([outFeatures], lo: -bound, hi: bound, generator: &generator)) : nil
    }

    /// "weight", then "bias" if present.
    public var localParameters: [(String, Tensor)] {
        bias.map { [("weight", weight), ("bias", $0)] } ?? [("weight", weight)]
    }

    /// x [..., in] -> [..., out].
    public func callAsFunction(_ x: Tensor) -> Tensor { Tensor.linear(x, weight: weight, bias: bias) }
}

/// Token embedding table [vocab, dim], initialised N(0, 0.02) as GPT-2. Its `weight` can be reused as the
/// output projection (tied embeddings): gradients from both uses accumulate into the same tensor.
public final class Embedding: Module {
    /// [vocab, dim].
    public let weight: Tensor
    /// A seeded table.
    public init(vocab: Int, dim: Int, std: Float = 0.02, generator: inout SeededGenerator) {
        weight = .parameter(.randn([vocab, dim], std: std, generator: &generator))
    }
    /// "weight".
    public var localParameters: [(String, Tensor)] { [("weight", weight)] }
    /// ids -> [ids.count, dim] or shape + [dim].
    public func callAsFunction(_ ids: [Int], shape: [Int]? = nil) -> Tensor {
        Tensor.embedding(weight, ids: ids, shape: shape)
    }
}

/// Layer normalisation over the last axis with learnable gain (init 1) and bias (init 0).
public final class LayerNorm: Module {
    /// Gain [dim] (init 1) and bias [dim] (init 0).
    public let weight: Tensor, bias: Tensor
    /// Added to the variance before the square root.
    public let eps: Float
    /// Normalises vectors of `dim` entries.
    public init(_ dim: Int, eps: Float = 1e-5) {
        weight = .parameter(.ones([dim])); bias = .parameter(.zeros([dim])); self.eps = eps
    }
    /// "weight", "bias".
    public var localParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
    /// x [..., dim] -> same shape.
    public func callAsFunction(_ x: Tensor) -> Tensor { Tensor.layerNorm(x, gamma: weight, beta: bias, eps: eps) }
}

/// Batch normalisation over channel axis 1 ([N, C] node features or [N, C, H, W]), with running statistics
/// saved as buffers `running_mean` / `running_var` (PyTorch names).
///
/// Training mode uses batch statistics and updates the running ones, but only while gradients are enabled on
/// the calling thread: under `Tensor.withoutGrad` it uses (and never writes) the running statistics, so
/// concurrent inference threads may share one module.
public final class BatchNorm: Module {
    /// Per-channel gain (init 1) and bias (init 0).
    public let weight: Tensor, bias: Tensor
    /// Running statistics (buffers, saved with the weights; unbiased variance).
    public let runningMean: Tensor, runningVar: Tensor
    /// Blend factor of the running statistics, and the variance epsilon.
    public let momentum: Float, eps: Float
    /// True (default) for training behaviour.
    public private(set) var training = true

    /// `channels` features; running mean 0 and variance 1 to start.
    public init(_ channels: Int, momentum: Float = 0.1, eps: Float = 1e-5) {
        weight = .parameter(.ones([channels])); bias = .parameter(.zeros([channels]))
        runningMean = .zeros([channels]); runningVar = .ones([channels])
        self.momentum = momentum; self.eps = eps
    }
    /// "weight", "bias".
    public var localParameters: [(String, Tensor)] { [("weight", weight), ("bias", bias)] }
    /// "running_mean", "running_var" (PyTorch names).
    public var localBuffers: [(String, Tensor)] { [("running_mean", runningMean), ("running_var", runningVar)] }
    /// Train (batch statistics) or eval (running statistics).
    public func setLocalTraining(_ training: Bool) { self.training = training }

    /// x [N, C, ...] -> same shape.
    public func callAsFunction(_ x: Tensor) -> Tensor {
        let batchStats = training && Tensor.isGradEnabled
        return Tensor.batchNorm(x, gamma: weight, beta: bias, runningMean: runningMean, runningVar: runningVar,
                                training: batchStats, updateRunning: true, momentum: momentum, eps: eps)
    }
}

/// 2-D convolution layer: weight [out, in, k, k], bias [out]; PyTorch's default uniform init, seeded.
public final class Conv2d: Module {
    /// [out, in, k, k] and [out] (or nil).
    public let weight: Tensor, bias: Tensor?
    /// Step and zero padding, in pixels.
    public let stride: Int, padding: Int
    /// A seeded layer with a square `kernel`.
    public init(_ inChannels: Int, _ outChannels: Int, kernel: Int, stride: Int = 1, padding: Int = 0,
                bias: Bool = true, generator: inout SeededGenerator) {
        let bound = 1 / Float(inChannels * kernel * kernel).squareRoot()
        weight = .parameter(.uniform([outChannels, inChannels, kernel, kernel], lo: -bound, hi: bound, generator: &generator))
        self.bias = bias ? .parameter(.uniform([outChannels], lo: -bound, hi: bound, generator: &generator)) : nil
        self.stride = stride; self.padding = padding
    }
    /// "weight", then "bias" if present.
    public var localParameters: [(String, Tensor)] {
        bias.map { [("weight", weight), ("bias", $0)] } ?? [("weight", weight)]
    }
    /// x [N, in, H, W] -> [N, out, HO, WO].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        Tensor.conv2d(x, weight: weight, bias: bias, stride: stride, padding: padding)
    }
}

/// Activation functions selectable by configuration.
public enum Activation: String, Codable, Sendable {
    case relu, leakyRelu, elu, gelu, tanh
    /// x * sigmoid(x): smooth, so a model built from it (and other smooth ops) has a smooth input gradient,
    /// which integrated gradients' quadrature needs to converge fast.
    case silu
    /// Applies the activation (leaky ReLU slope 0.01, ELU alpha 1).
    public func apply(_ x: Tensor) -> Tensor {
        switch self {
        case .relu: return x.relu()
        case .leakyRelu: return x.leakyRelu()
        case .elu: return x.elu()
        case .gelu: return x.gelu()
        case .tanh: return x.tanh()
        case .silu: return x.silu()
        }
    }
}

/// Multi-layer perceptron: Linear -> activation -> ... -> Linear (no activation after the last layer).
/// Parameters are named `layers.0.weight`, `layers.0.bias`, ...
public final class MLP: Module {
    /// The linear layers, in order.
    public let layers: ModuleList<Linear>
    /// Applied between layers.
    public let activation: Activation
    /// Layer widths `sizes` (input first, output last; at least two entries).
    public init(_ sizes: [Int], activation: Activation = .relu, generator: inout SeededGenerator) {
        precondition(sizes.count >= 2, "MLP: need input and output sizes, got \(sizes)")
        var ls: [Linear] = []
        for i in 0..<(sizes.count - 1) { ls.append(Linear(sizes[i], sizes[i + 1], generator: &generator)) }
        layers = ModuleList(ls); self.activation = activation
    }
    /// None of its own.
    public var localParameters: [(String, Tensor)] { [] }
    /// "layers".
    public var children: [(String, Module)] { [("layers", layers)] }
    /// x [..., sizes.first] -> [..., sizes.last].
    public func callAsFunction(_ x: Tensor) -> Tensor {
        var h = x
        for (i, l) in layers.items.enumerated() {
            // Hidden layers: product, bias and activation fused (Tensor.linear(_:weight:bias:activation:)).
            h = i < layers.count - 1 ? Tensor.linear(h, weight: l.weight, bias: l.bias, activation: activation) : l(h)
        }
        return h
    }
}
