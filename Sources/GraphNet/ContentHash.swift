/// A 128-bit content hash (two independent 64-bit FNV-1a lanes), for cache keys only: not cryptographic,
/// but a changed image or builder option changes the key with overwhelming probability.
public struct ContentHash: Sendable {
    private var a: UInt64 = 0xcbf2_9ce4_8422_2325
    private var b: UInt64 = 0x6c62_272e_07bb_0142
    /// An empty hash.
    public init() {}
    /// Feeds bytes.
    public mutating func update<S: Sequence>(_ bytes: S) where S.Element == UInt8 {
        for x in bytes {
            a = (a ^ UInt64(x)) &* 0x0000_0100_0000_01b3
            b = (b ^ UInt64(x ^ 0x5a)) &* 0x0000_0100_0000_01b3
        }
    }
    /// 32 lowercase hex digits.
    public var hex: String {
        func h(_ v: UInt64) -> String { let s = String(v, radix: 16); return String(repeating: "0", count: 16 - s.count) + s }
        return h(a) + h(b)
    }
}
