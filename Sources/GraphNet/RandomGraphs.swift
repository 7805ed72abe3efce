import Common
import VesselGraph

/// Random `OCTAGraph`s of a given shape, for benchmarks (the PyTorch Geometric peer's shapes) and tests.
/// Features are standard-normal-ish positive values; edges are uniform random pairs. Not OCTA-like: only
/// the sizes are meaningful.
public enum RandomGraphs {
    /// A graph with `vessels` vessel nodes, `icas` ICA nodes, `faz` (0 or 1) FAZ nodes and about
    /// `edgesPerNode` edges per node in total, spread over the five relations; `biomarkers` set to
    /// random values under `GraphSchema.globalBiomarkers`.
    public static func graph(vessels: Int, icas: Int, faz: Int = 1, edgesPerNode: Double = 3, seed: UInt64) -> OCTAGraph {
        var rng = SeededGenerator(seed: seed, stream: 0x6A)
        var g = OCTAGraph.empty()
        let counts = [vessels, icas, faz]
        for t in NodeType.allCases {
            let f = GraphSchema.defaultFeatureNames[t.rawValue].count
            g.setNodes(t, features: (0..<(counts[t.rawValue] * f)).map { _ in Float(abs(rng.normal()) * 10) })
        }
        let total = Double(vessels + icas + faz) * edgesPerNode
        // Shares like a real 3 mm graph: most edges vessel-vessel and vessel-ica.
        let shares: [(String, NodeType, NodeType, Double)] = [
            ("vessel-vessel", .vessel, .vessel, 0.5), ("ica-ica", .ica, .ica, 0.15), ("vessel-ica", .vessel, .ica, 0.33),
            ("faz-ica", .faz, .ica, 0.01), ("faz-vessel", .faz, .vessel, 0.01),
        ]
        for (name, s, t, share) in shares {
            var src: [Int32] = [], dst: [Int32] = []
            let ns = counts[s.rawValue], nt = counts[t.rawValue]
            if ns > 0 && nt > 0 {
                for _ in 0..<Int(total * share) {
                    src.append(Int32(rng.int(below: ns))); dst.append(Int32(rng.int(below: nt)))
                }
            }
            g.setEdges(name, source: src, target: dst)
        }
        var bio: [String: Double] = [:]
        for k in GraphSchema.globalBiomarkers { bio[k] = abs(rng.normal()) }
        g.biomarkers = bio
        return g
    }
}
