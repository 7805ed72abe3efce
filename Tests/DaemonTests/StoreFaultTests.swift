import Foundation
import XCTest
@testable import Daemon
import RPC
#if canImport(Glibc)
import Glibc
#endif

/// Faults around the model store: a save that the file system refuses, and leftovers of killed writers.
/// (kill -9 of a real capillaryd during training and mid-save: clients/testing/fault_injection.py.)
final class StoreFaultTests: XCTestCase {
    var h: DaemonHarness!
    override func tearDown() { h?.stop() }

    static let tinyConfig: JSONValue = ["epochs": 2, "hidden": 8, "layers": 1, "batchSize": 4, "patience": 2, "seed": 1]

    /// Files of a version folder and their bytes.
    func snapshot(_ dir: String) throws -> [String: Data] {
        var out: [String: Data] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: dir) { out[f] = FileManager.default.contents(atPath: dir + "/" + f) }
        return out
    }

    /// Runs `body` with the process's file-size limit at 0 bytes: every write to a regular file fails with
    /// EFBIG (SIGXFSZ ignored), which DurableFile reports like ENOSPC. A real full tmpfs is exercised by
    /// clients/testing/fault_injection.py (root only).
    func withWritesRefused<T>(_ body: () throws -> T) rethrows -> T {
        var old = rlimit()
        getrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
        let oldHandler = signal(SIGXFSZ, SIG_IGN)
        var lim = old
        lim.rlim_cur = 0
        setrlimit(Int32(RLIMIT_FSIZE.rawValue), &lim)
        defer {
            setrlimit(Int32(RLIMIT_FSIZE.rawValue), &old)
            signal(SIGXFSZ, oldHandler)
        }
        return try body()
    }

    func testASaveRefusedByTheFileSystemFailsTheJobClearlyAndTheOldVersionStaysServed() throws {
        h = try DaemonHarness("fullsave", loaders: DefaultModelLoaders.all, tweak: { $0.defaultModels = ["graphnet"] })
        let c = try h.client()
        let first = try c.exchange("train", id: 1, params: ["kind": "gnn", "generate": ["count": 14, "seed": 3, "sizePX": 96],
                                                            "config": Self.tinyConfig, "workDoneToken": "a"])
        let v1 = try c.jobProgress(after: first, token: "a", timeout: 120)
        XCTAssertEqual(v1.last?["state"], "succeeded", "\(v1.last ?? .null)")
        let cohort = try XCTUnwrap(v1.last?["result"]?["cohort"]?.stringValue)
        let before = try snapshot(h.store + "/graphnet/1")
        XCTAssertEqual(before.keys.sorted(), ["config.json", "metrics.json", "weights.safetensors"])

        // The cohort's graphs are cached now, so the model save is the only file the second job writes.
        let end: JSONValue = try withWritesRefused {
            let second = try c.exchange("train", id: 2, params: ["kind": "gnn", "cohort": .string(cohort), "config": Self.tinyConfig,
                                                                 "workDoneToken": "b"])
            return try XCTUnwrap(c.jobProgress(after: second, token: "b", timeout: 120).last)
        }
        XCTAssertEqual(end["state"], "failed", "\(end)")
        let message = end["message"]?.stringValue ?? ""
        XCTAssert(message.contains("no space left on the device"), message)
        XCTAssert(message.contains(h.store + "/graphnet/.tmp-2-"), "names the file: \(message)")
        let row = try XCTUnwrap(c.exchange("jobs/list", id: 3, params: [:]).result?["jobs"]?.arrayValue?.first { $0["state"] == "failed" })
        XCTAssert(row["error"]?.stringValue?.contains("no space left") ?? false, "\(row)")

        // Nothing half-written, version 1 byte-identical and still served.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: h.store + "/graphnet"), ["1"])
        XCTAssertEqual(try snapshot(h.store + "/graphnet/1"), before)
        let s = try c.exchange("stage", id: 4, params: ["image": ["synthetic": ["seed": 5, "stage": "npdr", "sizePX": 96]]])
        XCTAssertEqual(s.result?["model"]?["version"], "1", "\(s.response)")

        // With space again, the next save succeeds as version 2 and is swapped in.
        let third = try c.exchange("train", id: 5, params: ["kind": "gnn", "cohort": .string(cohort), "config": Self.tinyConfig,
                                                            "workDoneToken": "c"])
        let v3 = try c.jobProgress(after: third, token: "c", timeout: 120)
        XCTAssertEqual(v3.last?["result"]?["version"], "2", "\(v3.last ?? .null)")
        XCTAssertEqual(try c.exchange("stage", id: 6, params: ["image": ["synthetic": ["seed": 5, "stage": "npdr", "sizePX": 96]]])
            .result?["model"]?["version"], "2")
    }

    func testStartUpRemovesLeftoversOfDeadWritersOnly() throws {
        // A pid that surely belongs to no process: a child that has exited and been reaped.
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/true")
        try p.run()
        p.waitUntilExit()
        let dead = p.processIdentifier, live = getpid()
        h = try DaemonHarness("stale", prepareStore: { store in
            try writeBlobModel(store: store, name: "m", version: "1", bytes: 10)
            let fm = FileManager.default
            for d in ["m/.tmp-2-\(dead)-77", "m/.tmp-3-\(live)-78", "m/.tmp-v4-\(dead)", "m/checkpoint"] {
                try fm.createDirectory(atPath: store + "/" + d, withIntermediateDirectories: true)
            }
            try Data([1]).write(to: URL(fileURLWithPath: store + "/m/.tmp-2-\(dead)-77/config.json"))
            for f in ["checkpoint.safetensors", "checkpoint.safetensors.tmp-\(dead)-123", "checkpoint.safetensors.tmp-\(live)-5",
                      "notes.tmp-x"] {
                try Data([2]).write(to: URL(fileURLWithPath: store + "/m/checkpoint/" + f))
            }
        })
        let fm = FileManager.default
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: h.store + "/m").sorted(), [".tmp-3-\(live)-78", "1", "checkpoint"])
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: h.store + "/m/checkpoint").sorted(),
                       ["checkpoint.safetensors", "checkpoint.safetensors.tmp-\(live)-5", "notes.tmp-x"])
        // The model itself is untouched and loadable.
        XCTAssertEqual(try h.client().call("models/load", id: 1, params: ["name": "m"])["result"]?["version"], "1")
    }
}
