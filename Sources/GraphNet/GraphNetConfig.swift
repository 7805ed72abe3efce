import Tensors

/// How a `GraphNetModel` pools each node type's states into one graph vector (two [H] vectors per type).
public enum GraphReadout: String, Codable, Sendable, CaseIterable {
    /// Mean and max over the nodes (the original readout). Max pooling is not differentiable where the
    /// maximising node changes, so integrated gradients' integrand has jumps along the path.
    case meanMax = "mean-max"
    /// Mean and log-mean-exp (`Tensor.segmentLogMeanExp`, sharpness `GraphNetConfig.readoutSharpness`): a
    /// smooth maximum, so with a smooth activation the whole network is smooth in its inputs.
    case meanLogMeanExp = "mean-logmeanexp"
}

/// Architecture of a `GraphNetModel` (stored in config.json). Everything that determines parameter names
/// and shapes is here, so a config plus a weights file rebuilds the exact model.
public struct GraphNetConfig: Codable, Sendable, Equatable {
    /// Width of every hidden node state.
    public var hidden: Int = 64
    /// Number of message-passing layers.
    public var layers: Int = 2
    /// Nonlinearity after the encoders, in every layer and in the head. Default SiLU (smooth: integrated
    /// gradients converge with 50 quadrature points); `.leakyRelu` was the default before.
    public var activation: Activation = .silu
    /// Graph readout (pooling). Default mean + log-mean-exp (smooth). Stored models from before this option
    /// have none in config.json and read as `.meanMax`.
    public var readout: GraphReadout = .meanLogMeanExp
    /// beta of the log-mean-exp readout (larger = closer to max, less smooth). Ignored by `.meanMax`.
    public var readoutSharpness: Float = 1
    /// Dropout probability on the pooled graph vector before the head (training only). Node states are
    /// not dropped: at 60k nodes x 64 features per batch, per-element masks cost more than the layer.
    public var dropout: Float = 0.2
    /// Whether the head also reads the z-scored global biomarkers (`GraphSchema.globalBiomarkers`) next to
    /// the pooled node states. Node counts are invisible to mean/max pooling, so this is how the model
    /// sees e.g. `ica_count`.
    public var useGlobalFeatures: Bool = true
    /// Class names, index = logit column (e.g. healthy, npdr, pdr).
    public var classNames: [String] = ["healthy", "npdr", "pdr"]
    /// Input feature widths per node type (`NodeType` order) and of the global biomarkers.
    public var nodeFeatureCounts: [Int] = GraphSchema.defaultFeatureNames.map(\.count)
    /// Number of global biomarkers.
    public var globalFeatureCount: Int = GraphSchema.globalBiomarkers.count

    /// The defaults (hidden 64, 2 layers, SiLU, mean + log-mean-exp readout (the smooth architecture),
    /// dropout 0.2, 3 classes, global biomarkers on).
    public init() {}

    /// The smooth architecture (the default): SiLU everywhere and the log-mean-exp readout, so the logits
    /// are infinitely differentiable in the inputs and integrated gradients converges with few quadrature
    /// points.
    public static var smooth: GraphNetConfig {
        var c = GraphNetConfig()
        c.activation = .silu
        c.readout = .meanLogMeanExp
        return c
    }

    /// The previous default: leaky ReLU and mean + max readout (piecewise linear in the inputs, so
    /// integrated gradients' quadrature error only falls like 1 / steps; docs/EXPLANATIONS.md).
    public static var piecewiseLinear: GraphNetConfig {
        var c = GraphNetConfig()
        c.activation = .leakyRelu
        c.readout = .meanMax
        return c
    }

    enum CodingKeys: String, CodingKey {
        case hidden, layers, activation, readout, readoutSharpness, dropout, useGlobalFeatures, classNames, nodeFeatureCounts, globalFeatureCount
    }

    /// Decodes config.json; `readout` and `readoutSharpness` may be missing (models stored before they
    /// existed: mean + max readout). Every other key is required.
    /// - Throws: `DecodingError` for a missing or mistyped key.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hidden = try c.decode(Int.self, forKey: .hidden)
        layers = try c.decode(Int.self, forKey: .layers)
        activation = try c.decode(Activation.self, forKey: .activation)
        readout = try c.decodeIfPresent(GraphReadout.self, forKey: .readout) ?? .meanMax
        readoutSharpness = try c.decodeIfPresent(Float.self, forKey: .readoutSharpness) ?? 1
        dropout = try c.decode(Float.self, forKey: .dropout)
        useGlobalFeatures = try c.decode(Bool.self, forKey: .useGlobalFeatures)
        classNames = try c.decode([String].self, forKey: .classNames)
        nodeFeatureCounts = try c.decode([Int].self, forKey: .nodeFeatureCounts)
        globalFeatureCount = try c.decode(Int.self, forKey: .globalFeatureCount)
    }

    /// Number of classes.
    public var classCount: Int { classNames.count }

    /// Checks the numbers a user may set.
    /// - Throws: `GraphNetError.invalidOption` naming the option.
    public func validate() throws {
        if hidden < 1 || hidden > 4096 { throw GraphNetError.invalidOption(name: "hidden", reason: "must be 1...4096, got \(hidden)") }
        if layers < 0 || layers > 16 { throw GraphNetError.invalidOption(name: "layers", reason: "must be 0...16, got \(layers)") }
        if !(readoutSharpness > 0 && readoutSharpness <= 100) {
            throw GraphNetError.invalidOption(name: "readout-sharpness", reason: "must be in (0, 100], got \(readoutSharpness)")
        }
        if !(dropout >= 0 && dropout < 1) { throw GraphNetError.invalidOption(name: "dropout", reason: "must be in [0, 1), got \(dropout)") }
        if classNames.count < 2 { throw GraphNetError.invalidOption(name: "classes", reason: "need at least 2 classes") }
        if nodeFeatureCounts.count != NodeType.allCases.count {
            throw GraphNetError.invalidOption(name: "features", reason: "need one feature count per node type")
        }
    }
}
