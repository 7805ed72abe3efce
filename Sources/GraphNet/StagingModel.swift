import Foundation
import Tensors
import VesselGraph

/// Everything of a trained GraphNet except the weights: config.json of the model store.
public struct StagingModelConfig: Codable, Sendable, Equatable {
    /// Architecture (hidden width, layers, class names, input widths).
    public var architecture: GraphNetConfig
    /// Per-type feature names, transforms, means and standard deviations (and of the global biomarkers).
    public var normalizer: FeatureNormalizer
    /// Healthy reference ranges (p5/p50/p95) of every global biomarker, from the healthy training graphs.
    public var healthyReferences: [BiomarkerReference]
    /// Graph builder settings the model was trained with (`stage` builds graphs the same way).
    public var builder: VesselGraphConfig
    /// Which labels the classes are.
    public var labelScheme: LabelScheme
    /// Training options (nil for a model that was not trained by `GraphNetTraining`).
    public var training: TrainingOptions?
    /// Hash of the training set (ids, image content hashes, labels).
    public var dataFingerprint: String
    /// Training / validation graph counts.
    public var trainCount: Int
    /// See `trainCount`.
    public var valCount: Int

    /// A configuration from its parts.
    public init(architecture: GraphNetConfig, normalizer: FeatureNormalizer, healthyReferences: [BiomarkerReference],
                builder: VesselGraphConfig, labelScheme: LabelScheme, training: TrainingOptions?, dataFingerprint: String,
                trainCount: Int, valCount: Int) {
        self.architecture = architecture; self.normalizer = normalizer; self.healthyReferences = healthyReferences
        self.builder = builder; self.labelScheme = labelScheme; self.training = training
        self.dataFingerprint = dataFingerprint; self.trainCount = trainCount; self.valCount = valCount
    }

    enum CodingKeys: String, CodingKey {
        case architecture, normalizer, builder, training
        case healthyReferences = "healthy_references", labelScheme = "label_scheme", dataFingerprint = "data_fingerprint"
        case trainCount = "train_count", valCount = "val_count"
    }
}

/// A stage prediction for one graph.
public struct StagePrediction: Codable, Sendable, Equatable {
    /// Predicted class index.
    public var classIndex: Int
    /// Predicted class name ("healthy", "npdr", "pdr").
    public var className: String
    /// Softmax probability per class (`classNames` order).
    public var probabilities: [Double]
    /// Raw logits.
    public var logits: [Double]

    enum CodingKeys: String, CodingKey { case classIndex = "class_index", className = "class_name", probabilities, logits }
}

/// A trained GraphNet as stored and served: the network plus its normalisation, reference ranges and
/// builder settings. `predict` is the thread-safe inference entry point for the daemon; the Attribution
/// module uses `batch(_:)` + `network.forward(_:edgeMasks:mode:)` directly.
public final class StagingModel: StorableModel, @unchecked Sendable {
    public static let kind = "graphnet"
    /// The stored configuration.
    public let storedConfig: StagingModelConfig
    /// The network.
    public let network: GraphNetModel
    public var weights: Module { network }

    /// Class names, index = logit column.
    public var classNames: [String] { storedConfig.architecture.classNames }
    /// The input normaliser.
    public var normalizer: FeatureNormalizer { storedConfig.normalizer }

    /// A model with random weights for `storedConfig` (weights from `seed`).
    /// - Throws: `GraphNetError.invalidOption` for an invalid architecture, `.badConfig` if the normaliser
    ///   does not match the architecture's input widths.
    public init(storedConfig: StagingModelConfig, seed: UInt64) throws {
        let a = storedConfig.architecture
        for t in NodeType.allCases where storedConfig.normalizer.nodes[t.rawValue].names.count != a.nodeFeatureCounts[t.rawValue] {
            throw GraphNetError.badConfig(path: "config.json", reason: "\(t.name) normaliser has \(storedConfig.normalizer.nodes[t.rawValue].names.count) features, architecture \(a.nodeFeatureCounts[t.rawValue])")
        }
        if storedConfig.normalizer.global.names.count != a.globalFeatureCount {
            throw GraphNetError.badConfig(path: "config.json", reason: "global normaliser has \(storedConfig.normalizer.global.names.count) features, architecture \(a.globalFeatureCount)")
        }
        self.storedConfig = storedConfig
        network = try GraphNetModel(config: a, seed: seed)
    }

    /// See `StorableModel`.
    public convenience init(storedConfig: StagingModelConfig) throws { try self.init(storedConfig: storedConfig, seed: 0) }

    /// The normalised disjoint-union batch of `graphs`.
    /// - Throws: `GraphNetError.featureMismatch` if a graph's columns differ from the training graphs'.
    public func batch(_ graphs: [OCTAGraph]) throws -> GraphBatch { try GraphBatch(graphs: graphs, normalizer: normalizer) }

    /// Predictions for `graphs`, in chunks of `batchSize`. Runs without gradients and mutates nothing, so
    /// several threads may call it at once on one loaded model.
    /// - Throws: `GraphNetError.featureMismatch`.
    public func predict(_ graphs: [OCTAGraph], batchSize: Int = 64) throws -> [StagePrediction] {
        var out: [StagePrediction] = []
        try Tensor.withoutGrad {
            var i = 0
            while i < graphs.count {
                let part = Array(graphs[i..<min(i + max(batchSize, 1), graphs.count)])
                i += max(batchSize, 1)
                let logits = network.forward(try batch(part), mode: .inference)
                let c = logits.shape[1], l = logits.array
                for r in 0..<part.count {
                    let row = (0..<c).map { Double(l[r * c + $0]) }
                    let m = row.max()!
                    let e = row.map { exp($0 - m) }
                    let z = e.reduce(0, +)
                    let p = e.map { $0 / z }
                    let k = p.indices.max { p[$0] < p[$1] }!
                    out.append(StagePrediction(classIndex: k, className: classNames[k], probabilities: p, logits: row))
                }
            }
        }
        return out
    }
}
