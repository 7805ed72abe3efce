import Foundation

/// Fast JSON encoding of `OCTAGraph` (Foundation's JSONEncoder is too slow for a 45 ms budget on Linux).
/// The output uses the same keys as the `Codable` conformance, so `JSONDecoder` reads it back.
extension OCTAGraph {
    /// UTF-8 JSON of the graph; keys in a fixed order, biomarkers sorted by name, non-finite numbers as 0.
    public func jsonData() -> Data {
        // Room for the whole text up front (regrowing a megabyte-sized buffer copied it each time): about 7 bytes
        // per footprint or relation index and 11 per float, rounded up generously.
        var numbers = 0
        for set in [vessel, ica, faz] {
            numbers += set.features.count + 4 * set.count
            for f in set.footprints { numbers += f.count }
        }
        for r in relations { numbers += 2 * r.count }
        var o = JSONWriter(capacity: 65_536 + 12 * numbers)
        o.raw("{")
        o.key("format"); o.string(format); o.raw(",")
        o.key("width_px"); o.int(widthPX); o.raw(",")
        o.key("height_px"); o.int(heightPX); o.raw(",")
        o.key("pixel_size_mm"); o.double(pixelSizeMM); o.raw(",")
        o.key("grid_centre_px"); o.doubles(gridCentrePX); o.raw(",")
        o.key("sector_names"); o.strings(sectorNames); o.raw(",")
        o.key("quadrant_names"); o.strings(quadrantNames); o.raw(",\n")
        o.key("biomarkers"); o.raw("{")
        for (i, k) in biomarkers.keys.sorted().enumerated() {
            if i > 0 { o.raw(",") }
            o.key(k); o.double(biomarkers[k]!)
        }
        o.raw("},\n")
        for (name, set) in [("vessel", vessel), ("ica", ica), ("faz", faz)] {
            o.key(name); o.nodeSet(set); o.raw(",\n")
        }
        o.key("relations"); o.raw("[")
        for (i, r) in relations.enumerated() {
            if i > 0 { o.raw(",\n") }
            o.raw("{"); o.key("name"); o.string(r.name); o.raw(",")
            o.key("source_type"); o.string(r.sourceType); o.raw(",")
            o.key("target_type"); o.string(r.targetType); o.raw(",")
            o.key("source"); o.ints(r.source); o.raw(",")
            o.key("target"); o.ints(r.target); o.raw("}")
        }
        o.raw("]}\n")
        let data = o.data
        o.release()
        return data
    }
}

/// Appends JSON tokens to a growable byte buffer written through a raw pointer (appending byte by byte to
/// an Array pays a uniqueness check per byte, which dominated the encoding time).
struct JSONWriter {
    private var base: UnsafeMutablePointer<UInt8>
    private var capacity: Int
    private var used = 0

    /// A writer with room for `capacity` bytes before it grows.
    init(capacity: Int = 1 << 20) {
        self.capacity = max(64, capacity)
        base = .allocate(capacity: self.capacity)
    }

    /// The bytes written so far.
    var data: Data { Data(bytes: base, count: used) }

    func release() { base.deallocate() }

    @inline(__always)
    private mutating func reserve(_ n: Int) {
        if used + n <= capacity { return }
        var c = capacity * 2
        while c < used + n { c *= 2 }
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: c)
        b.update(from: base, count: used)
        base.deallocate()
        base = b; capacity = c
    }

    @inline(__always)
    private mutating func byte(_ b: UInt8) { reserve(1); base[used] = b; used += 1 }

    mutating func raw(_ s: String) { for c in s.utf8 { byte(c) } }

    mutating func string(_ s: String) {
        byte(0x22)
        for c in s.utf8 {
            switch c {
            case 0x22: raw("\\\"")
            case 0x5C: raw("\\\\")
            case 0..<0x20: raw(String(format: "\\u%04x", Int(c)))
            default: byte(c)
            }
        }
        byte(0x22)
    }

    mutating func key(_ k: String) { string(k); byte(0x3A) }

    mutating func int<T: BinaryInteger>(_ v: T) {
        reserve(28)  // 20 digits and a sign, plus the 8-byte stores' spill
        var x = Int64(v)
        var u = used
        if x < 0 { base[u] = 0x2D; u += 1; x = -x }
        Self.withTables { Self.writeDigits(x, base, &u, $0) }
        used = u
    }

    /// Lookup tables of the number writers, by n < 10,000: `pad4[n]` is n as four ASCII digits with leading
    /// zeros, first digit in the low byte (so one little-endian store writes them in order); the low nibble of
    /// `lengths[n]` is n's digit count without leading zeros (1 for 0), the high nibble its digit count as a
    /// four-digit fraction without trailing zeros (0 for 0). A 4-digit group is then a load, a shift and one
    /// store, where a digit-pair table needed two divisions and up to four byte stores with branches on the
    /// digit count (about 50 instructions per footprint index, 100 per float on a 400 px eye).
    struct Tables {
        let pad4: UnsafePointer<UInt32>
        let lengths: UnsafePointer<UInt8>
    }

    // Built once per process with plain arithmetic (no per-entry arrays: ~10 instructions an entry).
    private static let pad4: [UInt32] = (0..<10_000).map { n in
        let d0 = UInt32(n / 1000), d1 = UInt32(n / 100 % 10), d2 = UInt32(n / 10 % 10), d3 = UInt32(n % 10)
        return 0x3030_3030 | d0 | d1 << 8 | d2 << 16 | d3 << 24
    }

    private static let lengths: [UInt8] = (0..<10_000).map { n in
        let intDigits = n >= 1000 ? 4 : n >= 100 ? 3 : n >= 10 ? 2 : 1
        let fracDigits = n == 0 ? 0 : n % 1000 == 0 ? 1 : n % 100 == 0 ? 2 : n % 10 == 0 ? 3 : 4
        return UInt8(intDigits | fracDigits << 4)
    }

    /// Runs `body` with the tables' storage (read once per list, not per number: a static's lazy-init check).
    @inline(__always)
    static func withTables<R>(_ body: (Tables) -> R) -> R {
        pad4.withUnsafeBufferPointer { p in
            lengths.withUnsafeBufferPointer { l in body(Tables(pad4: p.baseAddress!, lengths: l.baseAddress!)) }
        }
    }

    mutating func double(_ v: Double) {
        guard v.isFinite else { byte(0x30); return }
        if v == v.rounded(), abs(v) < 1e15 { int(Int64(v)); return }
        raw(v.description)
    }

    /// Floats with at most 4 decimals (0.1 um on positions in mm; features keep 5+ significant digits),
    /// written by integer arithmetic because `description` dominates the encoding time otherwise.
    /// Magnitudes below 0.00005 are written as 0, and 1e7 or more in exponent form.
    mutating func float(_ v: Float) {
        guard v.isFinite else { byte(0x30); return }
        if abs(v) >= 1e7 { raw(v.description); return }
        reserve(24)  // 14 bytes, plus the 8-byte stores' spill
        var u = used
        Self.withTables { Self.writeFixed(v, base, &u, $0) }
        used = u
    }

    /// Stores the low `UInt64` bytes at `b + u` (unaligned, little-endian); the caller advances `u` by the
    /// bytes that count, and the bytes past them are overwritten by what follows (capacity has 8 bytes spare).
    @inline(__always)
    private static func store8(_ word: UInt64, _ b: UnsafeMutablePointer<UInt8>, _ u: Int) {
        UnsafeMutableRawPointer(b + u).storeBytes(of: word.littleEndian, as: UInt64.self)
    }

    /// Writes finite `v` with |v| < 1e7 at `b[u...]` in the form of `float` (at most 14 bytes, and up to 8 bytes
    /// of spill past them), advancing `u`.
    @inline(__always)
    private static func writeFixed(_ v: Float, _ b: UnsafeMutablePointer<UInt8>, _ u: inout Int, _ t: Tables) {
        // Half away from zero, as `rounded()`, without its libm call: y < 1e11, so the fraction is exact.
        let y = Double(abs(v)) * 10_000
        var scaled = Int64(y)
        if y - Double(scaled) >= 0.5 { scaled += 1 }
        if scaled == 0 { b[u] = 0x30; u += 1; return }
        if v < 0 { b[u] = 0x2D; u += 1 }
        let ip = scaled / 10_000
        writeDigits(ip, b, &u, t)
        let fp = Int(scaled - ip * 10_000)
        if fp == 0 { return }
        // "." and the four fraction digits in one store; the count drops the trailing zeros.
        store8(0x2E | UInt64(t.pad4[fp]) &<< 8, b, u)
        u += 1 + Int(t.lengths[fp] >> 4)
    }

    /// Writes the decimal digits of `x` >= 0 at `b[u...]` (up to 8 bytes of spill past them), advancing `u`.
    @inline(__always)
    private static func writeDigits(_ x: Int64, _ b: UnsafeMutablePointer<UInt8>, _ u: inout Int, _ t: Tables) {
        if x < 10_000 {
            let n = Int(x), len = Int(t.lengths[n] & 15)
            store8(UInt64(t.pad4[n] &>> UInt32(32 - 8 * len)), b, u)
            u += len
            return
        }
        if x < 100_000_000 {
            // High group without leading zeros, then the low group in full: one store.
            let hi = Int(x / 10_000), lo = Int(x) - hi * 10_000
            let len = Int(t.lengths[hi] & 15)
            store8(UInt64(t.pad4[hi] &>> UInt32(32 - 8 * len)) | UInt64(t.pad4[lo]) &<< UInt64(8 * len), b, u)
            u += len + 4
            return
        }
        // Rare (no graph index or feature gets here): four digits per division, from the right.
        var x = x, digits = 1, v = x
        while v >= 10 { digits += 1; v /= 10 }
        var i = u + digits
        while x >= 10_000 {
            let q = x / 10_000, r = Int(x - q * 10_000)
            UnsafeMutableRawPointer(b + i - 4).storeBytes(of: t.pad4[r].littleEndian, as: UInt32.self)
            x = q; i -= 4
        }
        // The head byte by byte: a wider store would overwrite the groups just written.
        let head = t.pad4[Int(x)], len = i - u
        for k in 0..<len { b[u + k] = UInt8(truncatingIfNeeded: head &>> UInt32(8 * (4 - len + k))) }
        u += digits
    }

    mutating func doubles(_ a: [Double]) {
        byte(0x5B)
        for (i, v) in a.enumerated() { if i > 0 { byte(0x2C) }; double(v) }
        byte(0x5D)
    }

    /// Same text as `float` per element; one capacity check for the whole list when no element needs the
    /// exponent form (feature matrices are most of the numbers in a graph).
    mutating func floats(_ a: [Float]) {
        if a.contains(where: { $0.isFinite && abs($0) >= 1e7 }) {
            byte(0x5B)
            for (i, v) in a.enumerated() { if i > 0 { byte(0x2C) }; float(v) }
            byte(0x5D)
            return
        }
        reserve(10 + 15 * a.count)  // "-9999999.9999," is the longest element, plus the stores' spill
        let b = base
        var u = used
        b[u] = 0x5B; u += 1
        Self.withTables { t in
            a.withUnsafeBufferPointer { a in
                // A comma after every element; the last one becomes the closing bracket.
                for v in a {
                    if v.isFinite { Self.writeFixed(v, b, &u, t) } else { b[u] = 0x30; u += 1 }
                    b[u] = 0x2C; u += 1
                }
            }
        }
        if a.isEmpty { b[u] = 0x5D; u += 1 } else { b[u - 1] = 0x5D }
        used = u
    }

    /// Same text as `int` per element, but one capacity check for the whole list (footprints hold every
    /// pixel index of the image, so this loop is most of the JSON time).
    mutating func ints(_ a: [Int32]) {
        reserve(10 + 12 * a.count)  // "-2147483648," is the longest element, plus the stores' spill
        let b = base
        var u = used
        b[u] = 0x5B; u += 1
        Self.withTables { t in
            a.withUnsafeBufferPointer { a in
                for v in a {
                    var x = Int64(v)
                    if x < 0 { b[u] = 0x2D; u += 1; x = -x }
                    Self.writeDigits(x, b, &u, t)
                    b[u] = 0x2C; u += 1
                }
            }
        }
        if a.isEmpty { b[u] = 0x5D; u += 1 } else { b[u - 1] = 0x5D }
        used = u
    }

    mutating func strings(_ a: [String]) {
        byte(0x5B)
        for (i, v) in a.enumerated() { if i > 0 { byte(0x2C) }; string(v) }
        byte(0x5D)
    }

    mutating func nodeSet(_ s: NodeSet) {
        raw("{"); key("count"); int(s.count); raw(",")
        key("feature_names"); strings(s.featureNames); raw(",")
        key("features"); floats(s.features); raw(",")
        key("x_px"); floats(s.xPX); raw(","); key("y_px"); floats(s.yPX); raw(",")
        key("x_mm"); floats(s.xMM); raw(","); key("y_mm"); floats(s.yMM); raw(",")
        key("sector"); ints(s.sector); raw(","); key("quadrant"); ints(s.quadrant); raw(",")
        key("footprints"); raw("[")
        for (i, f) in s.footprints.enumerated() { if i > 0 { byte(0x2C) }; ints(f) }
        raw("]}")
    }
}
