import Foundation
import VLM

/// A student VLM held warm. `VLMGenerator` makes its own KV cache per call and only reads the weights, so
/// requests share it.
public final class WarmVLM: WarmModel, @unchecked Sendable {
    /// The loaded model, tokenizer and generator.
    public let loaded: LoadedVLM
    /// Float32 parameters, bytes.
    public let memoryBytes: Int

    /// Wraps a loaded VLM.
    public init(_ loaded: LoadedVLM) {
        self.loaded = loaded
        memoryBytes = loaded.model.parameterCount * MemoryLayout<Float>.size
    }
}

/// Loader for the VLM kind: `<store>/vlm/v<N>/{config.json,tokenizer.json,weights.safetensors}` (VLMStore).
public enum VLMModels {
    /// The store's kind for VLMs (their config.json has no kind member, so the name "vlm" is the kind).
    public static let kind = VLMStore.defaultName

    /// Loads a VLM version folder.
    public static let loader = ModelLoader(kind: kind) { stored in
        WarmVLM(try VLMStore.load(directory: stored.directory))
    }
}
