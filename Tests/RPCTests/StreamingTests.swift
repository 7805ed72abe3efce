import XCTest
@testable import RPC

/// Partial results, progress, cancellation, disconnects and write-queue flow control, over real sockets.
final class StreamingTests: SocketTestCase {
    func testPartialResultsAndProgressThenResult() throws {
        let server = try makeTestServer("stream")
        defer { server.stop() }
        let c = try TestClient(path: server.socketPath)
        try c.initialize()
        try c.send(#"{"jsonrpc":"2.0","id":1,"method":"count","params":{"n":25,"intervalMs":1,"partialResultToken":"p1","workDoneToken":"w1"}}"#)
        var partials: [Int] = []
        var kinds: [String] = []
        while true {
            let m = try c.read()
            if m["id"] == 1 {
                XCTAssertEqual(m["result"]?["count"], 25)
                break
            }
            XCTAssertEqual(m["method"], "$/progress")
            switch m["params"]?["token"] {
            case "p1": partials.append(m["params"]!["value"]!["i"]!.intValue!)
            case "w1": kinds.append(m["params"]!["value"]!["kind"]!.stringValue!)
            default: XCTFail("unexpected token in \(m)")
            }
        }
        XCTAssertEqual(partials, Array(0..<25), "partial results arrive in order, all before the result")
        XCTAssertEqual(kinds.first, "begin")
        XCTAssertEqual(kinds.last, "end")
        XCTAssertEqual(kinds.filter { $0 == "report" }.count, 2)
    }

    func testCancelMidStreamAnswersRequestCancelled() throws {
        let probe = Probe()
        let server = try makeTestServer("cancel", probe: probe)
        defer { server.stop() }
        let c = try TestClient(path: server.socketPath)
        try c.initialize()
        try c.send(#"{"jsonrpc":"2.0","id":"job","method":"count","params":{"n":100000,"intervalMs":1,"partialResultToken":"t"}}"#)
        for _ in 0..<5 { XCTAssertEqual(try c.read()["method"], "$/progress") }
        try c.send(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":"job"}}"#)
        var final: JSONValue = .null
        repeat { final = try c.read() } while final["method"] != nil
        XCTAssertEqual(final["id"], "job")
        XCTAssertEqual(final["error"]?["code"], -32800)
        XCTAssertEqual(probe.cancelReason, .cancelRequest)
        XCTAssertLessThan(probe.sent, 100000)
        // The connection is fine afterwards.
        XCTAssertEqual(try c.call("ping", id: 2)["result"], .null)
    }

    func testClientDisconnectMidStreamCancelsItsWorkPromptly() throws {
        let probe = Probe()
        let server = try makeTestServer("disc", probe: probe)
        defer { server.stop() }
        let c = try TestClient(path: server.socketPath)
        try c.initialize()
        try c.send(#"{"jsonrpc":"2.0","id":1,"method":"count","params":{"n":100000,"intervalMs":1,"partialResultToken":"t"}}"#)
        probe.started.wait()
        for _ in 0..<3 { _ = try c.read() }
        let closedAt = ProcessStats.monotonicSeconds()
        c.closeNow()
        XCTAssertEqual(probe.cancelSeen.wait(timeout: .now() + 2), .success, "the handler never saw the cancellation")
        XCTAssertEqual(probe.cancelReason, .disconnected)
        let lagMS = (probe.cancelSeenAt! - closedAt) * 1000
        XCTAssertLessThan(lagMS, 200, "cancellation took \(lagMS) ms")
        // A disconnect while the request is still only running (not streaming) is seen too: sleep polls the token.
        let d = try TestClient(path: server.socketPath)
        try d.initialize()
        try d.send(#"{"jsonrpc":"2.0","id":2,"method":"sleep","params":{"ms":10000}}"#)
        probe.started.wait()
        d.closeNow()
        XCTAssertEqual(probe.cancelSeen.wait(timeout: .now() + 2), .success)
        XCTAssertEqual(probe.cancelReason, .disconnected)
        // status drops back to zero in-flight requests.
        let s = try TestClient(path: server.socketPath)
        try s.initialize()
        var inflight = -1
        for _ in 0..<50 {
            inflight = try s.call("status", id: 3)["result"]!["inflightRequests"]!.intValue!
            if inflight == 0 { break }
            usleep(10_000)
        }
        XCTAssertEqual(inflight, 0)
    }

    func testSlowReaderPausesTheProducerAndResumes() throws {
        let probe = Probe()
        let server = try makeTestServer("slow", probe: probe) {
            $0.writeHighWatermarkBytes = 64 << 10
            $0.writeLowWatermarkBytes = 16 << 10
            $0.maxPendingWriteBytes = 8 << 20
        }
        defer { server.stop() }
        let c = try TestClient(path: server.socketPath)
        try c.initialize()
        // 2,000 chunks of ~1 KiB, no delay: ~2 MiB, far more than socket buffers plus the high watermark.
        try c.send(#"{"jsonrpc":"2.0","id":1,"method":"count","params":{"n":2000,"intervalMs":0,"chunkBytes":1000,"partialResultToken":"t"}}"#)
        probe.started.wait()
        // Wait (up to 10 s, for slow machines) until the count stops moving for 300 ms.
        var before = -1, now = probe.sent
        for _ in 0..<33 where now != before || now == 0 {
            before = now
            usleep(300_000)
            now = probe.sent
        }
        XCTAssertEqual(now, before, "the producer must be paused while the client does not read")
        XCTAssertLessThan(now, 2000, "paused, not finished")
        XCTAssertGreaterThan(now, 10)
        // Reading drains the queue; the producer resumes and finishes.
        var n = 0
        while true {
            let m = try c.read(timeout: 10)
            if m["id"] == 1 { XCTAssertEqual(m["result"]?["count"], 2000); break }
            XCTAssertEqual(m["params"]?["value"]?["i"]?.intValue, n)
            n += 1
        }
        XCTAssertEqual(n, 2000)
    }

    func testClientFarOverTheWriteCapIsDropped() throws {
        let server = try makeTestServer("cap") {
            $0.writeHighWatermarkBytes = 64 << 10
            $0.writeLowWatermarkBytes = 16 << 10
            $0.maxPendingWriteBytes = 1 << 20
        }
        defer { server.stop() }
        let other = try TestClient(path: server.socketPath)
        try other.initialize()
        let c = try TestClient(path: server.socketPath)
        try c.initialize()
        // Eight 512 KiB replies that the client does not read: 4 MiB pending, past the 1 MiB cap.
        for i in 0..<8 { try c.send(#"{"jsonrpc":"2.0","id":\#(i),"method":"blob","params":{"bytes":524288}}"#) }
        usleep(500_000)
        let (bytes, eof) = c.drainToEOF(timeout: 10)
        XCTAssertTrue(eof, "the server must drop a client that is far over its write cap")
        XCTAssertLessThan(bytes, 8 * 524288, "the client must not have received every reply")
        XCTAssertEqual(try other.call("ping", id: 1)["result"], .null, "other clients keep being served")
    }

    func testShutdownCancelsWorkAndFlushesReplies() throws {
        let probe = Probe()
        let server = try makeTestServer("stop", probe: probe)
        let c = try TestClient(path: server.socketPath)
        try c.initialize()
        try c.send(#"{"jsonrpc":"2.0","id":1,"method":"sleep","params":{"ms":20000}}"#)
        probe.started.wait()
        let t0 = ProcessStats.monotonicSeconds()
        server.stop()
        XCTAssertLessThan(ProcessStats.monotonicSeconds() - t0, 1.5)
        let r = try c.read()
        XCTAssertEqual(r["error"]?["code"], -32800)
        XCTAssertEqual(r["error"]?["data"]?["reason"], "shutdown")
        XCTAssertTrue(c.drainToEOF(timeout: 5).eof)
        XCTAssertFalse(FileManager.default.fileExists(atPath: server.socketPath))
    }

    func testPipelinedWorkerRequestsBeyondTheInflightLimit() throws {
        let server = try makeTestServer("limit") { $0.maxInflightPerConnection = 8; $0.maxQueuedRequests = 4 }
        defer { server.stop() }
        let c = try TestClient(path: server.socketPath)
        try c.initialize()
        var bytes: [UInt8] = []
        for i in 0..<300 {
            Framing.lines.frame(Array(#"{"jsonrpc":"2.0","id":\#(i),"method":"sleep","params":{"ms":1}}"#.utf8), into: &bytes)
        }
        try c.sendRaw(bytes)
        // Never busy: the per-connection limit (8) keeps this client within workers (4) + queue (4).
        var ids = Set<Int>()
        for _ in 0..<300 {
            let r = try c.read(timeout: 20)
            XCTAssertNil(r["error"], "\(r)")
            ids.insert(r["id"]!.intValue!)
        }
        XCTAssertEqual(ids, Set(0..<300))
    }

    func testHangupIsSeenWhileReadingIsPaused() throws {
        let probe = Probe()
        let server = try makeTestServer("pause", probe: probe) { $0.maxInflightPerConnection = 2; $0.readBacklogBytes = 4096 }
        defer { server.stop() }
        let c = try TestClient(path: server.socketPath)
        try c.initialize()
        // Two long requests fill the in-flight limit; ~60 KB more input piles up and reading is paused.
        var bytes: [UInt8] = []
        for i in 0..<1000 {
            Framing.lines.frame(Array(#"{"jsonrpc":"2.0","id":\#(i),"method":"sleep","params":{"ms":5000}}"#.utf8), into: &bytes)
        }
        try c.sendRaw(bytes)
        probe.started.wait()
        probe.started.wait()
        let watcher = try TestClient(path: server.socketPath)
        try watcher.initialize()
        usleep(100_000)
        XCTAssertEqual(try watcher.call("status", id: 1)["result"]?["inflightRequests"], 2,
                       "only the in-flight limit may reach the workers")
        let closedAt = ProcessStats.monotonicSeconds()
        c.closeNow()
        XCTAssertEqual(probe.cancelSeen.wait(timeout: .now() + 2), .success, "hang-up not seen while paused")
        XCTAssertEqual(probe.cancelSeen.wait(timeout: .now() + 2), .success)
        XCTAssertEqual(probe.cancelReason, .disconnected)
        XCTAssertLessThan(ProcessStats.monotonicSeconds() - closedAt, 0.5)
    }

    func testProducerBlockedByAClientThatNeverReadsGivesUpAfterTheStallTimeout() throws {
        let probe = Probe()
        let server = try makeTestServer("stall", probe: probe) {
            $0.writeHighWatermarkBytes = 32 << 10
            $0.writeLowWatermarkBytes = 8 << 10
            $0.writeStallTimeoutSeconds = 0.3
        }
        defer { server.stop() }
        let c = try TestClient(path: server.socketPath)
        try c.initialize()
        try c.send(#"{"jsonrpc":"2.0","id":1,"method":"count","params":{"n":100000,"intervalMs":0,"chunkBytes":1000,"partialResultToken":"t"}}"#)
        XCTAssertEqual(probe.cancelSeen.wait(timeout: .now() + 5), .success, "the blocked producer never gave up")
        XCTAssertEqual(probe.cancelReason, .clientStalled)
        var last: JSONValue = .null
        repeat { last = try c.read() } while last["method"] != nil
        XCTAssertEqual(last["error"]?["code"], -32800)
        XCTAssertEqual(last["error"]?["data"]?["reason"], "clientStalled")
        XCTAssertEqual(try c.call("ping", id: 2)["result"], .null, "the connection itself stays usable")
    }

    func testWriteAccountingReturnsToZero() throws {
        let server = try makeTestServer("acct")
        defer { server.stop() }
        let c = try TestClient(path: server.socketPath)
        try c.initialize()
        // Inline and worker replies in one batch, a stream, and plain replies: every byte counted in must be
        // counted out once written, or the watermarks would drift.
        try c.send(#"[{"jsonrpc":"2.0","id":1,"method":"ping"},{"jsonrpc":"2.0","id":2,"method":"add","params":{"a":1,"b":1}},{"jsonrpc":"2.0","id":3,"method":"blob","params":{"bytes":5000}}]"#)
        XCTAssertEqual(try c.read().arrayValue?.count, 3)
        try c.send(#"{"jsonrpc":"2.0","id":4,"method":"count","params":{"n":30,"intervalMs":0,"chunkBytes":100,"partialResultToken":"t","workDoneToken":"w"}}"#)
        var m: JSONValue
        repeat { m = try c.read() } while m["id"] != 4
        var pending = -1
        for _ in 0..<50 {
            pending = try c.call("status", id: 5)["result"]!["pendingWriteBytes"]!.intValue!
            if pending == 0 { break }
            usleep(10_000)
        }
        XCTAssertEqual(pending, 0)
    }
}
