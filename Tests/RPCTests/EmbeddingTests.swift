import XCTest
import RPC

/// The embedding example of docs/DAEMON.md, run for real (public API only, no @testable).
final class EmbeddingTests: SocketTestCase {
    func testDocumentedEmbeddingExampleWorks() throws {
        var config = RPCServerConfiguration()
        config.socketPath = temporarySocketPath("embed")
        config.workerCount = 4
        config.logger = Logger(level: .error)
        let server = RPCServer(configuration: config)
        struct StageParams: Decodable { var image: String; var steps: Int? }
        server.register("stage", params: StageParams.self) { p, ctx in
            try ctx.reportProgress(.begin(title: "staging \(p.image)"))
            for i in 0..<10 {
                try ctx.checkCancelled()
                try ctx.sendPartialResult(["step": .int(Int64(i))])
            }
            try ctx.reportProgress(.end())
            return ["stage": "NPDR"]
        }
        server.register("models/list", execution: .inline) { _ in [] }
        try server.start()
        defer { server.stop() }

        let c = try RPCClient(path: server.socketPath)
        let ini = try c.initialize()
        let methods = ini["result"]?["capabilities"]?["methods"]?.arrayValue ?? []
        XCTAssertTrue(methods.contains("stage") && methods.contains("models/list"))
        XCTAssertEqual(try c.call("models/list", id: 1)["result"], [])
        try c.send(#"{"jsonrpc":"2.0","id":2,"method":"stage","params":{"image":"a.png","partialResultToken":1,"workDoneToken":"w"}}"#)
        var steps: [Int] = []
        var kinds: [String] = []
        var result: JSONValue? = nil
        while result == nil {
            let m = try c.read()
            if m["id"] == 2 { result = m["result"]; break }
            if m["params"]?["token"] == 1 { steps.append(m["params"]!["value"]!["step"]!.intValue!) }
            if m["params"]?["token"] == "w" { kinds.append(m["params"]!["value"]!["kind"]!.stringValue!) }
        }
        XCTAssertEqual(result, ["stage": "NPDR"])
        XCTAssertEqual(steps, Array(0..<10))
        XCTAssertEqual(kinds, ["begin", "end"])
        // Params that do not decode never reach the handler.
        let bad = try c.call("stage", id: 3, params: ["image": 5])
        XCTAssertEqual(bad["error"]?["code"], -32602)
        XCTAssertEqual(bad["error"]?["data"], #"field 'image': must be a string, got integer 5"#)
    }
}
