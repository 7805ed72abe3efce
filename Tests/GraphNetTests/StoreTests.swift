import Foundation
@testable import GraphNet
import Tensors
import XCTest

final class StoreTests: XCTestCase {
    struct Extra: Codable { var note: String }

    func testSaveLoadGivesIdenticalLogitsAndIncreasingVersions() throws {
        let graphs = (0..<3).map { TestGraphs.tiny(seed: 400 + UInt64($0)) }
        let m = try TestGraphs.model(graphs)
        let store = ModelStore(root: TestGraphs.tempFolder())
        XCTAssertNil(store.latest(name: "graphnet"))
        let v1 = try store.save(m, name: "graphnet", metrics: Extra(note: "first"))
        let v2 = try store.save(m, name: "graphnet", metrics: Extra(note: "second"))
        XCTAssertEqual([v1.version, v2.version], [1, 2])
        XCTAssertEqual(store.versions(name: "graphnet"), [1, 2])
        XCTAssertEqual(store.latest(name: "graphnet"), 2)
        XCTAssertEqual(store.names(), ["graphnet"])
        for f in ["config.json", "weights.safetensors", "metrics.json"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: v2.path + "/" + f), f)
        }
        XCTAssertFalse(try FileManager.default.contentsOfDirectory(atPath: store.folder(name: "graphnet")).contains { $0.hasPrefix(".tmp") })
        let (loaded, info) = try store.load(StagingModel.self, name: "graphnet")
        XCTAssertEqual(info.version, 2)
        XCTAssertEqual(loaded.storedConfig, m.storedConfig)
        XCTAssertEqual(try loaded.predict(graphs), try m.predict(graphs))
        let metrics = try JSONDecoder().decode(Extra.self, from: try store.metricsData(name: "graphnet", version: 1))
        XCTAssertEqual(metrics.note, "first")
    }

    /// Models stored before the readout option have no `readout` keys in config.json: they load as mean + max
    /// and give the logits they gave before; the smooth architecture round-trips with its readout.
    func testConfigWithoutReadoutLoadsAsMeanMaxAndSmoothConfigRoundTrips() throws {
        let graphs = (0..<3).map { TestGraphs.tiny(seed: 410 + UInt64($0)) }
        let m = try TestGraphs.model(graphs, activation: .leakyRelu, readout: .meanMax)
        let store = ModelStore(root: TestGraphs.tempFolder())
        let v = try store.save(m, name: "graphnet", metrics: Extra(note: "old"))
        // Rewrite config.json as an old model's: the architecture without the two readout keys.
        let path = v.path + "/config.json"
        var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        var config = try XCTUnwrap(json["config"] as? [String: Any])
        var arch = try XCTUnwrap(config["architecture"] as? [String: Any])
        XCTAssertEqual(arch["readout"] as? String, "mean-max")
        arch.removeValue(forKey: "readout"); arch.removeValue(forKey: "readoutSharpness")
        config["architecture"] = arch
        json["config"] = config
        try JSONSerialization.data(withJSONObject: json).write(to: URL(fileURLWithPath: path))
        let (old, _) = try store.load(StagingModel.self, name: "graphnet")
        XCTAssertEqual(old.storedConfig.architecture.readout, .meanMax)
        XCTAssertEqual(old.storedConfig.architecture.activation, .leakyRelu)
        XCTAssertEqual(try old.predict(graphs), try m.predict(graphs))

        var smooth = GraphNetConfig.smooth
        smooth.hidden = 6; smooth.dropout = 0; smooth.readoutSharpness = 2
        let data = try JSONEncoder().encode(smooth)
        XCTAssertEqual(try JSONDecoder().decode(GraphNetConfig.self, from: data), smooth)
        var bad = smooth
        bad.readoutSharpness = 0
        XCTAssertThrowsError(try bad.validate())
        // A smooth model's readout is not max pooling: its logits differ from the same weights with mean + max.
        let sm = try TestGraphs.model(graphs, activation: .silu, readout: .meanMax)
        var c = sm.storedConfig
        c.architecture.readout = .meanLogMeanExp
        let lme = try StagingModel(storedConfig: c, seed: 3)
        let a = try sm.predict(graphs), b = try lme.predict(graphs)
        XCTAssertTrue(b.allSatisfy { $0.logits.allSatisfy(\.isFinite) })
        XCTAssertNotEqual(a.map(\.logits), b.map(\.logits))
    }

    func testCorruptAndMismatchedStoresFailWithTypedErrors() throws {
        let graphs = [TestGraphs.tiny(seed: 500)]
        let m = try TestGraphs.model(graphs)
        let store = ModelStore(root: TestGraphs.tempFolder())
        XCTAssertThrowsError(try store.load(StagingModel.self, name: "nothing")) { e in
            guard case GraphNetError.modelNotFound = e else { return XCTFail("\(e)") }
        }
        let info = try store.save(m, name: "g", metrics: Extra(note: ""))
        let weights = info.path + "/weights.safetensors", config = info.path + "/config.json"

        // Truncated weights.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: weights))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: weights))
        XCTAssertThrowsError(try store.load(StagingModel.self, name: "g")) { e in
            guard case GraphNetError.badWeights(let p, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(p, weights)
        }
        // Weights of another architecture (hidden 8 instead of 6): a shape mismatch naming the tensor.
        let other = try TestGraphs.model(graphs, hidden: 8)
        try SafeTensors.write(other.network.stateDict(), to: weights)
        XCTAssertThrowsError(try store.load(StagingModel.self, name: "g")) { e in
            guard case GraphNetError.badWeights(_, let reason) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(reason.contains("encoders.vessel.weight") || reason.contains("shape"), reason)
        }
        // A missing tensor.
        try SafeTensors.write(Array(m.network.stateDict().dropLast()), to: weights)
        XCTAssertThrowsError(try store.load(StagingModel.self, name: "g")) { e in
            guard case GraphNetError.badWeights = e else { return XCTFail("\(e)") }
        }
        // Another model kind.
        let text = try String(contentsOfFile: config, encoding: .utf8).replacingOccurrences(of: "\"graphnet\"", with: "\"vlm\"")
        try text.write(toFile: config, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try store.load(StagingModel.self, name: "g")) { e in
            guard case GraphNetError.wrongModelKind(_, let expected, let found) = e else { return XCTFail("\(e)") }
            XCTAssertEqual([expected, found], ["graphnet", "vlm"])
        }
        // Not JSON.
        try "{ nope".write(toFile: config, atomically: true, encoding: .utf8)
        XCTAssertThrowsError(try store.load(StagingModel.self, name: "g")) { e in
            guard case GraphNetError.badConfig = e else { return XCTFail("\(e)") }
        }
        XCTAssertThrowsError(try store.save(m, name: "../evil", metrics: Extra(note: "")))
    }

    func testConfigHoldsNormalisationNamesAndHealthyReferences() throws {
        let graphs = (0..<5).map { TestGraphs.tiny(seed: 600 + UInt64($0)) }
        let m = try TestGraphs.model(graphs)
        let c = m.storedConfig
        XCTAssertEqual(c.normalizer.nodes.map(\.names), GraphSchema.defaultFeatureNames)
        XCTAssertEqual(c.architecture.classNames, ["healthy", "npdr", "pdr"])
        let pd = c.healthyReferences.first { $0.name == "perfusion_density" }!
        let values = graphs.map { $0.biomarkers["perfusion_density"]! }.sorted()
        XCTAssertEqual(pd.p50, values[2], accuracy: 1e-12)
        XCTAssertEqual(pd.p5, values[0] + 0.2 * (values[1] - values[0]), accuracy: 1e-12)  // numpy linear: 0.05 * 4 = 0.2
        XCTAssertLessThanOrEqual(pd.p5, pd.p95)
    }
}
