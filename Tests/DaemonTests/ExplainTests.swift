import Foundation
import XCTest
@testable import Daemon
import Retina
import RPC
import VLM

/// `explain` streaming through a real socket: deltas concatenate to the final text, cancellation and
/// disconnects stop generation, 8 clients at once, and a VLM training job hot-swapping the model while a
/// client explains.
final class ExplainTests: XCTestCase {
    static let tinyVLM: JSONValue = ["preset": "tiny", "alignmentSteps": 10, "instructionSteps": 40, "batchSize": 4,
                                     "maxVocab": 400, "seed": 1]
    /// A store with vlm v1, trained once for the class by the `train` method (tiny preset, few steps).
    static let trained = TrainedStore("vtrained", train: ["kind": "vlm", "generate": ["count": 12, "seed": 2, "sizePX": 96],
                                                          "config": tinyVLM, "workDoneToken": "t"], timeout: 180)
    static let image: JSONValue = ["synthetic": ["seed": 5, "stage": "npdr", "sizePX": 96]]

    var h: DaemonHarness!
    override func tearDown() { h?.stop() }
    override class func tearDown() {
        trained.remove()
        super.tearDown()
    }

    func harnessWithVLM(_ tag: String, workers: Int = 4, slowModel: Bool = false) throws -> DaemonHarness {
        let h = try Self.trained.harness(tag, workers: workers, defaultModel: "vlm") { store in
            if slowModel { try Self.writeUntrainedSmallVLM(store: store) }
        }
        let values = Self.trained.progress
        XCTAssertEqual(values.last?["state"], "succeeded", "\(values.last ?? .null)")
        XCTAssert(values.contains { $0["phase"] == "train-vlm" && $0["loss"]?.doubleValue != nil })
        XCTAssertEqual(values.last?["result"]?["version"], "v1")
        return h
    }

    /// An untrained "small" VLM named "vlm-slow": real files and real generation (random weights, so it
    /// rarely ends early), slow enough per token to cancel mid-stream.
    static func writeUntrainedSmallVLM(store: String) throws {
        let tokenizer = Tokenizer.train(texts: ["Stage: NPDR. The foveal avascular zone is enlarged.",
                                                "Capillary perfusion is reduced in the superior sector."], maxVocab: 300)
        var config = VLMConfig.small
        config.vocabSize = tokenizer.vocabSize
        let model = try VLMModel(config: config, seed: 3)
        try VLMStore.save(model: model, tokenizer: tokenizer, metrics: ["note": "untrained, for cancellation tests"],
                          store: store, name: "vlm-slow")
    }

    /// Sends explain and collects deltas until the response.
    func explain(_ c: RPCClient, id: Int, token: String?, extra: JSONObject = [:], image: JSONValue = ExplainTests.image) throws
        -> (deltas: [String], response: Exchange) {
        var params: JSONObject = ["image": image, "maxTokens": 200]
        if let token { params["partialResultToken"] = .string(token) }
        for (k, v) in extra { params[k] = v }
        let r = try c.exchange("explain", id: id, params: .object(params), timeout: 60)
        let deltas = token.map { t in r.progress(.string(t)).compactMap { $0["text"]?.stringValue } } ?? []
        return (deltas, r)
    }

    func testStreamedDeltasConcatenateToTheFinalTextAndUnstreamedIsTheSame() throws {
        h = try harnessWithVLM("explain")
        let c = try h.client()
        let (deltas, r) = try explain(c, id: 1, token: "p")
        let res = try XCTUnwrap(r.result, "\(r.response)")
        let text = try XCTUnwrap(res["text"]?.stringValue)
        XCTAssertFalse(deltas.isEmpty)
        XCTAssertEqual(deltas.joined(), text)
        XCTAssert(r.progress("p").allSatisfy { $0["kind"] == "delta" })
        XCTAssertGreaterThan(res["tokens"]?.intValue ?? 0, 0)
        XCTAssertGreaterThan(res["ttftMS"]?.doubleValue ?? 0, 0)
        XCTAssertGreaterThanOrEqual(res["tokensPerSecond"]?.doubleValue ?? -1, 0)
        XCTAssertEqual(res["model"]?["version"], "v1")
        // The parsed stage is the one the text's "Stage:" line names (or null when the tiny model wrote none).
        XCTAssertEqual(res["stage"]?.stringValue, StageLine.parse(text)?.rawValue)
        // Without a partial token: no notifications, same (greedy) text.
        let (_, whole) = try explain(c, id: 2, token: nil)
        XCTAssertTrue(whole.notifications.isEmpty)
        XCTAssertEqual(whole.result?["text"]?.stringValue, text)
        // stage with the VLM: its Stage line, no probabilities.
        let s = try c.exchange("stage", id: 3, params: ["model": "vlm", "image": Self.image])
        XCTAssertEqual(s.result?["model"]?["kind"], "vlm", "\(s.response)")
        XCTAssertEqual(s.result?["probabilities"], .null)
        XCTAssertEqual(s.result?["stage"]?.stringValue, StageLine.parse(s.result?["text"]?.stringValue ?? "")?.rawValue)
        // Errors: a GNN-less store for stage's default, bad options.
        let bad = try c.exchange("explain", id: 4, params: ["image": Self.image, "temperature": -1])
        XCTAssertEqual(bad.error?["code"], .int(-32602))
    }

    func testCancelMidStreamStopsWithinATokenOrTwo() throws {
        h = try harnessWithVLM("cancel", slowModel: true)
        let c = try h.client()
        try c.send(["jsonrpc": "2.0", "id": 1, "method": "explain",
                    "params": ["image": Self.image, "model": "vlm-slow", "maxTokens": 230, "partialResultToken": "p"]])
        _ = try c.awaitNotification(timeout: 30) { $0["params"]?["value"]?["kind"] == "delta" }
        try c.send(["jsonrpc": "2.0", "method": "$/cancelRequest", "params": ["id": 1]])
        var deltasAfterCancel = 0
        let r = try c.awaitResponse(id: 1, timeout: 30) { _ in deltasAfterCancel += 1 }
        XCTAssertEqual(r.error?["code"], .int(-32800), "\(r.response)")
        XCTAssertEqual(r.error?["data"]?["reason"], "cancelRequest")
        // What arrives after the cancel is what was generated while the cancel travelled (socket, loop thread,
        // token callback): this untrained model makes ~2,000 tokens/s, so on a loaded 2-core machine tens of
        // tokens can pass in that time. "Stops within one token of seeing the flag" is pinned in VLMTests; here
        // the point is that the daemon's cancel reaches generation and cuts the answer short.
        XCTAssertLessThan(deltasAfterCancel, 100, "generation went on long after the cancel")
        // The same request uncancelled runs much longer (so the cancel really cut it short).
        let full = try c.exchange("explain", id: 2, params: ["image": Self.image, "model": "vlm-slow", "maxTokens": 230], timeout: 60)
        XCTAssertGreaterThan(full.result?["tokens"]?.intValue ?? 0, deltasAfterCancel + 1 + 40, "\(full.response)")
    }

    func testDisconnectMidStreamFreesTheWorker() throws {
        h = try harnessWithVLM("disconnect", workers: 1, slowModel: true)
        // The later graph request carries a ready PNG, made before the stream starts: simulating an eye
        // (here or in the daemon) takes about as long as the whole generation.
        let png: JSONValue = ["png_base64": .string(try syntheticPNG(seed: 1, severity: 0.1, sizePX: 64).base64EncodedString())]
        let a = try h.client()
        try a.send(["jsonrpc": "2.0", "id": 1, "method": "explain",
                    "params": ["image": Self.image, "model": "vlm-slow", "maxTokens": 230, "partialResultToken": "p"]])
        _ = try a.awaitNotification(timeout: 30) { $0["params"]?["value"]?["kind"] == "delta" }
        a.closeNow()
        // The only worker is free again at once: another client's request is answered quickly. Compared
        // with a whole generation of the same length measured right after (the same load applies to both),
        // not with a fixed time, so the check holds on a busy machine too.
        let b = try h.client()
        let t0 = ProcessStats.monotonicSeconds()
        let r = try b.exchange("graph", id: 2, params: ["image": png], timeout: 30)
        let graphWaitMS = (ProcessStats.monotonicSeconds() - t0) * 1000
        XCTAssertNotNil(r.result, "\(r.response)")
        let full = try b.exchange("explain", id: 3, params: ["image": Self.image, "model": "vlm-slow", "maxTokens": 230], timeout: 60)
        let fullMS = try XCTUnwrap(full.result?["timings"]?["generateMS"]?.doubleValue, "\(full.response)")
        let fullTokens = try XCTUnwrap(full.result?["tokens"]?.intValue)
        XCTAssertGreaterThanOrEqual(fullTokens, 100, "the untrained model should run long enough to make the comparison meaningful")
        XCTAssertLessThan(graphWaitMS, fullMS * 0.5,
                          "the graph request waited for the abandoned generation (\(graphWaitMS) ms vs \(fullMS) ms for \(fullTokens) tokens)")
        XCTAssertEqual(try b.call("status", id: 4)["result"]?["busyWorkers"], 0)
    }

    func testEightClientsExplainingAtOnceAllComplete() throws {
        h = try harnessWithVLM("eight")
        let reference = try explain(try h.client(), id: 1, token: nil).response.result?["text"]?.stringValue
        final class Outcomes: @unchecked Sendable {
            let lock = NSLock()
            var items: [(deltas: String, text: String?)] = []
            var errors: [String] = []
        }
        let out = Outcomes()
        let group = DispatchGroup()
        for i in 0..<8 {
            group.enter()
            Thread { [self] in
                defer { group.leave() }
                do {
                    let c = try h.client()
                    let (d, r) = try explain(c, id: 10 + i, token: "p\(i)")
                    out.lock.lock(); out.items.append((d.joined(), r.result?["text"]?.stringValue)); out.lock.unlock()
                } catch {
                    out.lock.lock(); out.errors.append("\(error)"); out.lock.unlock()
                }
            }.start()
        }
        XCTAssertEqual(group.wait(timeout: .now() + 120), .success)
        XCTAssertEqual(out.errors, [])
        XCTAssertEqual(out.items.count, 8)
        for item in out.items {
            XCTAssertEqual(item.deltas, item.text)
            XCTAssertEqual(item.text, reference, "greedy generation on one shared model gives every client the same text")
        }
    }

    func testTrainingSwapsTheVLMWhileAnotherClientExplains() throws {
        h = try harnessWithVLM("vswap")
        let cohort = try XCTUnwrap(Self.trained.cohort)
        let trainer = try h.client(), user = try h.client()
        let r = try trainer.exchange("train", id: 1, params: ["kind": "vlm", "cohort": .string(cohort),
                                                              "config": ["preset": "tiny", "alignmentSteps": 20, "instructionSteps": 200,
                                                                         "batchSize": 4, "maxVocab": 400, "seed": 2]])
        let job = try h.daemon.jobs.job(try XCTUnwrap(r.result?["jobId"]?.stringValue, "\(r.response)"))
        let png: JSONValue = ["png_base64": .string(try syntheticPNG(seed: 5, severity: 0.5, sizePX: 96).base64EncodedString())]
        var versions: [String] = []
        var i = 10
        // Bounded by time, not by a request count (explains per training step depend on the machine).
        let deadline = ProcessStats.monotonicSeconds() + 300
        while job.state == .running || versions.last != "v2" {
            let (d, e) = try explain(user, id: i, token: "p", image: png)
            let res = try XCTUnwrap(e.result, "explain failed during training: \(e.response)")
            XCTAssertEqual(d.joined(), res["text"]?.stringValue)
            versions.append(res["model"]!["version"]!.stringValue!)
            i += 1
            if ProcessStats.monotonicSeconds() > deadline || (job.state != .running && job.state != .succeeded) {
                XCTFail("job: \(job.json)"); break
            }
        }
        XCTAssertEqual(job.state, .succeeded, "\(job.json)")
        XCTAssertEqual(versions.first, "v1", "the job (220 steps) outlasts the first explain")
        XCTAssertGreaterThan(versions.filter { $0 == "v1" }.count, 1, "explains ran during the training")
        XCTAssertEqual(versions.last, "v2")
        if let k = versions.firstIndex(of: "v2") { XCTAssert(versions[k...].allSatisfy { $0 == "v2" }) }
    }
}
