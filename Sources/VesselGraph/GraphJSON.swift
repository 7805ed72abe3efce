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
        reserve(21)
        var x = Int64(v)
        var u = used
        if x < 0 { base[u] = 0x2D; u += 1; x = -x }
        Self.digitPairs.withUnsafeBufferPointer { Self.writeDigits(x, base, &u, $0) }
        used = u
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
        if abs(v) >= 1e7 { raw(v.description); return }
        reserve(14)
        var u = used
        Self.digitPairs.withUnsafeBufferPointer { Self.writeFixed(v, base, &u, $0) }
        used = u
    }

    /// Writes finite `v` with |v| < 1e7 at `b[u...]` in the form of `float` (at most 14 bytes), advancing `u`.
    @inline(__always)
    private static func writeFixed(_ v: Float, _ b: UnsafeMutablePointer<UInt8>, _ u: inout Int,
                                   _ pairs: UnsafeBufferPointer<UInt8>) {
        // Half away from zero, as `rounded()`, without its libm call: y < 1e11, so the fraction is exact.
        let y = Double(abs(v)) * 10_000
        var scaled = Int64(y)
        if y - Double(scaled) >= 0.5 { scaled += 1 }
        if scaled == 0 { b[u] = 0x30; u += 1; return }
        if v < 0 { b[u] = 0x2D; u += 1 }
        let ip = scaled / 10_000
        writeDigits(ip, b, &u, pairs)
        let fp = Int(scaled - ip * 10_000)
        if fp == 0 { return }
        // Four fixed digits as two pairs, then drop trailing zeros.
        let hi = fp / 100, lo = fp - hi * 100
        b[u] = 0x2E
        b[u + 1] = pairs[2 * hi]; b[u + 2] = pairs[2 * hi + 1]
        b[u + 3] = pairs[2 * lo]; b[u + 4] = pairs[2 * lo + 1]
        if lo == 0 { u += hi % 10 == 0 ? 2 : 3 } else { u += lo % 10 == 0 ? 4 : 5 }
    }

    /// Writes the decimal digits of `x` >= 0 at `b[u...]`, advancing `u`.
    @inline(__always)
    private static func writeDigits(_ x: Int64, _ b: UnsafeMutablePointer<UInt8>, _ u: inout Int,
                                    _ pairs: UnsafeBufferPointer<UInt8>) {
        var x = x
        if x < 10 { b[u] = UInt8(0x30 + x); u += 1; return }
        // Up to six digits (pixel indices of a 400x400 image, integer parts of features) without the digit-
        // counting loop: at most two divisions by a constant.
        if x < 1_000_000 {
            let top = Int(x / 10_000), rest = Int(x) - top * 10_000
            if top > 0 {
                if top < 10 { b[u] = UInt8(0x30 + top); u += 1 } else { b[u] = pairs[2 * top]; b[u + 1] = pairs[2 * top + 1]; u += 2 }
                let r1 = rest / 100, r2 = rest - r1 * 100
                b[u] = pairs[2 * r1]; b[u + 1] = pairs[2 * r1 + 1]; b[u + 2] = pairs[2 * r2]; b[u + 3] = pairs[2 * r2 + 1]
                u += 4
                return
            }
            if rest < 100 { b[u] = pairs[2 * rest]; b[u + 1] = pairs[2 * rest + 1]; u += 2; return }
            let r1 = rest / 100, r2 = rest - r1 * 100
            if r1 < 10 { b[u] = UInt8(0x30 + r1); u += 1 } else { b[u] = pairs[2 * r1]; b[u + 1] = pairs[2 * r1 + 1]; u += 2 }
            b[u] = pairs[2 * r2]; b[u + 1] = pairs[2 * r2 + 1]; u += 2
            return
        }
        var digits = 1, t = x
        while t >= 100 { digits += 2; t /= 100 }
        if t >= 10 { digits += 1 }
        // Two digits per division, from the right.
        var i = u + digits
        while x >= 10 {
            let r = Int(x % 100) * 2
            x /= 100
            b[i - 1] = pairs[r + 1]; b[i - 2] = pairs[r]
            i -= 2
        }
        if x > 0 { b[i - 1] = UInt8(0x30 + x) }
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
        reserve(2 + 15 * a.count)  // ",-9999999.9999" is the longest element
        let b = base
        var u = used
        b[u] = 0x5B; u += 1
        Self.digitPairs.withUnsafeBufferPointer { pairs in
            for k in 0..<a.count {
                if k > 0 { b[u] = 0x2C; u += 1 }
                let v = a[k]
                if v.isFinite { Self.writeFixed(v, b, &u, pairs) } else { b[u] = 0x30; u += 1 }
            }
        }
        b[u] = 0x5D; u += 1
        used = u
    }

    /// Same text as `int` per element, but one capacity check for the whole list (footprints hold every
    /// pixel index of the image, so this loop is most of the JSON time).
    mutating func ints(_ a: [Int32]) {
        reserve(2 + 12 * a.count)  // "-2147483648," is the longest element
        let b = base
        var u = used
        b[u] = 0x5B; u += 1
        Self.digitPairs.withUnsafeBufferPointer { pairs in
            for k in 0..<a.count {
                if k > 0 { b[u] = 0x2C; u += 1 }
                var x = Int64(a[k])
                if x < 0 { b[u] = 0x2D; u += 1; x = -x }
                Self.writeDigits(x, b, &u, pairs)
            }
        }
        b[u] = 0x5D; u += 1
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
