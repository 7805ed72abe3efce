import Foundation
import XCTest
@testable import Daemon
import RPC

/// models/list, models/load, models/unload over a real socket; keep-alive, LRU eviction, hot swap, status.
final class ModelRegistryTests: XCTestCase {
    var h: DaemonHarness!
    override func tearDown() { h?.stop() }

    func testListLoadUnloadAndStatus() throws {
        let counter = LoadCounter()
        h = try DaemonHarness("models", loaders: [blobLoader(counter)]) { store in
            try writeBlobModel(store: store, name: "a", version: "1", bytes: 1000, accuracy: 0.5)
            try writeBlobModel(store: store, name: "a", version: "10", bytes: 2000, accuracy: 0.7)
            try writeBlobModel(store: store, name: "a", version: "2", bytes: 1500)
            try writeBlobModel(store: store, name: "b", version: "1", bytes: 300)
            // A half-written version (no weights) and a temp folder are invisible.
            try FileManager.default.createDirectory(atPath: store + "/b/2", withIntermediateDirectories: true)
            try Data("{}".utf8).write(to: URL(fileURLWithPath: store + "/b/2/config.json"))
            try FileManager.default.createDirectory(atPath: store + "/.tmp-xyz/1", withIntermediateDirectories: true)
        }
        let c = try h.client()
        let list = try XCTUnwrap(try c.exchange("models/list", id: 1, params: [:]).result)
        let rows = try XCTUnwrap(list["models"]?.arrayValue)
        XCTAssertEqual(rows.map { "\($0["name"]!.stringValue!)@\($0["version"]!.stringValue!)" }, ["a@1", "a@2", "a@10", "b@1"])
        XCTAssertEqual(rows.filter { $0["latest"] == true }.map { $0["version"]! }, ["10", "1"])
        XCTAssertEqual(rows[2]["metrics"]?["accuracy"], 0.7)
        XCTAssert(rows.allSatisfy { $0["loaded"] == false && $0["kind"] == "blob" })

        // Load the newest a; memory = its weights.
        let load = try XCTUnwrap(try c.exchange("models/load", id: 2, params: ["name": "a"]).result)
        XCTAssertEqual(load["version"], "10")
        XCTAssertEqual(load["memoryBytes"], 2000)
        XCTAssertEqual(load["wasLoaded"], false)
        XCTAssertEqual(counter.count, 1)
        // Loading again does not reload.
        let again = try XCTUnwrap(try c.exchange("models/load", id: 3, params: ["name": "a"]).result)
        XCTAssertEqual(again["wasLoaded"], true)
        XCTAssertEqual(counter.count, 1)
        let listed = try XCTUnwrap(try c.exchange("models/list", id: 4, params: [:]).result?["models"]?.arrayValue)
        let a10 = try XCTUnwrap(listed.first { $0["name"] == "a" && $0["version"] == "10" })
        XCTAssertEqual(a10["loaded"], true)
        XCTAssertEqual(a10["memoryBytes"], 2000)
        XCTAssertNotNil(a10["lastUsed"]?.stringValue)
        // status carries the store and what is loaded.
        let status = try XCTUnwrap(c.call("status", id: 5)["result"])
        XCTAssertEqual(status["store"]?["state"], "ready")
        XCTAssertEqual(status["loadedModelBytes"], 2000)
        XCTAssertEqual(status["loadedModels"]?[0]?["name"], "a")
        // A specific older version swaps in.
        let old = try XCTUnwrap(try c.exchange("models/load", id: 6, params: ["name": "a", "version": "2"]).result)
        XCTAssertEqual(old["replacedVersion"], "10")
        XCTAssertEqual(old["memoryBytes"], 1500)
        // Unload.
        let un = try XCTUnwrap(try c.exchange("models/unload", id: 7, params: ["name": "a"]).result)
        XCTAssertEqual(un["unloaded"], true)
        XCTAssertEqual(un["version"], "2")
        XCTAssertEqual(try c.exchange("models/unload", id: 8, params: ["name": "a"]).result?["unloaded"], false)
        XCTAssertEqual(try c.call("status", id: 9)["result"]?["loadedModelBytes"], 0)
        // Errors: unknown name / version (-32020), unloadable kind (-32021), bad keepAlive (-32602).
        let unknown = try c.exchange("models/load", id: 10, params: ["name": "zzz"])
        XCTAssertEqual(unknown.error?["code"], .int(-32020))
        XCTAssert(unknown.error?["data"]?.stringValue?.contains("it has: a, b") ?? false, "\(unknown.response)")
        let noVersion = try c.exchange("models/load", id: 11, params: ["name": "a", "version": "7"])
        XCTAssertEqual(noVersion.error?["code"], .int(-32020))
        XCTAssert(noVersion.error?["data"]?.stringValue?.contains("versions: 1, 2, 10") ?? false)
        try writeBlobModel(store: h.store, name: "c", version: "1", bytes: 10)
        try Data("{\"kind\":\"quantum\"}".utf8).write(to: URL(fileURLWithPath: h.store + "/c/1/config.json"))
        let kind = try c.exchange("models/load", id: 12, params: ["name": "c"])
        XCTAssertEqual(kind.error?["code"], .int(-32021))
        XCTAssert(kind.error?["data"]?.stringValue?.contains("kind 'quantum'") ?? false)
        let badKeep = try c.exchange("models/load", id: 13, params: ["name": "b", "keepAlive": -5])
        XCTAssertEqual(badKeep.error?["code"], .int(-32602))
    }

    func testKeepAliveZeroUnloadsNowTimeoutUnloadsWhenIdleMinusOneNever() throws {
        h = try DaemonHarness("keepalive") { store in
            try writeBlobModel(store: store, name: "a", version: "1", bytes: 100)
            try writeBlobModel(store: store, name: "b", version: "1", bytes: 100)
        }
        let c = try h.client()
        XCTAssertNotNil(try c.exchange("models/load", id: 1, params: ["name": "a", "keepAlive": 0.3]).result)
        XCTAssertNotNil(try c.exchange("models/load", id: 2, params: ["name": "b", "keepAlive": -1]).result)
        XCTAssertEqual(Set(h.daemon.registry.loaded().keys), ["a", "b"])
        // A lease holds "a" past its keep-alive; it unloads only once idle for 0.3 s.
        let lease = try h.daemon.registry.acquire("a")
        usleep(600_000)
        XCTAssertNotNil(h.daemon.registry.loaded()["a"], "in use: not unloaded")
        lease.release()
        usleep(150_000)
        XCTAssertNotNil(h.daemon.registry.loaded()["a"], "idle for less than its keep-alive")
        usleep(450_000)
        XCTAssertNil(h.daemon.registry.loaded()["a"], "idle past its keep-alive")
        XCTAssertNotNil(h.daemon.registry.loaded()["b"], "keep-alive -1 stays")
        // keepAlive 0 unloads at once.
        let zero = try XCTUnwrap(try c.exchange("models/load", id: 3, params: ["name": "b", "keepAlive": 0]).result)
        XCTAssertEqual(zero["loaded"], false)
        XCTAssertNil(h.daemon.registry.loaded()["b"])
        // Using an unloaded model loads it again (acquire = "unload then use reloads").
        let l2 = try h.daemon.registry.acquire("b")
        XCTAssertEqual(l2.model.memoryBytes, 100)
        l2.release()
    }

    func testLeastRecentlyUsedIsEvictedPastTheMaximum() throws {
        h = try DaemonHarness("lru", prepareStore: { store in
            for n in ["a", "b", "c"] { try writeBlobModel(store: store, name: n, version: "1", bytes: 50) }
        }, tweak: { $0.maxLoadedModels = 2 })
        let c = try h.client()
        _ = try c.exchange("models/load", id: 1, params: ["name": "a"])
        usleep(5000)
        _ = try c.exchange("models/load", id: 2, params: ["name": "b"])
        usleep(5000)
        // Touch a: b is now the least recently used.
        try h.daemon.registry.acquire("a").release()
        usleep(5000)
        let r = try XCTUnwrap(try c.exchange("models/load", id: 3, params: ["name": "c"]).result)
        XCTAssertEqual(r["evicted"], ["b"])
        XCTAssertEqual(Set(h.daemon.registry.loaded().keys), ["a", "c"])
    }

    func testHotSwapKeepsInFlightRequestsOnTheOldVersion() throws {
        let release = DispatchSemaphore(value: 0)
        let holding = DispatchSemaphore(value: 0)
        h = try DaemonHarness("swap", prepareStore: { store in
            try writeBlobModel(store: store, name: "m", version: "1", bytes: 10)
        }, extra: { server, daemon in
            // A test method standing in for inference: checks a model out, waits, reports what it used.
            daemon.add(server, "test/use") { ctx in
                let lease = try daemon.registry.acquire("m")
                defer { lease.release() }
                if ctx.params["hold"] == true {
                    holding.signal()
                    release.wait()
                }
                return ["version": .string((lease.model as! BlobModel).version)]
            }
        })
        let slow = try h.client(), fast = try h.client()
        try slow.send(["jsonrpc": "2.0", "id": 1, "method": "test/use", "params": ["hold": true]])
        XCTAssertEqual(holding.wait(timeout: .now() + 5), .success)
        // A new version appears (as a training job would write it) and is loaded: a swap.
        try writeBlobModel(store: h.store, name: "m", version: "2", bytes: 20)
        let swap = try XCTUnwrap(try fast.exchange("models/load", id: 2, params: ["name": "m", "version": "2"]).result)
        XCTAssertEqual(swap["replacedVersion"], "1")
        XCTAssertEqual(try fast.exchange("test/use", id: 3, params: [:]).result?["version"], "2")
        release.signal()
        XCTAssertEqual(try slow.awaitResponse(id: 1).result?["version"], "1", "the request in flight kept version 1")
    }

    func testEmptyStoreSaysSoInStatusAndErrors() throws {
        h = try DaemonHarness("empty")
        let c = try h.client()
        let s = try XCTUnwrap(c.call("status", id: 1)["result"])
        XCTAssertEqual(s["store"]?["state"], "empty")
        XCTAssert(s["store"]?["message"]?.stringValue?.contains("is empty: run train") ?? false, "\(s)")
        XCTAssertEqual(s["jobs"]?["maxConcurrent"], 1)
        let e = try c.exchange("models/load", id: 2, params: ["name": "gnn"])
        XCTAssertEqual(e.error?["code"], .int(-32020))
        XCTAssert(e.error?["data"]?.stringValue?.contains("is empty") ?? false)
        XCTAssertEqual(try c.exchange("models/list", id: 3, params: [:]).result?["models"], [])
    }

    func testNaturalVersionOrder() {
        let v = ["10", "2", "1", "v2", "v10", "20261129-0130", "20261129-0129"]
        XCTAssertEqual(v.sorted(by: ModelStoreIndex.versionLess), ["1", "2", "10", "20261129-0129", "20261129-0130", "v2", "v10"])
    }
}
