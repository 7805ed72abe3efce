import Foundation
import XCTest
@testable import Daemon
import Retina
import RPC

/// `train` (GNN) as a job and `stage` on the model it wrote, through a real socket, with a tiny cohort.
final class StageTrainTests: XCTestCase {
    static let tinyConfig: JSONValue = ["epochs": 3, "hidden": 8, "layers": 1, "batchSize": 4, "patience": 3, "seed": 1]
    /// A store with graphnet v1, trained once for the whole class by the `train` method itself.
    static let trained = TrainedStore("trained", train: ["kind": "gnn", "generate": ["count": 14, "seed": 3, "sizePX": 128],
                                                         "config": tinyConfig, "workDoneToken": "t"], timeout: 120)

    var h: DaemonHarness!
    override func tearDown() { h?.stop() }
    override class func tearDown() {
        trained.remove()
        super.tearDown()
    }

    /// Trains v1 (once) and starts a harness over a copy of that store.
    func harnessWithTrainedModel(_ tag: String) throws -> DaemonHarness {
        try Self.trained.harness(tag, defaultModel: "graphnet")
    }

    func testTrainReportsPhasesAndEpochsThenStageUsesTheStoredModel() throws {
        h = try harnessWithTrainedModel("stage")
        let v = Self.trained.progress
        XCTAssertEqual(v.first?["kind"], "begin")
        let phases = v.compactMap { $0["phase"]?.stringValue }
        XCTAssertEqual(phases.first, "generate")
        XCTAssert(phases.contains("graphs") && phases.contains("train"), "\(phases)")
        let epochs = v.filter { $0["phase"] == "train" }
        XCTAssert(epochs.allSatisfy { ($0["loss"]?.doubleValue ?? -1).isFinite && $0["valAccuracy"] != nil })
        XCTAssertEqual(v.last?["state"], "succeeded", "\(v.last ?? .null)")
        XCTAssertEqual(v.last?["result"]?["version"], "1")

        let c = try h.client()
        // The default model was loaded at start-up and lists its metrics.
        let rows = try XCTUnwrap(c.exchange("models/list", id: 1, params: [:]).result?["models"]?.arrayValue)
        XCTAssertEqual(rows.count, 1)
        XCTAssertEqual(rows[0]["kind"], "graphnet")
        XCTAssertEqual(rows[0]["loaded"], true)
        XCTAssertGreaterThan(rows[0]["memoryBytes"]?.intValue ?? 0, 1000)
        XCTAssertNotNil(rows[0]["metrics"]?["validation"]?["accuracy"])
        let s = try c.exchange("stage", id: 2, params: ["image": ["synthetic": ["seed": 9, "stage": "pdr", "sizePX": 128]]])
        let r = try XCTUnwrap(s.result, "\(s.response)")
        XCTAssert(["healthy", "npdr", "pdr"].contains(r["stage"]?.stringValue ?? ""))
        let probs = try XCTUnwrap(r["probabilities"]?.objectValue)
        XCTAssertEqual(probs.keys, ["healthy", "npdr", "pdr"])
        XCTAssertEqual(probs.reduce(0.0) { $0 + ($1.value.doubleValue ?? 0) }, 1, accuracy: 1e-6)
        let best = probs.max { ($0.value.doubleValue ?? 0) < ($1.value.doubleValue ?? 0) }!.key
        XCTAssertEqual(r["stage"]?.stringValue, best)
        XCTAssertEqual(r["model"]?["name"], "graphnet")
        XCTAssertEqual(r["model"]?["version"], "1")
        XCTAssertNotNil(r["timings"]?["inferenceMS"]?.doubleValue)
        // Deterministic: the same image gives the same probabilities.
        let again = try c.exchange("stage", id: 3, params: ["image": ["synthetic": ["seed": 9, "stage": "pdr", "sizePX": 128]]])
        XCTAssertEqual(again.result?["probabilities"], r["probabilities"])
        // Unload, then stage loads it again.
        XCTAssertEqual(try c.exchange("models/unload", id: 4, params: ["name": "graphnet"]).result?["unloaded"], true)
        let reloaded = try c.exchange("stage", id: 5, params: ["image": ["synthetic": ["seed": 9, "stage": "pdr", "sizePX": 128]]])
        XCTAssertEqual(reloaded.result?["probabilities"], r["probabilities"])
        XCTAssertNotNil(h.daemon.registry.loaded()["graphnet"])
        // Errors: unknown model, bad image.
        let unknown = try c.exchange("stage", id: 6, params: ["model": "nope", "image": ["synthetic": ["seed": 1, "stage": "npdr"]]])
        XCTAssertEqual(unknown.error?["code"], .int(-32020))
        XCTAssert(unknown.error?["data"]?.stringValue?.contains("it has: graphnet") ?? false, "\(unknown.response)")
        let bad = try c.exchange("stage", id: 7, params: ["image": ["path": "/no/such.png"]])
        XCTAssertEqual(bad.error?["code"], .int(-32602))
    }

    func testAttributeExplainsTheStageWithCompleteScoresAndAHeatmap() throws {
        h = try harnessWithTrainedModel("attribute")
        let c = try h.client()
        let image: JSONValue = ["synthetic": ["seed": 9, "stage": "pdr", "sizePX": 128]]
        let staged = try XCTUnwrap(c.exchange("stage", id: 1, params: ["image": image]).result)
        let reply = try c.exchange("attribute", id: 2, params: ["image": image, "steps": 64, "topK": 4, "heatmap": "base64"])
        let r = try XCTUnwrap(reply.result, "\(reply.response)")
        // Explains the same prediction stage gives, for the predicted class by default.
        XCTAssertEqual(r["stage"], staged["stage"])
        XCTAssertEqual(r["probabilities"], staged["probabilities"])
        XCTAssertEqual(r["target"]?["name"], staged["stage"])
        // Completeness, read from the JSON itself: every feature total (node types and globals) plus every
        // edge sum equals F(x) - F(baseline) up to the reported convergence delta.
        var sum = 0.0
        for t in try XCTUnwrap(r["featureTotals"]?.objectValue).entries {
            for v in try XCTUnwrap(t.value.objectValue).entries { sum += try XCTUnwrap(v.value.doubleValue) }
        }
        for e in try XCTUnwrap(r["edges"]?.objectValue).entries { sum += try XCTUnwrap(e.value["sum"]?.doubleValue) }
        let gap = try XCTUnwrap(r["targetLogit"]?.doubleValue) - XCTUnwrap(r["baselineLogit"]?.doubleValue)
        let delta = try XCTUnwrap(r["convergenceDelta"]?.doubleValue)
        XCTAssertEqual(sum - gap, delta, accuracy: 1e-3 * max(1, abs(gap)))
        XCTAssertLessThan(try XCTUnwrap(r["relativeDelta"]?.doubleValue), 0.1)
        // The top structures are ranked by |score| and say where they are.
        let top = try XCTUnwrap(r["top"]?.arrayValue)
        XCTAssertEqual(top.count, 4)
        let magnitudes = top.map { abs($0["score"]?.doubleValue ?? .nan) }
        XCTAssertEqual(magnitudes, magnitudes.sorted(by: >))
        XCTAssert(top.allSatisfy { ["vessel", "ica", "faz"].contains($0["type"]?.stringValue ?? "") && $0["sector"]?.stringValue != nil
            && ($0["topFeatures"]?.arrayValue?.count ?? 0) > 0 }, "\(top)")
        // The heatmap is a PNG wider than the image (the legend panel sits beside it).
        let png = try XCTUnwrap(Data(base64Encoded: XCTUnwrap(r["heatmap"]?["pngBase64"]?.stringValue)))
        let picture = try ImageIO.decode(png, name: "heatmap")
        XCTAssertGreaterThan(picture.width, 128)
        // Any class on request; a path heatmap is written by the daemon.
        let out = makeTemporaryDirectory("heat") + "/heat.png"
        let healthy = try XCTUnwrap(c.exchange("attribute", id: 3, params: ["image": image, "target": "healthy", "steps": 8,
                                                                            "heatmap": ["path": .string(out)]]).result)
        XCTAssertEqual(healthy["target"]?["index"], 0)
        XCTAssertEqual(healthy["heatmap"]?["path"]?.stringValue, out)
        XCTAssert(FileManager.default.fileExists(atPath: out))
        // Errors name the field.
        let bad: [(JSONObject, String)] = [(["target": "severe"], "target"), (["steps": 1], "steps"),
                                           (["quadrature": "simpson"], "quadrature"),
                                           (["heatmap": ["path": "rel.png"]], "absolute"), (["model": "nope"], "nope")]
        for (i, (params, field)) in bad.enumerated() {
            var p: JSONObject = ["image": image]
            for (k, v) in params { p[k] = v }
            let e = try c.exchange("attribute", id: 10 + i, params: .object(p))
            XCTAssertNotNil(e.error, "\(field): \(e.response)")
            XCTAssert(e.error?["data"]?.stringValue?.contains(field) ?? false, "\(field): \(e.response)")
        }
    }

    func testStageOnAnEmptyStoreSaysRunTrain() throws {
        h = try DaemonHarness("nostage", loaders: DefaultModelLoaders.all)
        let c = try h.client()
        let r = try c.exchange("stage", id: 1, params: ["image": ["synthetic": ["seed": 1, "stage": "npdr", "sizePX": 96]]])
        XCTAssertEqual(r.error?["code"], .int(-32020))
        XCTAssert(r.error?["data"]?.stringValue?.contains("is empty: run train") ?? false, "\(r.response)")
        let cnn = try c.exchange("train", id: 2, params: ["kind": "cnn", "generate": ["count": 10, "seed": 1]])
        XCTAssertEqual(cnn.error?["code"], .int(-32602))
        XCTAssert(cnn.error?["data"]?.stringValue?.contains("'gnn', 'vlm' or 'pipeline'") ?? false)
        let named = try c.exchange("train", id: 4, params: ["kind": "pipeline", "name": "x", "generate": ["count": 10, "seed": 1]])
        XCTAssertEqual(named.error?["code"], .int(-32602))
        let preset = try c.exchange("train", id: 5, params: ["kind": "vlm", "generate": ["count": 10, "seed": 1], "config": ["preset": "huge"]])
        XCTAssertEqual(preset.error?["code"], .int(-32602))
        let neither = try c.exchange("train", id: 3, params: ["kind": "gnn"])
        XCTAssertEqual(neither.error?["code"], .int(-32602))
        XCTAssert(neither.error?["data"]?.stringValue?.contains("exactly one of 'cohort'") ?? false)
    }

    func testRetrainingSwapsTheModelWhileAnotherClientStages() throws {
        h = try harnessWithTrainedModel("swap")
        let cohort = try XCTUnwrap(Self.trained.cohort)
        let trainer = try h.client(), stager = try h.client()
        let r = try trainer.exchange("train", id: 1, params: ["kind": "gnn", "cohort": .string(cohort),
                                                              "config": ["epochs": 120, "patience": 120, "hidden": 12, "layers": 1, "batchSize": 2, "seed": 2],
                                                              "workDoneToken": "t"])
        let jobID = try XCTUnwrap(r.result?["jobId"]?.stringValue, "\(r.response)")
        let job = try h.daemon.jobs.job(jobID)
        // A ready PNG keeps each stage request short, so many run while the job trains.
        let png: JSONValue = ["png_base64": .string(try syntheticPNG(seed: 4, severity: 0.5, sizePX: 96).base64EncodedString())]
        var versions: [String] = []
        var i = 10
        // Bounded by time, not by a request count: how many stage requests fit into the training depends on
        // how fast staging is relative to training on the machine running the test.
        let deadline = ProcessStats.monotonicSeconds() + 300
        while job.state == .running || versions.last != "2" {
            let s = try stager.exchange("stage", id: i, params: ["image": png])
            let res = try XCTUnwrap(s.result, "stage failed during training: \(s.response)")
            versions.append(res["model"]!["version"]!.stringValue!)
            i += 1
            if ProcessStats.monotonicSeconds() > deadline { XCTFail("job did not finish within 300 s"); break }
        }
        XCTAssertEqual(job.state, .succeeded, "\(job.json)")
        XCTAssertEqual(versions.first, "1", "stages before the swap used v1")
        XCTAssertGreaterThan(versions.filter { $0 == "1" }.count, 1, "stages ran during the training")
        XCTAssertEqual(versions.last, "2", "stages after the swap use v2")
        // Versions only move forward: never back to 1 after 2 appeared.
        if let firstTwo = versions.firstIndex(of: "2") { XCTAssert(versions[firstTwo...].allSatisfy { $0 == "2" }) }
        XCTAssertEqual(job.json["result"]?["replacedVersion"], "1")
    }

    func testCancellingTrainingStoresNothing() throws {
        h = try harnessWithTrainedModel("cancel")
        let cohort = try XCTUnwrap(Self.trained.cohort)
        let c = try h.client()
        let r = try c.exchange("train", id: 1, params: ["kind": "gnn", "cohort": .string(cohort),
                                                        "config": ["epochs": 500, "hidden": 8, "layers": 1, "batchSize": 2, "patience": 500],
                                                        "workDoneToken": "t"])
        let jobID = try XCTUnwrap(r.result?["jobId"]?.stringValue, "\(r.response)")
        _ = try c.awaitNotification(timeout: 60) { $0["params"]?["value"]?["phase"] == "train" }
        XCTAssertNotNil(try c.exchange("jobs/cancel", id: 2, params: ["id": .string(jobID)]).result)
        let end = try c.awaitNotification(timeout: 30) { $0["params"]?["value"]?["kind"] == "end" }
        XCTAssertEqual(end["params"]?["value"]?["state"], "cancelled")
        XCTAssertEqual(ModelStoreIndex.scan(h.store).map(\.version), ["1"], "no version written")
        XCTAssertEqual(h.daemon.registry.loaded()["graphnet"]?.stored.version, "1", "the served model is untouched")
    }
}
