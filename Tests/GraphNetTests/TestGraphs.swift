import Common
import Foundation
@testable import GraphNet
import Tensors
import Retina
import VesselGraph

/// Small hand-made graphs and models for the tests.
enum TestGraphs {
    /// A tiny random graph (positive features, every relation non-empty unless `emptyRelations` names it).
    static func tiny(seed: UInt64, vessels: Int = 7, icas: Int = 4, faz: Int = 1, emptyRelations: Set<String> = []) -> OCTAGraph {
        var g = RandomGraphs.graph(vessels: vessels, icas: icas, faz: faz, edgesPerNode: 2.5, seed: seed)
        for r in GraphSchema.relations where emptyRelations.contains(r.name) { g.setEdges(r.name, source: [], target: []) }
        // Make sure the small relations have at least one edge (the random shares round down to 0).
        if faz > 0 {
            if !emptyRelations.contains("faz-ica") && icas > 0 { g.setEdges("faz-ica", source: [0, 0], target: [0, Int32(icas - 1)]) }
            if !emptyRelations.contains("faz-vessel") && vessels > 0 { g.setEdges("faz-vessel", source: [0], target: [1]) }
        }
        return g
    }

    /// A staging model over graphs like `graphs` (normaliser fitted on them).
    static func model(_ graphs: [OCTAGraph], hidden: Int = 6, layers: Int = 2, activation: Activation = .gelu,
                      readout: GraphReadout = GraphNetConfig().readout, dropout: Float = 0, global: Bool = true,
                      seed: UInt64 = 3) throws -> StagingModel {
        var a = GraphNetConfig()
        a.hidden = hidden; a.layers = layers; a.activation = activation; a.readout = readout; a.dropout = dropout
        a.useGlobalFeatures = global
        let n = try FeatureNormalizer(fitting: graphs)
        let c = StagingModelConfig(architecture: a, normalizer: n, healthyReferences: BiomarkerReference.fit(healthyGraphs: graphs),
                                   builder: VesselGraphConfig(), labelScheme: .stage, training: nil, dataFingerprint: "test",
                                   trainCount: graphs.count, valCount: 0)
        return try StagingModel(storedConfig: c, seed: seed)
    }

    static func labeled(_ g: OCTAGraph, id: String, label: Int, split: Retina.DatasetSplit? = nil) -> LabeledGraph {
        LabeledGraph(id: id, imagePath: "/nonexistent/\(id).png", graph: g, label: label, split: split, contentHash: id)
    }

    /// A fresh temporary folder.
    static func tempFolder() -> String {
        let p = NSTemporaryDirectory() + "graphnet-test-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: p, withIntermediateDirectories: true)
        return p
    }
}
