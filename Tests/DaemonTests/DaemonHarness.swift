import Foundation
import XCTest
@testable import Daemon
import Retina
import RPC
#if canImport(Glibc)
import Glibc
#endif

/// A model kind used only by the tests: it loads `weights.safetensors` into memory (its bytes are its
/// memory) and counts loads, so the registry's generic behaviour (keep-alive, LRU, hot swap) is pinned
/// without the GNN or VLM.
final class BlobModel: WarmModel, @unchecked Sendable {
    let bytes: [UInt8]
    let version: String
    var memoryBytes: Int { bytes.count }
    init(bytes: [UInt8], version: String) { self.bytes = bytes; self.version = version }
}

final class LoadCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var n = 0
    var count: Int { lock.lock(); defer { lock.unlock() }; return n }
    func add() { lock.lock(); n += 1; lock.unlock() }
}

func blobLoader(_ counter: LoadCounter = LoadCounter()) -> ModelLoader {
    ModelLoader(kind: "blob") { stored in
        counter.add()
        guard let d = FileManager.default.contents(atPath: stored.file("weights.safetensors")) else {
            throw DaemonError.modelLoadFailed("no weights")
        }
        return BlobModel(bytes: [UInt8](d), version: stored.version)
    }
}

/// Writes `<store>/<name>/<version>/` with a config of kind "blob", `bytes` of weights and metrics.
func writeBlobModel(store: String, name: String, version: String, bytes: Int, accuracy: Double = 0.5) throws {
    let dir = "\(store)/\(name)/\(version)"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    try Data("{\"kind\":\"blob\"}".utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
    try Data(repeating: 7, count: bytes).write(to: URL(fileURLWithPath: dir + "/weights.safetensors"))
    try Data("{\"accuracy\":\(accuracy)}".utf8).write(to: URL(fileURLWithPath: dir + "/metrics.json"))
}

/// A fresh temporary folder (removed by `DaemonTestCase.tearDown`).
func makeTemporaryDirectory(_ tag: String) -> String {
    let dir = "/tmp/cdt-\(getpid())-\(tag)-\(UInt32.random(in: 0..<UInt32.max))"
    mkdir(dir, 0o700)
    return dir
}

/// A Daemon on a real socket in a temporary folder, with its store at `<tmp>/store`.
final class DaemonHarness {
    let root: String
    let store: String
    let server: RPCServer
    let daemon: Daemon

    init(_ tag: String, loaders: [ModelLoader] = [blobLoader()], workers: Int = 4,
         prepareStore: (String) throws -> Void = { _ in }, tweak: (inout DaemonConfiguration) -> Void = { _ in },
         rpc: (inout RPCServerConfiguration) -> Void = { _ in },
         extra: (RPCServer, Daemon) -> Void = { _, _ in }) throws {
        root = makeTemporaryDirectory(tag)
        store = root + "/store"
        try FileManager.default.createDirectory(atPath: store, withIntermediateDirectories: true)
        try prepareStore(store)
        var dc = DaemonConfiguration(storePath: store)
        dc.defaultModels = []
        dc.keepAliveSweepSeconds = 0.05
        tweak(&dc)
        let daemon = Daemon(configuration: dc, loaders: loaders)
        var config = RPCServerConfiguration()
        config.socketPath = root + "/s.sock"
        config.workerCount = workers
        config.logger = Logger(level: ProcessInfo.processInfo.environment["DAEMON_TEST_LOG"] != nil ? .debug : .error)
        config.statusExtension = { daemon.statusMembers() }
        rpc(&config)
        server = RPCServer(configuration: config)
        daemon.register(on: server)
        extra(server, daemon)
        daemon.removeStaleTemporaryFiles()
        try server.start()
        daemon.start()
        self.daemon = daemon
    }

    func client() throws -> RPCClient {
        let c = try RPCClient(path: server.socketPath)
        try c.initialize()
        return c
    }

    func stop() {
        server.stop()
        daemon.shutdown()
        try? FileManager.default.removeItem(atPath: root)
    }
}

/// A model store trained once per test class by the daemon's own `train` method (a real job through a real
/// socket) and kept in a temporary folder; every test then serves a fresh copy of it, so no test sees the
/// models another one trained. The class's `tearDown` calls `remove()`.
final class TrainedStore: @unchecked Sendable {
    private let tag: String
    private let params: JSONValue
    private let timeout: Double
    /// The kept store folder, once trained.
    private(set) var path: String?
    /// The cohort the training job generated (inside the kept store).
    private(set) var cohort: String?
    /// The training job's `$/progress` values (token "t").
    private(set) var progress: [JSONValue] = []

    /// `params`: the `train` request's params (with `workDoneToken: "t"`); `timeout`: seconds the job may take.
    init(_ tag: String, train params: JSONValue, timeout: Double) {
        self.tag = tag
        self.params = params
        self.timeout = timeout
    }

    /// A harness serving a fresh copy of the store (trained first if needed), with `defaultModel` loaded at
    /// start-up; `prepare` may add to the copy before the daemon starts.
    func harness(_ harnessTag: String, workers: Int = 4, defaultModel: String,
                 prepare: @escaping (String) throws -> Void = { _ in }) throws -> DaemonHarness {
        if path == nil { try train() }
        let source = try XCTUnwrap(path)
        return try DaemonHarness(harnessTag, loaders: DefaultModelLoaders.all, workers: workers, prepareStore: { store in
            try FileManager.default.removeItem(atPath: store)
            try FileManager.default.copyItem(atPath: source, toPath: store)
            try prepare(store)
        }, tweak: { $0.defaultModels = [defaultModel] })
    }

    private func train() throws {
        let t = try DaemonHarness(tag + "0", loaders: DefaultModelLoaders.all)
        defer { t.stop() }
        let c = try t.client()
        let r = try c.exchange("train", id: 1, params: params)
        XCTAssertNotNil(r.result?["jobId"], "\(r.response)")
        progress = try c.jobProgress(after: r, token: "t", timeout: timeout)
        let keep = makeTemporaryDirectory(tag)
        try FileManager.default.copyItem(atPath: t.store, toPath: keep + "/store")
        path = keep + "/store"
        cohort = progress.last?["result"]?["cohort"]?.stringValue.map { $0.replacingOccurrences(of: t.store, with: keep + "/store") }
    }

    /// Deletes the kept store (and its temporary folder).
    func remove() {
        if let p = path { try? FileManager.default.removeItem(atPath: (p as NSString).deletingLastPathComponent) }
        path = nil
    }
}

/// Messages read while waiting for one response.
struct Exchange {
    var response: JSONValue
    var notifications: [JSONValue]
    var result: JSONValue? { response["result"] }
    var error: JSONValue? { response["error"] }
    /// `$/progress` values sent under `token`, in order.
    func progress(_ token: JSONValue) -> [JSONValue] {
        notifications.filter { $0["params"]?["token"] == token }.compactMap { $0["params"]?["value"] }
    }
}

extension RPCClient {
    /// Sends a request and reads until its response, keeping the notifications that came before it.
    func exchange(_ method: String, id: Int, params: JSONValue, timeout: Double = 30) throws -> Exchange {
        try send(["jsonrpc": "2.0", "id": .int(Int64(id)), "method": .string(method), "params": params])
        return try awaitResponse(id: id, timeout: timeout)
    }

    /// Reads until the response with `id`, collecting notifications (and ignoring other responses).
    func awaitResponse(id: Int, timeout: Double = 30, onNotification: (JSONValue) throws -> Void = { _ in }) throws -> Exchange {
        var notes: [JSONValue] = []
        let deadline = ProcessStats.monotonicSeconds() + timeout
        while true {
            let m = try read(timeout: max(0.01, deadline - ProcessStats.monotonicSeconds()))
            if m["method"] != nil {
                notes.append(m)
                try onNotification(m)
            } else if m["id"] == .int(Int64(id)) {
                return Exchange(response: m, notifications: notes)
            }
        }
    }

    /// All `$/progress` values of a job under `token`: those that came with the reply (`exchange`), then
    /// notifications read until the job's `end` value.
    func jobProgress(after exchange: Exchange, token: JSONValue, timeout: Double = 30) throws -> [JSONValue] {
        var values = exchange.progress(token)
        while values.last?["kind"] != "end" {
            values.append(try awaitNotification(timeout: timeout) { $0["params"]?["token"] == token }["params"]!["value"]!)
        }
        return values
    }

    /// Reads notifications until `predicate` holds for one (returned), failing after `timeout` s.
    func awaitNotification(timeout: Double = 30, _ predicate: (JSONValue) -> Bool) throws -> JSONValue {
        let deadline = ProcessStats.monotonicSeconds() + timeout
        while true {
            let m = try read(timeout: max(0.01, deadline - ProcessStats.monotonicSeconds()))
            if m["method"] != nil && predicate(m) { return m }
        }
    }
}

/// A real PNG of a simulated eye (bytes), for png_base64 and path tests.
func syntheticPNG(seed: UInt64, severity: Double, sizePX: Int = 160) throws -> Data {
    let eye = OCTASimulator(config: SimulatorConfig(sizePX: sizePX, fovMM: 3)).generate(seed: seed, severity: severity)
    return try ImageIO.pngData(eye.image)
}
