import Foundation

/// Word-level tokenizer with character and byte fallback, trained on the instruction corpus.
///
/// Text is cut into pieces: a newline; or an optional single leading space followed by a run of letters, a run
/// of digits, or one other character ("The FAZ is 0.52 mm2" -> "The", " FAZ", " is", " 0", ".", "52", " mm",
/// "2"). A piece in the vocabulary is one token; any other piece is
/// spelled with single-character tokens, and a character never seen in training with its UTF-8 byte tokens,
/// so every string encodes and `decode(encode(s)) == s` exactly (no `<unk>` is ever produced).
///
/// Ids: 0 `<pad>`, 1 `<unk>`, 2 `<image>`, 3 `<human>`, 4 `<gpt>`, 5 `<eos>`, 6..<262 bytes 0x00-0xFF, then
/// characters, then words by falling corpus frequency.
public final class Tokenizer: @unchecked Sendable {
    /// Special token names, in id order.
    public static let specialNames = ["<pad>", "<unk>", "<image>", "<human>", "<gpt>", "<eos>"]
    public static let pad = 0, unk = 1, image = 2, human = 3, gpt = 4, eos = 5
    /// First byte-token id (byte b is `byteBase + b`).
    public static let byteBase = 6
    /// First id after the specials and bytes.
    public static let firstPieceID = byteBase + 256

    /// Token strings by id (bytes as "<0xNN>").
    public let tokens: [String]
    private let ids: [String: Int]
    private let pieceBytes: [[UInt8]]

    /// Number of tokens.
    public var vocabSize: Int { tokens.count }

    /// A tokenizer from its token list (specials and bytes first, as written by `jsonData()`).
    /// - Throws: `VLMError.badTokenizer` when the fixed prefix is wrong or a token repeats.
    public init(tokens: [String], source: String = "tokenizer") throws {
        guard tokens.count >= Self.firstPieceID, Array(tokens.prefix(Self.specialNames.count)) == Self.specialNames else {
            throw VLMError.badTokenizer(path: source, reason: "must start with \(Self.specialNames) and 256 byte tokens")
        }
        for b in 0..<256 where tokens[Self.byteBase + b] != Self.byteName(b) {
            throw VLMError.badTokenizer(path: source, reason: "token \(Self.byteBase + b) must be \(Self.byteName(b))")
        }
        var map: [String: Int] = [:]
        for (i, t) in tokens.enumerated() where i >= Self.firstPieceID {
            if map[t] != nil { throw VLMError.badTokenizer(path: source, reason: "token \"\(t)\" appears twice") }
            map[t] = i
        }
        self.tokens = tokens
        self.ids = map
        pieceBytes = tokens.enumerated().map { i, t in
            if i < Self.byteBase { return [] }
            if i < Self.firstPieceID { return [UInt8(i - Self.byteBase)] }
            return Array(t.utf8)
        }
    }

    static func byteName(_ b: Int) -> String { String(format: "<0x%02X>", b) }

    /// Trains a vocabulary of at most `maxVocab` tokens: specials, bytes, every character seen, then the most
    /// frequent multi-character pieces (ties alphabetical, so training is deterministic).
    public static func train(texts: [String], maxVocab: Int) -> Tokenizer {
        var chars = Set<String>()
        var counts: [String: Int] = [:]
        for t in texts {
            for p in pieces(t) {
                for c in p { chars.insert(String(c)) }
                if p.count > 1 { counts[p, default: 0] += 1 }
            }
        }
        var list = specialNames + (0..<256).map(byteName)
        list += chars.sorted()
        let words = counts.filter { $0.value >= 2 }.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
        for (w, _) in words where list.count < maxVocab { list.append(w) }
        return try! Tokenizer(tokens: list)  // built with the required prefix and unique pieces
    }

    /// Splits text into pieces (see the type's documentation).
    public static func pieces(_ text: String) -> [String] {
        var out: [String] = []
        let cs = Array(text)
        var i = 0
        func kind(_ c: Character) -> Int { c.isLetter ? 1 : (c.isNumber ? 2 : 0) }
        while i < cs.count {
            var start = i
            if cs[i] == " ", i + 1 < cs.count, cs[i + 1] != " ", cs[i + 1] != "\n" { i += 1 }
            let k = kind(cs[i])
            if cs[i] == "\n" || (cs[i] == " " && start == i) || k == 0 {
                i += 1
            } else {
                while i < cs.count && kind(cs[i]) == k { i += 1 }
            }
            out.append(String(cs[start..<i]))
            start = i
        }
        return out
    }

    /// Token ids of `text` (no special tokens added).
    public func encode(_ text: String) -> [Int] {
        var out: [Int] = []
        for p in Self.pieces(text) {
            if let id = ids[p] { out.append(id); continue }
            for c in p {
                let s = String(c)
                if let id = ids[s] { out.append(id) } else { out += s.utf8.map { Self.byteBase + Int($0) } }
            }
        }
        return out
    }

    /// The UTF-8 bytes a token stands for (empty for special tokens).
    public func bytes(of id: Int) -> [UInt8] { id >= 0 && id < pieceBytes.count ? pieceBytes[id] : [] }

    /// Text of `ids`; special tokens are skipped.
    public func decode(_ ids: [Int]) -> String {
        String(decoding: ids.flatMap { bytes(of: $0) }, as: UTF8.self)
    }

    /// The tokenizer as JSON: `{"format": "capillary-word-byte-v1", "tokens": [...]}`.
    public func jsonData() -> Data {
        let obj: [String: Any] = ["format": "capillary-word-byte-v1", "tokens": tokens]
        return try! JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])
    }

    /// Writes `jsonData()` to `path`.
    /// - Throws: `VLMError.io` naming the file.
    public func save(to path: String) throws {
        do { try jsonData().write(to: URL(fileURLWithPath: path), options: .atomic) }
        catch { throw VLMError.io(path: path, reason: "cannot write tokenizer: \(error.localizedDescription)") }
    }

    /// Reads a tokenizer written by `save`.
    /// - Throws: `VLMError.io` (missing file) or `.badTokenizer` (wrong format).
    public static func load(path: String) throws -> Tokenizer {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw VLMError.io(path: path, reason: "no such tokenizer file")
        }
        guard let obj = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
              let tokens = obj["tokens"] as? [String] else {
            throw VLMError.badTokenizer(path: path, reason: "expected {\"tokens\": [strings]}")
        }
        return try Tokenizer(tokens: tokens, source: path)
    }
}
