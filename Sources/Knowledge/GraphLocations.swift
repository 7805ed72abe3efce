import VesselGraph

/// Where nodes lie: sector names, distances, the most curved segments, the attribution focus.
extension FindingExtractor {
    /// Segments shorter than this are left out when locating tortuosity: a few-pixel segment's curveness is
    /// dominated by the pixel staircase, not by the vessel's course.
    static let minimumTortuousSegmentUM: Float = 60
    /// How many of the most curved segments locate a tortuosity finding.
    static let tortuousSegmentCount = 10

    static func sectorNames(_ g: OCTAGraph) -> [String] { g.sectorNames.isEmpty ? ETDRSGrid.sectorNames : g.sectorNames }

    /// Sector code of node `i` of `ns`.
    static func sectorCode(_ ns: NodeSet, _ i: Int, _ g: OCTAGraph) -> String {
        let names = sectorNames(g), s = i < ns.sector.count ? Int(ns.sector[i]) : 0
        return s >= 0 && s < names.count ? names[s] : "X"
    }

    /// Quadrant name of node `i` of `ns`, nil when unknown.
    static func quadrant(_ ns: NodeSet, _ i: Int, _ g: OCTAGraph) -> String? {
        let names = g.quadrantNames.isEmpty ? ETDRSGrid.quadrantNames : g.quadrantNames
        guard i < ns.quadrant.count else { return nil }
        let q = Int(ns.quadrant[i])
        return q >= 0 && q < names.count ? names[q] : nil
    }

    /// Nodes of `ns` in sector `code`.
    static func nodes(in code: String, of ns: NodeSet, graph g: OCTAGraph) -> [Int] {
        (0..<ns.count).filter { sectorCode(ns, $0, g) == code }
    }

    /// Mean `distance_to_faz_centre_um` of `nodes`, in mm (nil for no nodes or no such feature).
    static func meanDistanceMM(_ nodes: [Int], _ ns: NodeSet) -> Double? {
        let d = nodes.compactMap { ns.feature("distance_to_faz_centre_um", node: $0) }
        guard !d.isEmpty else { return nil }
        return Double(d.reduce(0, +)) / Double(d.count) / 1000
    }

    /// The most curved vessel segments of at least `minimumTortuousSegmentUM`, most curved first.
    static func mostCurved(_ g: OCTAGraph) -> [Int] {
        let v = g.vessel
        let long = (0..<v.count).filter { (v.feature("length_um", node: $0) ?? 0) >= minimumTortuousSegmentUM }
        let curve = { (i: Int) in v.feature("curveness", node: i) ?? 1 }
        return Array(long.sorted { curve($0) != curve($1) ? curve($0) > curve($1) : $0 < $1 }.prefix(tortuousSegmentCount))
    }

    /// The sector most of `nodes` lie in (ties: the first in ETDRS order).
    static func modeSector(_ nodes: [Int], _ ns: NodeSet, _ g: OCTAGraph) -> String {
        var count: [String: Int] = [:]
        for i in nodes { count[sectorCode(ns, i, g), default: 0] += 1 }
        var best = sectorCode(ns, nodes[0], g), bestCount = 0
        for code in ETDRSGrid.sectorNames where (count[code] ?? 0) > bestCount { best = code; bestCount = count[code]! }
        return best
    }

    /// The sector with the largest positive node attribution and its share of all positive node attribution.
    static func focus(_ e: AttributionEvidence, graph g: OCTAGraph) -> (sector: String, share: Double)? {
        var bySector: [String: Double] = [:]
        var total = 0.0
        for (type, ns) in [("vessel", g.vessel), ("ica", g.ica), ("faz", g.faz)] {
            guard let s = e.nodeScores[type], s.count == ns.count else { continue }
            for i in s.indices where s[i] > 0 {
                bySector[sectorCode(ns, i, g), default: 0] += Double(s[i]); total += Double(s[i])
            }
        }
        guard total > 0 else { return nil }
        let best = ETDRSGrid.sectorNames.filter { bySector[$0] != nil }.max { bySector[$0]! < bySector[$1]! }
        return best.map { ($0, bySector[$0]! / total) }
    }
}
