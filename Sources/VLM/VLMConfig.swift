import Foundation

/// Shape of a student VLM: the vision encoder (image side, patch side), the projector and the decoder.
///
/// The image is resized to `imageSizePX` x `imageSizePX` and cut into non-overlapping `patchSizePX` squares;
/// each patch (patchSizePX^2 intensities) goes through a two-layer GELU projector into `dModel`, giving
/// `visualTokens` = (imageSizePX / patchSizePX)^2 visual tokens that prefix the text.
public struct VLMConfig: Codable, Sendable, Equatable {
    /// Preset name ("tiny", "small", "base", "peer") or "custom".
    public var name: String
    /// Side of the square image fed to the encoder, px.
    public var imageSizePX: Int
    /// Side of one square patch, px (must divide `imageSizePX`).
    public var patchSizePX: Int
    /// Hidden width of the patch projector.
    public var projectorHidden: Int
    /// Decoder width.
    public var dModel: Int
    /// Decoder blocks.
    public var layers: Int
    /// Attention heads (must divide `dModel`).
    public var heads: Int
    /// Vocabulary size (set from the tokenizer before the model is built).
    public var vocabSize: Int
    /// Longest sequence (visual + text tokens) the learned position table covers.
    public var maxPositions: Int

    enum CodingKeys: String, CodingKey {
        case name
        case imageSizePX = "image_size_px", patchSizePX = "patch_size_px", projectorHidden = "projector_hidden"
        case dModel = "d_model", layers, heads, vocabSize = "vocab_size", maxPositions = "max_positions"
    }

    /// A configuration; call `validate()` before building a model from user input.
    public init(name: String = "custom", imageSizePX: Int, patchSizePX: Int, projectorHidden: Int, dModel: Int,
                layers: Int, heads: Int, vocabSize: Int, maxPositions: Int) {
        self.name = name; self.imageSizePX = imageSizePX; self.patchSizePX = patchSizePX
        self.projectorHidden = projectorHidden; self.dModel = dModel; self.layers = layers; self.heads = heads
        self.vocabSize = vocabSize; self.maxPositions = maxPositions
    }

    /// Number of visual tokens per image.
    public var visualTokens: Int { (imageSizePX / patchSizePX) * (imageSizePX / patchSizePX) }
    /// Intensities per patch.
    public var patchDim: Int { patchSizePX * patchSizePX }
    /// Width of one attention head.
    public var headDim: Int { dModel / heads }
    /// Longest text (prompt + answer) that fits after the visual tokens.
    public var maxTextTokens: Int { maxPositions - visualTokens }

    /// Tests only: trains to exact text in seconds (32 px image, 16 visual tokens, d 48, 2 layers).
    public static let tiny = VLMConfig(name: "tiny", imageSizePX: 32, patchSizePX: 8, projectorHidden: 64,
                                       dModel: 48, layers: 2, heads: 2, vocabSize: 0, maxPositions: 144)
    /// Default, demo-sized: 128 px, 16 px patches (64 visual tokens), d 128, 4 layers, 4 heads.
    public static let small = VLMConfig(name: "small", imageSizePX: 128, patchSizePX: 16, projectorHidden: 256,
                                        dModel: 128, layers: 4, heads: 4, vocabSize: 0, maxPositions: 320)
    /// Best quality meant to train within an hour on 2 cores: 160 px, 16 px patches (100 tokens), d 256, 6 layers.
    public static let base = VLMConfig(name: "base", imageSizePX: 160, patchSizePX: 16, projectorHidden: 512,
                                       dModel: 256, layers: 6, heads: 8, vocabSize: 0, maxPositions: 420)
    /// The PyTorch peer's benchmark shape (issue 9): d 192, 4 layers, 4 heads, vocabulary 2,000, 64 visual
    /// tokens from a 128 px image.
    public static let peer = VLMConfig(name: "peer", imageSizePX: 128, patchSizePX: 16, projectorHidden: 192,
                                       dModel: 192, layers: 4, heads: 4, vocabSize: 2000, maxPositions: 320)

    /// The preset called `name` (tiny, small, base, peer).
    /// - Throws: `VLMError.invalidConfig` for an unknown name.
    public static func preset(_ name: String) throws -> VLMConfig {
        switch name {
        case "tiny": return .tiny
        case "small": return .small
        case "base": return .base
        case "peer": return .peer
        default: throw VLMError.invalidConfig("unknown config \"\(name)\"; use tiny, small, base or peer")
        }
    }

    /// Checks that the shapes fit together.
    /// - Throws: `VLMError.invalidConfig` naming the offending field.
    public func validate() throws {
        func bad(_ s: String) -> VLMError { .invalidConfig(s) }
        guard imageSizePX > 0, patchSizePX > 0, imageSizePX % patchSizePX == 0 else {
            throw bad("image_size_px \(imageSizePX) must be a positive multiple of patch_size_px \(patchSizePX)")
        }
        guard dModel > 0, heads > 0, dModel % heads == 0 else {
            throw bad("d_model \(dModel) must be a positive multiple of heads \(heads)")
        }
        guard layers > 0, projectorHidden > 0 else { throw bad("layers and projector_hidden must be positive") }
        guard vocabSize > 0 else { throw bad("vocab_size must be positive (set it from the tokenizer)") }
        guard maxPositions > visualTokens + 2 else {
            throw bad("max_positions \(maxPositions) leaves no room for text after \(visualTokens) visual tokens")
        }
    }
}
