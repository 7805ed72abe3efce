import Foundation

/// Fast JSON encoding of `OCTAGraph` (Foundation's JSONEncoder is too slow for a 45 ms budget on Linux).
/// The output uses the same keys as the `Codable` conformance, so `JSONDecoder` reads it back.
extension OCTAGraph {
    /// UTF-8 JSON of the graph; keys in a fixed order, biomarkers sorted by name, non-finite numbers as 0.
    public func jsonData() -> Data {
        var o = JSONWriter()
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

    init() {
        capacity = 1 << 20
        base = .allocate(capacity: capacity)
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
        reserve(21)
        var x = Int64(v)
        if x == 0 { base[used] = 0x30; used += 1; return }
        if x < 0 { base[used] = 0x2D; used += 1; x = -x }
        var digits = 1, t = x
        while t >= 100 { digits += 2; t /= 100 }
        if t >= 10 { digits += 1 }
        // Two digits per division, from the right.
        var i = used + digits
        while x >= 10 {
            let r = Int(x % 100) * 2
            x /= 100
            base[i - 1] = Self.digitPairs[r + 1]; base[i - 2] = Self.digitPairs[r]
            i -= 2
        }
        if x > 0 { base[i - 1] = UInt8(0x30 + x) }
        used += digits
    }

    /// "00" "01" ... "99" as ASCII pairs.
    private static let digitPairs: [UInt8] = {
        var out: [UInt8] = []
        for n in 0..<100 {
            let tens = UInt8(n / 10), ones = UInt8(n % 10)
            out.append(0x30 + tens)
            out.append(0x30 + ones)
        }
        return out
    }()

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
        let a = abs(v)
        if a >= 1e7 { raw(v.description); return }
        let scaled = Int64((Double(a) * 10_000).rounded())
        if scaled == 0 { byte(0x30); return }
        if v < 0 { byte(0x2D) }
        int(scaled / 10_000)
        var fp = Int(scaled % 10_000)
        if fp == 0 { return }
        reserve(5)
        base[used] = 0x2E
        // Four fixed digits, then drop trailing zeros.
        base[used + 1] = UInt8(0x30 + fp / 1000); fp %= 1000
        base[used + 2] = UInt8(0x30 + fp / 100); fp %= 100
        base[used + 3] = UInt8(0x30 + fp / 10)
        base[used + 4] = UInt8(0x30 + fp % 10)
        var end = used + 5
        while base[end - 1] == 0x30 { end -= 1 }
        used = end
    }

    mutating func doubles(_ a: [Double]) {
        byte(0x5B)
        for (i, v) in a.enumerated() { if i > 0 { byte(0x2C) }; double(v) }
        byte(0x5D)
    }

    mutating func floats(_ a: [Float]) {
        byte(0x5B)
        for (i, v) in a.enumerated() { if i > 0 { byte(0x2C) }; float(v) }
        byte(0x5D)
    }

    mutating func ints(_ a: [Int32]) {
        byte(0x5B)
        for (i, v) in a.enumerated() { if i > 0 { byte(0x2C) }; int(v) }
        byte(0x5D)
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
