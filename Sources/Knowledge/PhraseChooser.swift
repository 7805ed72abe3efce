import Common

/// Picks one phrasing among several: from a seeded stream (dataset text), or a fixed index (tests that walk
/// every phrasing). The same seed and image id always give the same choices.
public struct PhraseChooser: Sendable {
    var rng: SeededGenerator?
    var fixed: Int

    /// Seeded choices for one image: stream = FNV-1a hash of `imageID`, so every image reads differently and
    /// a re-run with the same seed reads identically.
    public init(seed: UInt64, imageID: String) {
        rng = SeededGenerator(seed: seed, stream: PhraseChooser.fnv1a(imageID)); fixed = 0
    }

    /// Always phrasing `index` (modulo the number of phrasings offered).
    public init(fixed index: Int) { rng = nil; fixed = index }

    /// One of `options`.
    mutating func pick<T>(_ options: [T]) -> T {
        precondition(!options.isEmpty, "PhraseChooser: no options")
        if rng != nil { return options[rng!.int(below: options.count)] }
        return options[fixed % options.count]
    }

    /// 64-bit FNV-1a of the UTF-8 bytes (stable across runs, unlike `hashValue`).
    static func fnv1a(_ s: String) -> UInt64 {
        var h: UInt64 = 0xcbf29ce484222325
        for b in s.utf8 { h = (h ^ UInt64(b)) &* 0x100000001b3 }
        return h
    }
}
