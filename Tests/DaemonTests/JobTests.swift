import Foundation
import XCTest
@testable import Daemon
import Retina
import RPC

/// `dataset/generate` as a job: progress begin/report/end, the cohort on disk, cancellation, limits.
final class JobTests: XCTestCase {
    var h: DaemonHarness!
    override func setUpWithError() throws { h = try DaemonHarness("jobs") }
    override func tearDown() { h?.stop() }

    func testDatasetGenerateReportsProgressAndWritesACohort() throws {
        let c = try h.client()
        let out = h.root + "/cohort"
        let r = try c.exchange("dataset/generate", id: 1, params: ["count": 4, "seed": 5, "out": .string(out), "sizePX": 96,
                                                                   "workDoneToken": "w1"])
        let jobID = try XCTUnwrap(r.result?["jobId"]?.stringValue, "\(r.response)")
        // Progress continues after the reply: read until the end.
        let values = try c.jobProgress(after: r, token: "w1")
        XCTAssertEqual(values.first?["kind"], "begin")
        XCTAssertEqual(values.first?["jobId"], .string(jobID))
        let reports = values.filter { $0["kind"] == "report" }
        XCTAssertFalse(reports.isEmpty)
        XCTAssertEqual(reports.last?["done"], 4)
        XCTAssertEqual(reports.last?["percentage"], 100)
        XCTAssertEqual(values.last?["state"], "succeeded")
        // The cohort is complete and readable.
        let manifest = try CohortManifest.load(path: out + "/manifest.jsonl")
        XCTAssertEqual(manifest.entries.count, 4)
        for e in manifest.entries {
            let img = try ImageIO.read(path: manifest.resolve(e.path))
            XCTAssertEqual(img.width, 96)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + ".partial-\(jobID)"))
        // Same plan as the CLI generator: stages and seeds agree.
        let plan = CohortGenerator.plan(count: 4, seed: 5, mix: .standard)
        XCTAssertEqual(manifest.entries.map(\.seed), plan.map(\.seed))
        // jobs/list shows it succeeded.
        let list = try c.exchange("jobs/list", id: 2, params: [:])
        let row = list.result?["jobs"]?.arrayValue?.first { $0["id"] == .string(jobID) }
        XCTAssertEqual(row?["state"], "succeeded")
        XCTAssertEqual(row?["result"]?["count"], 4)
    }

    func testCancelStopsTheJobLeavesNothingAndFreesTheSlot() throws {
        let c = try h.client()
        let out = h.root + "/big"
        let r = try c.exchange("dataset/generate", id: 1, params: ["count": 500, "seed": 1, "out": .string(out), "sizePX": 96,
                                                                   "workDoneToken": "w"])
        let jobID = try XCTUnwrap(r.result?["jobId"]?.stringValue, "\(r.response)")
        // Wait for a first report, then cancel.
        _ = try c.awaitNotification { $0["params"]?["value"]?["kind"] == "report" }
        // The job limit (1) refuses a second job with -32010 and a retry hint.
        let busy = try c.exchange("dataset/generate", id: 2, params: ["count": 1, "seed": 1, "out": .string(h.root + "/other")])
        XCTAssertEqual(busy.error?["code"], .int(-32010), "\(busy.response)")
        XCTAssertNotNil(busy.error?["data"]?["retryAfterMs"]?.intValue)
        XCTAssert(busy.error?["data"]?["reason"]?.stringValue?.contains(jobID) ?? false)
        let cancel = try c.exchange("jobs/cancel", id: 3, params: ["id": .string(jobID)])
        XCTAssertEqual(cancel.result?["id"], .string(jobID))
        let end = try c.awaitNotification(timeout: 10) { $0["params"]?["value"]?["kind"] == "end" }
        XCTAssertEqual(end["params"]?["value"]?["state"], "cancelled")
        let job = try h.daemon.jobs.job(jobID)
        XCTAssertEqual(job.state, .cancelled)
        XCTAssertLessThan(job.json["done"]?.intValue ?? 500, 500)
        XCTAssertFalse(FileManager.default.fileExists(atPath: out), "a cancelled cohort leaves nothing at out")
        XCTAssertFalse(FileManager.default.fileExists(atPath: out + ".partial-\(jobID)"))
        // The slot is free again.
        let next = try c.exchange("dataset/generate", id: 4, params: ["count": 1, "seed": 2, "out": .string(h.root + "/small"), "sizePX": 64])
        XCTAssertNotNil(next.result?["jobId"], "\(next.response)")
        // Unknown ids and bad params are -32602.
        let unknown = try c.exchange("jobs/cancel", id: 5, params: ["id": "job-999"])
        XCTAssertEqual(unknown.error?["code"], .int(-32602))
        let rel = try c.exchange("dataset/generate", id: 6, params: ["count": 1, "seed": 1, "out": "rel/dir"])
        XCTAssertEqual(rel.error?["code"], .int(-32602))
        XCTAssert(rel.error?["data"]?.stringValue?.contains("absolute") ?? false)
    }

    func testInferenceIsAnsweredWhileAJobRuns() throws {
        let c = try h.client()
        let r = try c.exchange("dataset/generate", id: 1, params: ["count": 200, "seed": 1, "out": .string(h.root + "/bg"),
                                                                   "sizePX": 128])
        let jobID = try XCTUnwrap(r.result?["jobId"]?.stringValue)
        // A graph request while generating: answered (the job has its own thread, not a worker).
        let g = try c.exchange("graph", id: 2, params: ["image": ["synthetic": ["seed": 2, "severity": 0.2, "sizePX": 96]]])
        XCTAssertNotNil(g.result, "\(g.response)")
        XCTAssertEqual(try h.daemon.jobs.job(jobID).state, .running)
        try h.daemon.jobs.cancel(jobID)
        XCTAssert(try h.daemon.jobs.job(jobID).wait(timeout: 10))
    }

    func testAFullWorkerQueueAnswersBusyWithARetryHint() throws {
        h.stop()
        h = try DaemonHarness("busy", workers: 1, rpc: { $0.maxQueuedRequests = 0 })
        let a = try h.client(), b = try h.client()
        // One worker, no queue: while a large synthetic graph is computed, the next request is refused.
        try a.send(["jsonrpc": "2.0", "id": 1, "method": "graph",
                    "params": ["image": ["synthetic": ["seed": 1, "severity": 0.5, "sizePX": 1024]]]])
        usleep(100_000)
        let busy = try b.exchange("graph", id: 2, params: ["image": ["synthetic": ["seed": 2, "severity": 0.1, "sizePX": 64]]])
        XCTAssertEqual(busy.error?["code"], .int(-32010), "\(busy.response)")
        XCTAssertNotNil(busy.error?["data"]?["retryAfterMs"]?.intValue)
        XCTAssertNotNil(try a.awaitResponse(id: 1, timeout: 60).result)
        // Once the worker is free the same request goes through.
        XCTAssertNotNil(try b.exchange("graph", id: 3, params: ["image": ["synthetic": ["seed": 2, "severity": 0.1, "sizePX": 64]]]).result)
    }
}
