import Tensors

/// Architecture of a `GraphNetModel` (stored in config.json). Everything that determines parameter names
/// and shapes is here, so a config plus a weights file rebuilds the exact model.
public struct GraphNetConfig: Codable, Sendable, Equatable {
    /// Width of every hidden node state.
    public var hidden: Int = 64
    /// Number of message-passing layers.
    public var layers: Int = 2
    /// Nonlinearity after the encoders, in every layer and in the head.
    public var activation: Activation = .leakyRelu
    /// Dropout probability on node states and on the pooled vector (training only).
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

    /// The defaults (hidden 64, 2 layers, leaky ReLU, dropout 0.2, 3 classes, global biomarkers on).
    public init() {}

    /// Number of classes.
    public var classCount: Int { classNames.count }

    /// Checks the numbers a user may set.
    /// - Throws: `GraphNetError.invalidOption` naming the option.
    public func validate() throws {
        if hidden < 1 || hidden > 4096 { throw GraphNetError.invalidOption(name: "hidden", reason: "must be 1...4096, got \(hidden)") }
        if layers < 0 || layers > 16 { throw GraphNetError.invalidOption(name: "layers", reason: "must be 0...16, got \(layers)") }
        if !(dropout >= 0 && dropout < 1) { throw GraphNetError.invalidOption(name: "dropout", reason: "must be in [0, 1), got \(dropout)") }
        if classNames.count < 2 { throw GraphNetError.invalidOption(name: "classes", reason: "need at least 2 classes") }
        if nodeFeatureCounts.count != NodeType.allCases.count {
            throw GraphNetError.invalidOption(name: "features", reason: "need one feature count per node type")
        }
    }
}
