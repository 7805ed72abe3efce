import Foundation
import VesselGraph

/// A compact little-endian binary encoding of an `OCTAGraph` without node footprints, for the cohort
/// graph cache. Decoding the JSON form with `JSONDecoder` costs as much as building the graph from the
/// image (~60 ms per 3 mm eye, measured on this machine), which would make the cache pointless; this
/// format is read with straight memory copies and is lossless (floats stored bit-exact).
enum GraphCacheCodec {
    static let magic: [UInt8] = Array("CAPGRC01".utf8)

    static func encode(_ g: OCTAGraph) -> Data {
        var w = Writer()
        w.bytes(magic)
        w.string(g.format); w.int(g.widthPX); w.int(g.heightPX); w.double(g.pixelSizeMM)
        w.doubles(g.gridCentrePX); w.strings(g.sectorNames); w.strings(g.quadrantNames)
        for ns in [g.vessel, g.ica, g.faz] {
            w.int(ns.count); w.strings(ns.featureNames); w.floats(ns.features)
            w.floats(ns.xPX); w.floats(ns.yPX); w.floats(ns.xMM); w.floats(ns.yMM)
            w.int32s(ns.sector); w.int32s(ns.quadrant)
        }
        w.int(g.relations.count)
        for r in g.relations { w.string(r.name); w.int32s(r.source); w.int32s(r.target) }
        let keys = g.biomarkers.keys.sorted()
        w.strings(keys); w.doubles(keys.map { g.biomarkers[$0]! })
        return Data(w.out)
    }

    /// nil if the bytes are not a complete graph of this format (the caller then rebuilds the graph).
    static func decode(_ data: Data) -> OCTAGraph? {
        var r = Reader(bytes: [UInt8](data))
        guard r.bytes(magic.count) == magic else { return nil }
        var g = OCTAGraph.empty()
        guard let format = r.string(), let w = r.int(), let h = r.int(), let p = r.double(), let centre = r.doubles(),
              let sectors = r.strings(), let quadrants = r.strings() else { return nil }
        g.format = format; g.widthPX = w; g.heightPX = h; g.pixelSizeMM = p; g.gridCentrePX = centre
        g.sectorNames = sectors; g.quadrantNames = quadrants
        for t in NodeType.allCases {
            guard let n = r.int(), let names = r.strings(), let f = r.floats(), let xp = r.floats(), let yp = r.floats(),
                  let xm = r.floats(), let ym = r.floats(), let sec = r.int32s(), let quad = r.int32s() else { return nil }
            var ns = NodeSet(featureNames: names)
            ns.count = n; ns.features = f; ns.xPX = xp; ns.yPX = yp; ns.xMM = xm; ns.yMM = ym; ns.sector = sec; ns.quadrant = quad
            switch t {
            case .vessel: g.vessel = ns
            case .ica: g.ica = ns
            case .faz: g.faz = ns
            }
        }
        guard let nr = r.int(), nr >= 0 && nr < 1000 else { return nil }
        var rels: [Relation] = []
        for _ in 0..<nr {
            guard let name = r.string(), let s = r.int32s(), let d = r.int32s() else { return nil }
            rels.append(Relation.make(name: name, source: s, target: d))
        }
        g.relations = rels
        guard let keys = r.strings(), let values = r.doubles(), keys.count == values.count, r.atEnd else { return nil }
        g.biomarkers = Dictionary(uniqueKeysWithValues: zip(keys, values))
        return g
    }

    struct Writer {
        var out: [UInt8] = []
        mutating func bytes(_ b: [UInt8]) { out += b }
        mutating func int(_ v: Int) { withUnsafeBytes(of: Int64(v).littleEndian) { out += $0 } }
        mutating func double(_ v: Double) { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        mutating func string(_ s: String) { let u = Array(s.utf8); int(u.count); out += u }
        mutating func strings(_ a: [String]) { int(a.count); for s in a { string(s) } }
        mutating func doubles(_ a: [Double]) { int(a.count); for v in a { double(v) } }
        mutating func floats(_ a: [Float]) { int(a.count); a.withUnsafeBytes { out += $0 } }
        mutating func int32s(_ a: [Int32]) { int(a.count); a.withUnsafeBytes { out += $0 } }
    }

    struct Reader {
        let bytes: [UInt8]
        var pos = 0
        var atEnd: Bool { pos == bytes.count }
        mutating func bytes(_ n: Int) -> [UInt8]? {
            guard n >= 0, pos + n <= bytes.count else { return nil }
            defer { pos += n }
            return Array(bytes[pos..<(pos + n)])
        }
        mutating func raw<T>(_: T.Type, count: Int) -> [T]? {
            let size = MemoryLayout<T>.stride * count
            guard count >= 0, count < 1 << 28, pos + size <= bytes.count else { return nil }
            let out = [T](unsafeUninitializedCapacity: count) { buf, n in
                bytes.withUnsafeBytes { src in
                    UnsafeMutableRawBufferPointer(buf).copyMemory(from: UnsafeRawBufferPointer(rebasing: src[pos..<(pos + size)]))
                }
                n = count
            }
            pos += size
            return out
        }
        mutating func int() -> Int? { raw(Int64.self, count: 1).map { Int(Int64(littleEndian: $0[0])) } }
        mutating func double() -> Double? { raw(UInt64.self, count: 1).map { Double(bitPattern: UInt64(littleEndian: $0[0])) } }
        mutating func string() -> String? {
            guard let n = int(), let b = bytes(n) else { return nil }
            return String(decoding: b, as: UTF8.self)
        }
        mutating func strings() -> [String]? {
            guard let n = int(), n >= 0, n < 1 << 20 else { return nil }
            var a: [String] = []
            for _ in 0..<n { guard let s = string() else { return nil }; a.append(s) }
            return a
        }
        mutating func doubles() -> [Double]? {
            guard let n = int() else { return nil }
            return raw(UInt64.self, count: n)?.map { Double(bitPattern: UInt64(littleEndian: $0)) }
        }
        mutating func floats() -> [Float]? { guard let n = int() else { return nil }; return raw(Float.self, count: n) }
        mutating func int32s() -> [Int32]? { guard let n = int() else { return nil }; return raw(Int32.self, count: n) }
    }
}
