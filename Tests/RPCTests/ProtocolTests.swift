import XCTest
@testable import RPC

/// JSON-RPC 2.0 + lifecycle behaviour through a real Unix socket to an in-process server.
final class ProtocolTests: SocketTestCase {
    var server: RPCServer!
    let probe = Probe()

    override func setUpWithError() throws {
        server = try makeTestServer("proto", probe: probe)
    }

    override func tearDown() {
        server.stop()
        XCTAssertFalse(FileManager.default.fileExists(atPath: server.socketPath), "stop() must remove the socket file")
        super.tearDown()
    }

    private func code(_ r: JSONValue) -> Int? { r["error"]?["code"]?.intValue }

    func testLifecycleAndBuiltins() throws {
        let c = try TestClient(path: server.socketPath)
        // Before initialize: -32002 for requests, notifications are dropped silently.
        XCTAssertEqual(code(try c.call("ping", id: 1)), -32002)
        try c.send(#"{"jsonrpc":"2.0","method":"echo"}"#)
        let ini = try c.initialize()
        XCTAssertEqual(ini["id"], 0)
        XCTAssertEqual(ini["result"]?["protocolVersion"], .string(capillaryProtocolVersion))
        XCTAssertEqual(ini["result"]?["serverInfo"]?["name"], "capillaryd")
        let methods = ini["result"]?["capabilities"]?["methods"]?.arrayValue?.compactMap { $0.stringValue } ?? []
        for m in ["add", "count", "echo", "ping", "status", "shutdown", "$/cancelRequest", "initialize"] {
            XCTAssertTrue(methods.contains(m), "capabilities.methods lacks \(m): \(methods)")
        }
        try c.send(#"{"jsonrpc":"2.0","method":"initialized","params":{}}"#)
        XCTAssertEqual(code(try c.call("initialize", id: 2)), -32600, "a second initialize is invalid")
        XCTAssertEqual(try c.call("ping", id: 3)["result"], .null)
        let st = try c.call("status", id: 4)["result"]!
        XCTAssertEqual(st["connections"], 1)
        XCTAssertGreaterThan(st["rssBytes"]!.intValue!, 1_000_000)
        XCTAssertGreaterThanOrEqual(st["uptimeSeconds"]!.doubleValue!, 0)
        XCTAssertEqual(st["workers"], 4)
        XCTAssertNotNil(st["queueDepth"]?.intValue)
        XCTAssertNotNil(st["inflightRequests"]?.intValue)
        // shutdown -> null, then every request is -32600, then exit closes the connection.
        XCTAssertEqual(try c.call("shutdown", id: 5)["result"], .null)
        XCTAssertEqual(code(try c.call("ping", id: 6)), -32600)
        try c.send(#"{"jsonrpc":"2.0","method":"exit"}"#)
        XCTAssertTrue(c.drainToEOF(timeout: 5).eof, "exit must close the connection")
    }

    func testEveryErrorCode() throws {
        let c = try TestClient(path: server.socketPath)
        try c.initialize()
        // -32700: not JSON (id null).
        try c.send("{\"jsonrpc\":\"2.0\",\"id\":1,")
        var r = try c.read()
        XCTAssertEqual(code(r), -32700)
        XCTAssertEqual(r["id"], .null)
        XCTAssertNotNil(r["error"]?["data"]?.stringValue)
        // -32600 in its forms; id null when the id itself is unusable.
        for (bad, idNull) in [(#"{"id":1,"method":"ping"}"#, false), (#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#, false),
                              (#"{"jsonrpc":"2.0","id":1,"method":7}"#, false), (#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#, true),
                              (#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#, true), (#"{"jsonrpc":"2.0","id":1,"method":"ping","params":"x"}"#, false),
                              ("42", true), ("[]", true)] {
            try c.send(bad)
            r = try c.read()
            XCTAssertEqual(code(r), -32600, bad)
            XCTAssertEqual(r["id"], idNull ? .null : .int(1), bad)
            XCTAssertNotNil(r["error"]?["data"], bad)
        }
        // -32601 with the id echoed as a string.
        try c.send(#"{"jsonrpc":"2.0","id":"abc","method":"no/such"}"#)
        r = try c.read()
        XCTAssertEqual(code(r), -32601)
        XCTAssertEqual(r["id"], "abc")
        // -32602 naming the field.
        r = try c.call("add", id: 9, params: ["a": 1, "b": "two"])
        XCTAssertEqual(code(r), -32602)
        XCTAssertTrue(r["error"]!["data"]!.stringValue!.contains("'b'"), "\(r)")
        XCTAssertEqual(try c.call("add", id: 10, params: ["a": 1, "b": 2])["result"], 3)
        // -32603 with the failure in data; a custom RPC error passes through untouched.
        r = try c.call("fail", id: 11)
        XCTAssertEqual(code(r), -32603)
        XCTAssertTrue(r["error"]!["data"]!.stringValue!.contains("boom"))
        r = try c.call("teapot", id: 12)
        XCTAssertEqual(r["error"], ["code": -32042, "message": "I'm a teapot", "data": ["hint": "tea"]])
        // -32800 via $/cancelRequest on a running request.
        try c.send(#"{"jsonrpc":"2.0","id":13,"method":"sleep","params":{"ms":5000}}"#)
        probe.started.wait()
        try c.send(#"{"jsonrpc":"2.0","method":"$/cancelRequest","params":{"id":13}}"#)
        r = try c.read()
        XCTAssertEqual(r["id"], 13)
        XCTAssertEqual(code(r), -32800)
        XCTAssertEqual(r["error"]?["data"]?["reason"], "cancelRequest")
        // -32011: the same id twice while the first is in flight.
        try c.send(#"{"jsonrpc":"2.0","id":14,"method":"sleep","params":{"ms":300}}"#)
        try c.send(#"{"jsonrpc":"2.0","id":14,"method":"sleep","params":{"ms":1}}"#)
        r = try c.read()
        XCTAssertEqual(code(r), RPCError.Code.duplicateRequestID)
        XCTAssertEqual(try c.read()["result"]?["slept"], 300)
    }

    /// -32011 applies to every request, also to methods answered on the loop thread (ping, status), unknown
    /// methods and lifecycle requests: otherwise the client would get two replies with one id.
    func testDuplicateIDIsRefusedWhateverTheMethod() throws {
        let c = try TestClient(path: server.socketPath)
        try c.initialize()
        try c.send(#"{"jsonrpc":"2.0","id":"s","method":"sleep","params":{"ms":400}}"#)
        probe.started.wait()
        for method in ["ping", "status", "nosuch", "initialize", "echo"] {
            try c.send(#"{"jsonrpc":"2.0","id":"s","method":"\#(method)"}"#)
            let r = try c.read()
            XCTAssertEqual(r["id"], "s", method)
            XCTAssertEqual(code(r), RPCError.Code.duplicateRequestID, "\(method): \(r)")
        }
        let last = try c.read()
        XCTAssertEqual(last["id"], "s")
        XCTAssertEqual(last["result"]?["slept"], 400)
        // Once answered, the id may be used again.
        try c.send(#"{"jsonrpc":"2.0","id":"s","method":"ping"}"#)
        XCTAssertEqual(try c.read()["result"], .null)
    }

    func testServerBusyWhenWorkersAndQueueAreFull() throws {
        let p = Probe()
        let busy = try makeTestServer("busy", probe: p) { $0.workerCount = 1; $0.maxQueuedRequests = 1 }
        defer { busy.stop() }
        let c = try TestClient(path: busy.socketPath)
        try c.initialize()
        try c.send(#"{"jsonrpc":"2.0","id":1,"method":"sleep","params":{"ms":400}}"#)
        p.started.wait()
        try c.send(#"{"jsonrpc":"2.0","id":2,"method":"sleep","params":{"ms":1}}"#)  // queued
        try c.send(#"{"jsonrpc":"2.0","id":3,"method":"sleep","params":{"ms":1}}"#)  // over the bound
        let r = try c.read()
        XCTAssertEqual(r["id"], 3)
        XCTAssertEqual(code(r), RPCError.Code.serverBusy)
        XCTAssertTrue((-32099 ... -32000).contains(code(r)!))
        XCTAssertEqual(r["error"]?["data"]?["retryAfterMs"], 50)
        let rest = [try c.read(), try c.read()].map { $0["id"]!.intValue! }.sorted()
        XCTAssertEqual(rest, [1, 2])
    }

    func testBatchesAndNotifications() throws {
        let c = try TestClient(path: server.socketPath)
        try c.initialize()
        // Mixed batch: worker and inline requests, a notification, an invalid member; one array back
        // holding replies for the requests only.
        try c.send(#"[{"jsonrpc":"2.0","id":1,"method":"add","params":{"a":1,"b":2}},{"jsonrpc":"2.0","method":"echo","params":[1]},{"jsonrpc":"2.0","id":2,"method":"ping"},{"foo":"boo"},{"jsonrpc":"2.0","id":"s","method":"sleep","params":{"ms":20}}]"#)
        let r = try c.read()
        let items = try XCTUnwrap(r.arrayValue)
        XCTAssertEqual(items.count, 4)
        var byID: [String: JSONValue] = [:]
        for i in items { byID[i["id"]!.description] = i }
        XCTAssertEqual(byID["1"]?["result"], 3)
        XCTAssertEqual(byID["2"]?["result"], .null)
        XCTAssertEqual(byID["\"s\""]?["result"]?["slept"], 20)
        XCTAssertEqual(byID["null"]?["error"]?["code"], -32600)
        // A batch of notifications only gets no reply at all; neither does a single notification.
        try c.send(#"[{"jsonrpc":"2.0","method":"echo"},{"jsonrpc":"2.0","method":"ping"}]"#)
        try c.send(#"{"jsonrpc":"2.0","method":"add","params":{"a":"bad"}}"#)
        try c.send(#"{"jsonrpc":"2.0","method":"no/such/method"}"#)
        XCTAssertTrue(try c.expectSilence(0.3))
        // Invalid batch members each get their own error.
        try c.send("[1,2]")
        let bad = try XCTUnwrap(try c.read().arrayValue)
        XCTAssertEqual(bad.map { $0["error"]?["code"] }, [-32600, -32600])
    }

    func testPipeliningAThousandRequestsOnOneConnection() throws {
        let c = try TestClient(path: server.socketPath)
        try c.initialize()
        var bytes: [UInt8] = []
        for i in 0..<1000 {
            let m = i % 2 == 0 ? #"{"jsonrpc":"2.0","id":\#(i),"method":"ping"}"#
                : #"{"jsonrpc":"2.0","id":\#(i),"method":"add","params":{"a":\#(i),"b":1}}"#
            Framing.lines.frame(Array(m.utf8), into: &bytes)
        }
        try c.sendRaw(bytes)  // one write: the server sees them back to back
        var seen = Set<Int>()
        for _ in 0..<1000 {
            let r = try c.read(timeout: 10)
            let id = r["id"]!.intValue!
            XCTAssertTrue(seen.insert(id).inserted, "duplicate reply \(id)")
            if id % 2 == 1 { XCTAssertEqual(r["result"]?.intValue, id + 1) } else { XCTAssertEqual(r["result"], .null) }
        }
        XCTAssertEqual(seen, Set(0..<1000))
    }

    func testHundredConcurrentConnections() throws {
        // All 100 are open at once, in both framings, and each has requests in flight at the same time.
        var clients: [TestClient] = []
        for k in 0..<100 {
            let c = try TestClient(path: server.socketPath, framing: k % 2 == 0 ? .lines : .contentLength)
            try c.initialize()
            clients.append(c)
        }
        XCTAssertEqual(try clients[0].call("status", id: 1)["result"]?["connections"], 100)
        for round in 0..<3 {
            for (k, c) in clients.enumerated() {
                try c.send(.object(["jsonrpc": "2.0", "id": .int(Int64(round)), "method": "add",
                                    "params": ["a": .int(Int64(k)), "b": .int(Int64(round))]]))
                try c.send(#"{"jsonrpc":"2.0","id":"p","method":"ping"}"#)
            }
            for (k, c) in clients.enumerated() {
                var got: [String: JSONValue] = [:]
                for _ in 0..<2 {
                    let r = try c.read(timeout: 20)
                    got[r["id"]!.description] = r["result"]
                }
                XCTAssertEqual(got[String(round)], .int(Int64(k + round)), "client \(k) round \(round)")
                XCTAssertEqual(got["\"p\""], .null)
            }
        }
    }

    func testLSPFramingRepliesInLSPFraming() throws {
        let c = try TestClient(path: server.socketPath, framing: .contentLength)
        try c.initialize()
        XCTAssertEqual(try c.call("echo", id: 7, params: ["s": "é\u{0}"])["result"]?["s"], .string("é\u{0}"))
        // Raw check of the wire format.
        try c.send(#"{"jsonrpc":"2.0","id":8,"method":"ping"}"#)
        let body = String(decoding: try c.readBody(), as: UTF8.self)
        XCTAssertEqual(body, #"{"jsonrpc":"2.0","id":8,"result":null}"#)
    }

    func testOversizedMessageClosesOnlyThatConnection() throws {
        let other = try TestClient(path: server.socketPath)
        try other.initialize()
        let c = try TestClient(path: server.socketPath)
        try c.initialize()
        // 20 MiB on one line (no newline yet): refused at 16 MiB with -32700 and the connection closed.
        let chunk = [UInt8](repeating: UInt8(ascii: "a"), count: 1 << 20)
        let writer = Thread {
            _ = try? c.sendRaw(Array(#"{"jsonrpc":"2.0","id":1,"method":"echo","params":["#.utf8))
            for _ in 0..<20 { if (try? c.sendRaw(chunk)) == nil { return } }
        }
        writer.start()
        let r = try c.read(timeout: 20)
        XCTAssertEqual(r["error"]?["code"], -32700)
        XCTAssertTrue(r["error"]!["data"]!.stringValue!.contains("16777216"), "\(r)")
        XCTAssertTrue(c.drainToEOF(timeout: 10).eof)
        // Others keep being served, and new connections work.
        XCTAssertEqual(try other.call("ping", id: 2)["result"], .null)
        let fresh = try TestClient(path: server.socketPath)
        try fresh.initialize()
        XCTAssertEqual(try fresh.call("add", id: 3, params: ["a": 2, "b": 2])["result"], 4)
    }

    func testLSPDeclaredLengthOverTheLimitAndDeepNesting() throws {
        let small = try makeTestServer("lspmax") { $0.maxMessageBytes = 4096; $0.maxJSONDepth = 16 }
        defer { small.stop() }
        // Nesting past the limit: -32700 naming the limit; the connection stays usable.
        let c = try TestClient(path: small.socketPath, framing: .contentLength)
        try c.initialize()
        let deep = #"{"jsonrpc":"2.0","id":1,"method":"echo","params":"# + String(repeating: "[", count: 20)
            + String(repeating: "]", count: 20) + "}"
        try c.send(deep)
        let r = try c.read()
        XCTAssertEqual(r["error"]?["code"], -32700)
        XCTAssertTrue(r["error"]!["data"]!.stringValue!.contains("deeper than 16"), "\(r)")
        XCTAssertEqual(try c.call("ping", id: 2)["result"], .null)
        // A Content-Length over the limit is refused before its body arrives, and the connection closed.
        try c.sendRaw(Array("Content-Length: 5000\r\n\r\n{".utf8))
        let e = try c.read()
        XCTAssertEqual(e["error"]?["code"], -32700)
        XCTAssertTrue(e["error"]!["data"]!.stringValue!.contains("4096"), "\(e)")
        XCTAssertTrue(c.drainToEOF(timeout: 5).eof)
    }
}
