import Foundation
import GraphNet
@testable import Knowledge
import VesselGraph

/// Hand-made graphs, references and predictions with known deviations.
enum Fixtures {
    /// Healthy ranges: 20 values evenly spread over [lo, hi] per biomarker (so p5/p95 sit just inside).
    static let ranges: [String: (Double, Double)] = [
        "faz_area_mm2": (0.24, 0.34), "faz_circularity": (0.78, 0.90), "perfusion_density": (0.31, 0.35),
        "perfusion_density_IS": (0.32, 0.36), "perfusion_density_IN": (0.32, 0.36), "perfusion_density_II": (0.32, 0.36),
        "perfusion_density_IT": (0.32, 0.36), "perfusion_density_C": (0.15, 0.20),
        "skeleton_length_density_mm_per_mm2": (10, 12), "vessel_curveness_mean": (1.20, 1.25),
        "vessel_radius_mean_um": (10, 11.5), "fractal_dimension": (1.55, 1.60), "ica_area_mean_um2": (5000, 22000),
    ]

    static func references() -> [BiomarkerReference] {
        ranges.keys.sorted().map { k in
            let (lo, hi) = ranges[k]!
            return BiomarkerReference(name: k, values: (0..<20).map { lo + (hi - lo) * Double($0) / 19 })
        }
    }

    static func median(_ k: String) -> Double { (ranges[k]!.0 + ranges[k]!.1) / 2 }

    /// A graph with every biomarker at its healthy median, one FAZ, 12 vessels and 8 ICAs spread over the
    /// inner sectors.
    static func healthyGraph() -> OCTAGraph {
        var g = OCTAGraph.empty()
        g.sectorNames = ETDRSGrid.sectorNames
        g.quadrantNames = ETDRSGrid.quadrantNames
        let vf = GraphSchema.defaultFeatureNames[0], inf = GraphSchema.defaultFeatureNames[1], ff = GraphSchema.defaultFeatureNames[2]
        var v: [Float] = []
        for i in 0..<12 {
            var row = [Float](repeating: 1, count: vf.count)
            row[vf.firstIndex(of: "length_um")!] = 100
            row[vf.firstIndex(of: "curveness")!] = 1.05 + Float(i) * 0.02
            row[vf.firstIndex(of: "distance_to_faz_centre_um")!] = 600 + Float(i) * 50
            v += row
        }
        g.setNodes(.vessel, features: v)
        g.vessel.sector = (0..<12).map { Int32([1, 2, 3, 4][$0 % 4]) }
        g.vessel.quadrant = (0..<12).map { Int32($0 % 4) }
        var a: [Float] = []
        for i in 0..<8 {
            var row = [Float](repeating: 1, count: inf.count)
            row[inf.firstIndex(of: "area_um2")!] = 20000 + Float(i) * 1000
            row[inf.firstIndex(of: "distance_to_faz_centre_um")!] = 800
            a += row
        }
        g.setNodes(.ica, features: a)
        g.ica.sector = (0..<8).map { Int32([1, 2, 3, 4][$0 % 4]) }
        g.ica.quadrant = (0..<8).map { Int32($0 % 4) }
        g.setNodes(.faz, features: [Float](repeating: 0.5, count: ff.count))
        var b: [String: Double] = ["faz_found": 1]
        for k in ranges.keys { b[k] = median(k) }
        g.biomarkers = b
        return g
    }

    /// The healthy graph with an enlarged irregular FAZ, reduced perfusion (globally and in II and IT, IT
    /// worst), sparse and tortuous vessels (the most curved segments in IT), dilated calibre, reduced
    /// fractal dimension.
    static func diseasedGraph() -> OCTAGraph {
        var g = healthyGraph()
        g.biomarkers["faz_area_mm2"] = 0.55
        g.biomarkers["faz_circularity"] = 0.60
        g.biomarkers["perfusion_density"] = 0.27
        g.biomarkers["perfusion_density_IT"] = 0.25
        g.biomarkers["perfusion_density_II"] = 0.29
        g.biomarkers["skeleton_length_density_mm_per_mm2"] = 8
        g.biomarkers["vessel_curveness_mean"] = 1.40
        g.biomarkers["vessel_radius_mean_um"] = 13.5
        g.biomarkers["fractal_dimension"] = 1.45
        // The most curved segments (i = 8...11) lie in IT (code 4) and II (code 3): make 9...11 IT.
        for i in 9..<12 { g.vessel.sector[i] = 4 }
        return g
    }

    static func prediction(_ className: String, _ p: [Double]) -> StagePrediction {
        let names = ["healthy", "npdr", "pdr"]
        let json = """
        {"class_index":\(names.firstIndex(of: className)!),"class_name":"\(className)","probabilities":\(p),"logits":\(p.map { log($0) })}
        """
        return try! JSONDecoder().decode(StagePrediction.self, from: Data(json.utf8))
    }

    static let classNames = ["healthy", "npdr", "pdr"]

    /// Evidence for `target` on `g`: FAZ area features dominate (positive), vessel curveness weighs less,
    /// perfusion features push the other way; positive node scores sit in IT ICAs.
    static func evidence(_ g: OCTAGraph, target: String = "npdr", delta: Float = 0.001) -> AttributionEvidence {
        var ica = [Float](repeating: 0.001, count: g.ica.count)
        for i in 0..<g.ica.count where g.ica.sector[i] == 4 { ica[i] = 0.3 }
        return AttributionEvidence(
            targetClassName: target,
            nodeScores: ["vessel": [Float](repeating: 0.002, count: g.vessel.count), "ica": ica, "faz": [0.2]],
            featureTotals: ["faz": ["area_mm2": 0.5, "circularity": 0.1], "vessel": ["curveness": 0.2],
                            "ica": ["area_um2": -0.15], "global": ["fractal_dimension": 0.05]],
            convergenceDelta: delta)
    }
}
