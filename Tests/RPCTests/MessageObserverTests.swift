import Foundation
import XCTest
@testable import RPC

/// Records what `messageObserver` saw (called on the loop thread; read by the test).
final class ObservedMessages: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [(UInt64, MessageDirection, String)] = []

    func add(_ c: UInt64, _ d: MessageDirection, _ b: [UInt8]) {
        lock.lock(); items.append((c, d, String(decoding: b, as: UTF8.self))); lock.unlock()
    }

    func texts(_ d: MessageDirection) -> [String] {
        lock.lock(); defer { lock.unlock() }
        return items.filter { $0.1 == d }.map(\.2)
    }

    var connections: Set<UInt64> { lock.lock(); defer { lock.unlock() }; return Set(items.map(\.0)) }
}

/// `RPCServerConfiguration.messageObserver` (capillaryd's `--trace`, which the protocol conformance test
/// validates against the JSON Schemas) must see exactly the bytes that go over the socket.
final class MessageObserverTests: SocketTestCase {
    func testObserverSeesEveryFrameReceivedAndEveryMessageSent() throws {
        let seen = ObservedMessages()
        let server = try makeTestServer("observe") { $0.messageObserver = { c, d, b in seen.add(c, d, b) } }
        defer { server.stop() }
        let c = try TestClient(path: server.socketPath)
        var read: [String] = []
        func next() throws -> JSONValue {
            let body = try c.readBody()
            read.append(String(decoding: body, as: UTF8.self))
            return try JSONCodec.decode(body)
        }
        try c.send(#"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#)
        _ = try next()
        try c.sendRaw(Array("{not json\n".utf8))
        XCTAssertEqual(try next()["error"]?["code"], -32700)
        try c.send(#"{"jsonrpc":"2.0","id":7,"method":"count","params":{"n":3,"intervalMs":0,"partialResultToken":"p"}}"#)
        var partials = 0
        while true {
            let m = try next()
            if m["method"] == "$/progress" { if m["params"]?["token"] == "p" { partials += 1 }; continue }
            XCTAssertEqual(m["result"]?["count"], 3)
            break
        }
        XCTAssertEqual(partials, 3)
        try c.send(#"[{"jsonrpc":"2.0","id":8,"method":"ping"},{"jsonrpc":"2.0","method":"initialized"}]"#)
        XCTAssertNotNil(try next().arrayValue)
        // Everything read, in order, byte for byte (the last write may still be on its way to the observer: it
        // is called before the write, so it is already there).
        XCTAssertEqual(seen.texts(.sent), read)
        XCTAssertEqual(seen.texts(.received), [
            #"{"jsonrpc":"2.0","id":0,"method":"initialize","params":{}}"#, "{not json",
            #"{"jsonrpc":"2.0","id":7,"method":"count","params":{"n":3,"intervalMs":0,"partialResultToken":"p"}}"#,
            #"[{"jsonrpc":"2.0","id":8,"method":"ping"},{"jsonrpc":"2.0","method":"initialized"}]"#,
        ])
        XCTAssertEqual(seen.connections.count, 1)
    }

    /// The registry (`methodNames`) and initialize's `capabilities.methods` name the same set: clients and
    /// protocol/README.md rely on initialize to announce every method.
    func testInitializeListsExactlyTheRegisteredMethods() throws {
        let server = try makeTestServer("names")
        defer { server.stop() }
        let c = try TestClient(path: server.socketPath)
        let listed = try c.initialize()["result"]?["capabilities"]?["methods"]?.arrayValue?.compactMap(\.stringValue) ?? []
        XCTAssertEqual(listed, server.methodNames)
        XCTAssertTrue(Set(listed).isSuperset(of: RPCServer.builtinMethods))
    }
}
