import Common
import Foundation
import Retina
import Tensors

/// How to pick tokens.
public struct GenerationOptions: Sendable, Equatable {
    /// Most tokens to generate (not counting the prompt).
    public var maxTokens: Int
    /// 0 = greedy (argmax); otherwise logits are divided by it before sampling.
    public var temperature: Float
    /// Keep only the k most likely tokens when sampling (0 = all).
    public var topK: Int
    /// Keep the smallest set of tokens whose probability reaches p when sampling (1 = all).
    public var topP: Float
    /// Sampling seed: the same seed, image and prompt give the same text.
    public var seed: UInt64
    /// Generation stops when the text ends with one of these (which is then removed); `<eos>` always stops.
    public var stopStrings: [String]

    /// Options; the defaults are greedy decoding of at most 160 tokens.
    public init(maxTokens: Int = 160, temperature: Float = 0, topK: Int = 0, topP: Float = 1, seed: UInt64 = 0,
                stopStrings: [String] = []) {
        self.maxTokens = maxTokens; self.temperature = temperature; self.topK = topK; self.topP = topP
        self.seed = seed; self.stopStrings = stopStrings
    }

    /// Checks the ranges.
    /// - Throws: `VLMError.invalidOption` naming the option.
    public func validate() throws {
        guard maxTokens >= 0 else { throw VLMError.invalidOption(name: "max-tokens", reason: "must be >= 0, got \(maxTokens)") }
        guard temperature >= 0, temperature.isFinite else {
            throw VLMError.invalidOption(name: "temperature", reason: "must be a finite number >= 0, got \(temperature)")
        }
        guard topK >= 0 else { throw VLMError.invalidOption(name: "top-k", reason: "must be >= 0, got \(topK)") }
        guard topP > 0, topP <= 1 else { throw VLMError.invalidOption(name: "top-p", reason: "must be in (0, 1], got \(topP)") }
    }
}

/// One generated token, as handed to the streaming callback.
public struct GeneratedToken: Sendable, Equatable {
    /// 0 for the first generated token, then 1, 2, ...
    public var index: Int
    /// Token id.
    public var id: Int
    /// The text this token completes (may be empty while a multi-byte character is being spelled in bytes).
    public var text: String
}

/// A thread-safe cancellation flag: set it from any thread; generation checks it between tokens and
/// training between steps.
public final class CancellationFlag: @unchecked Sendable {
    private let lock = NSLock()
    private var cancelled = false
    /// A flag that is not set.
    public init() {}
    /// Requests cancellation.
    public func cancel() { lock.lock(); cancelled = true; lock.unlock() }
    /// Whether cancellation was requested.
    public var isCancelled: Bool { lock.lock(); defer { lock.unlock() }; return cancelled }
}

/// Why generation ended.
public enum StopReason: String, Sendable, Codable {
    case endOfText = "end_of_text", maxTokens = "max_tokens", stopString = "stop_string", cancelled
    case contextFull = "context_full"
}

/// The outcome of one generation.
public struct GenerationResult: Sendable, Equatable {
    /// The generated text (without `<eos>` or the matched stop string): the concatenation of the streamed
    /// pieces. A character left incomplete by the last byte token is dropped.
    public var text: String
    /// Generated token ids (without `<eos>`).
    public var tokenIDs: [Int]
    /// Why it ended.
    public var stopReason: StopReason
    /// Image encoding + prefill until the first token's logits, seconds.
    public var timeToFirstTokenSeconds: Double
    /// Time spent on the decode steps after the first token, seconds.
    public var decodeSeconds: Double
}

/// Streaming text generation from an image on a loaded model. Thread-safe: every call makes its own KV cache
/// and random stream and only reads the weights, so several threads may generate at once on one instance.
public final class VLMGenerator: @unchecked Sendable {
    /// The model (weights are read, never written, here).
    public let model: VLMModel
    /// The tokenizer the model was trained with.
    public let tokenizer: Tokenizer

    /// A generator for `model` and `tokenizer` (their vocabulary sizes must agree).
    /// - Throws: `VLMError.invalidConfig` when they do not.
    public init(model: VLMModel, tokenizer: Tokenizer) throws {
        guard model.config.vocabSize == tokenizer.vocabSize else {
            throw VLMError.invalidConfig("model vocab_size \(model.config.vocabSize) != tokenizer's \(tokenizer.vocabSize)")
        }
        self.model = model; self.tokenizer = tokenizer
    }

    /// Answers `question` about `image`, calling `onToken` for every generated token in order (on the calling
    /// thread) and checking `cancel` before every token.
    /// - Throws: `VLMError.invalidOption` for bad options or a question too long for the context.
    public func generate(image: GrayImage, question: String, options: GenerationOptions = GenerationOptions(),
                         cancel: CancellationFlag? = nil,
                         onToken: ((GeneratedToken) -> Void)? = nil) throws -> GenerationResult {
        let start = DispatchTime.now().uptimeNanoseconds
        let patches = ImagePatches.patches(of: image, config: model.config)
        let prompt = EncodedCorpus.promptIDs(question: question, tokenizer: tokenizer)
        return try generate(patches: patches, prompt: prompt, options: options, cancel: cancel, startNanos: start,
                            onToken: onToken)
    }

    /// As `generate(image:...)` from prepared patches and prompt ids (`<human> question <gpt>`).
    /// `startNanos` (uptime) is when the request began, for the time to first token.
    public func generate(patches: [Float], prompt: [Int], options: GenerationOptions = GenerationOptions(),
                         cancel: CancellationFlag? = nil, startNanos: UInt64? = nil,
                         onToken: ((GeneratedToken) -> Void)? = nil) throws -> GenerationResult {
        try options.validate()
        let cfg = model.config
        guard patches.count == cfg.visualTokens * cfg.patchDim else {
            throw VLMError.invalidOption(name: "image", reason: "expected \(cfg.visualTokens * cfg.patchDim) patch values, got \(patches.count)")
        }
        guard cfg.visualTokens + prompt.count < cfg.maxPositions else {
            throw VLMError.invalidOption(name: "question", reason: "\(prompt.count) prompt tokens leave no room in \(cfg.maxPositions) positions")
        }
        guard prompt.allSatisfy({ $0 >= 0 && $0 < cfg.vocabSize }) else {
            throw VLMError.invalidOption(name: "prompt", reason: "token id outside the vocabulary of \(cfg.vocabSize)")
        }
        let t0 = startNanos ?? DispatchTime.now().uptimeNanoseconds
        let session = DecoderSession(model: model)
        session.prefill(patches: patches, prompt: prompt)
        let t1 = DispatchTime.now().uptimeNanoseconds
        var sampler = TokenSampler(options: options, vocabSize: cfg.vocabSize)
        var ids: [Int] = []
        var bytes: [UInt8] = []
        var emittedScalars = 0
        var reason = StopReason.maxTokens
        var stopTrim = 0
        while true {
            if cancel?.isCancelled == true { reason = .cancelled; break }
            if ids.count >= options.maxTokens { reason = .maxTokens; break }
            let next = sampler.sample(session.logits)
            if next == Tokenizer.eos { reason = .endOfText; break }
            ids.append(next)
            let b = tokenizer.bytes(of: next)
            bytes += b
            // Stream only text that later bytes cannot change: hold back a trailing, still incomplete UTF-8
            // sequence (a character spelled in byte tokens).
            let scalars = String(decoding: bytes.prefix(Self.completePrefixLength(bytes)), as: UTF8.self).unicodeScalars
            var piece = String.UnicodeScalarView()
            piece.append(contentsOf: scalars.dropFirst(emittedScalars))
            emittedScalars = scalars.count
            onToken?(GeneratedToken(index: ids.count - 1, id: next, text: String(piece)))
            if let stop = options.stopStrings.first(where: { !$0.isEmpty && bytes.count >= $0.utf8.count
                && Array(bytes.suffix($0.utf8.count)) == Array($0.utf8) }) {
                reason = .stopString; stopTrim = stop.utf8.count; break
            }
            if session.remaining == 0 { reason = .contextFull; break }
            if cancel?.isCancelled == true { reason = .cancelled; break }
            if ids.count >= options.maxTokens { reason = .maxTokens; break }
            session.step(token: next)
        }
        let t2 = DispatchTime.now().uptimeNanoseconds
        let kept = Array(bytes.dropLast(stopTrim))
        let text = String(decoding: kept.prefix(Self.completePrefixLength(kept)), as: UTF8.self)
        return GenerationResult(text: text, tokenIDs: ids, stopReason: reason,
                                timeToFirstTokenSeconds: Double(t1 - t0) / 1e9, decodeSeconds: Double(t2 - t1) / 1e9)
    }
}

extension VLMGenerator {
    /// Length of `bytes` without a trailing UTF-8 sequence that is started but not complete (a lead byte
    /// followed by fewer continuation bytes than it announces). Lossy decoding of that prefix is a prefix of
    /// the decoding of any continuation, so streamed pieces never change afterwards.
    static func completePrefixLength(_ bytes: [UInt8]) -> Int {
        let n = bytes.count
        var i = n - 1
        while i >= 0 && i >= n - 4 {
            let b = bytes[i]
            if b & 0xC0 != 0x80 {  // a lead byte (or ASCII)
                let need = b < 0x80 ? 1 : (b >= 0xF0 ? 4 : (b >= 0xE0 ? 3 : (b >= 0xC0 ? 2 : 1)))
                return n - i < need ? i : n
            }
            i -= 1
        }
        return n
    }
}

/// Picks the next token from logits: argmax at temperature 0, else temperature, top-k and top-p sampling with
/// a seeded generator (so the same seed gives the same tokens).
struct TokenSampler {
    let options: GenerationOptions
    var generator: SeededGenerator
    var order: [Int]
    var probs: [Float]

    init(options: GenerationOptions, vocabSize: Int) {
        self.options = options
        generator = SeededGenerator(seed: options.seed)
        order = Array(0..<vocabSize)
        probs = [Float](repeating: 0, count: vocabSize)
    }

    mutating func sample(_ logits: UnsafePointer<Float>) -> Int {
        let v = probs.count
        if options.temperature == 0 { return Kernels.argmax(logits, count: v) }
        let inv = 1 / options.temperature
        var m = -Float.infinity
        for i in 0..<v { m = max(m, logits[i]) }
        var total: Float = 0
        for i in 0..<v { probs[i] = Kernels.exp((logits[i] - m) * inv); total += probs[i] }
        for i in 0..<v { probs[i] /= total }
        // Candidates by falling probability (ties by id, so the order is deterministic).
        let p = probs
        order = Array(0..<v)
        order.sort { p[$0] != p[$1] ? p[$0] > p[$1] : $0 < $1 }
        var n = options.topK > 0 ? min(options.topK, v) : v
        if options.topP < 1 {
            var acc: Float = 0
            for i in 0..<n { acc += p[order[i]]; if acc >= options.topP { n = i + 1; break } }
        }
        var mass: Float = 0
        for i in 0..<n { mass += p[order[i]] }
        var u = Float(generator.uniform()) * mass
        for i in 0..<n {
            u -= p[order[i]]
            if u <= 0 { return order[i] }
        }
        return order[n - 1]
    }
}
