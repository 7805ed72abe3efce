import Foundation
import GraphNet
import RPC
import VesselGraph

/// A GraphNet staging model held warm. `StagingModel.predict` mutates nothing, so requests share it.
public final class WarmStagingModel: WarmModel, @unchecked Sendable {
    /// The loaded model.
    public let model: StagingModel
    /// Float32 parameters, bytes.
    public let memoryBytes: Int

    /// Wraps a loaded model.
    public init(_ model: StagingModel) {
        self.model = model
        memoryBytes = model.network.parameterCount * MemoryLayout<Float>.size
    }
}

/// Loaders for GraphNet's model kind ("graphnet").
public enum GraphNetModels {
    /// Loads `<store>/<name>/<version>` with GraphNet's `ModelStore` (kind, weight names and shapes checked).
    public static let loader = ModelLoader(kind: StagingModel.kind) { stored in
        guard let v = Int(stored.version) else {
            throw GraphNetError.modelNotFound(path: stored.directory + " (GraphNet versions are integers)")
        }
        let nameFolder = (stored.directory as NSString).deletingLastPathComponent
        let store = ModelStore(root: (nameFolder as NSString).deletingLastPathComponent)
        return WarmStagingModel(try store.load(StagingModel.self, name: stored.name, version: v).model)
    }
}

