import ArgumentParser
import Foundation
import Retina
import RPC
#if canImport(Glibc)
import Glibc
#endif

/// `capillary bench-daemon`: latency of the daemon's model methods with warm models, and its memory.
///
/// Starts `capillaryd` (next to this binary) on `--store`; if the store has no "graphnet" model, trains one
/// first through the daemon's own `train` method (a synthetic cohort of `--train-count` eyes). Then, with a
/// synthetic 304 px eye sent as png_base64: `graph` and `stage` p50/p99 for 1 client and for `--clients`
/// concurrent clients; RSS of the daemon with the default models loaded (from its `status`). Prints a
/// markdown table and writes JSON to `--out`.
struct BenchDaemonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-daemon",
        abstract: "Benchmark capillaryd's methods with warm models: graph/stage/attribute p50/p99 for 1 and N clients, explain, RSS.")

    @Option(help: "Model store (trained into if it has no graphnet model).")
    var store: String = "bench-out/daemon-store"

    @Option(help: "Requests per client per method.")
    var requests: Int = 40

    @Option(help: "Concurrent clients of the multi-client runs.")
    var clients: Int = 8

    @Option(name: .customLong("train-count"), help: "Eyes of the synthetic cohort used when the store needs a model.")
    var trainCount: Int = 120

    @Option(name: .customLong("train-epochs"), help: "Epochs of that training.")
    var trainEpochs: Int = 30

    @Option(name: .customLong("vlm-preset"), help: "VLM preset trained when the store has no vlm (speed depends on it, not on training).")
    var vlmPreset: String = "small"

    @Option(name: .customLong("vlm-steps"), help: "Instruction steps of that VLM training (alignment: a quarter of it).")
    var vlmSteps: Int = 60

    @Option(name: .customLong("explain-requests"), help: "explain requests per client.")
    var explainRequests: Int = 4

    @Option(name: .customLong("max-tokens"), help: "maxTokens of each explain request.")
    var maxTokens: Int = 160

    @Option(help: "Path of capillaryd (default: next to this binary).")
    var daemon: String?

    @Option(help: "Where to write the JSON results.")
    var out: String = "bench-out/daemon.json"

    func validate() throws {
        guard requests > 0, clients > 0, trainCount >= 12 else { throw ValidationError("--requests, --clients > 0 and --train-count >= 12") }
    }

    func run() throws {
        let dir = "/tmp/capillary-bench-daemon-\(getpid())"
        mkdir(dir, 0o700)
        defer { rmdir(dir) }
        let socketPath = dir + "/d.sock"
        let storePath = URL(fileURLWithPath: store).standardizedFileURL.path
        try FileManager.default.createDirectory(atPath: storePath, withIntermediateDirectories: true)
        let exe = daemon ?? BenchRPCCommand.siblingDaemon()
        guard FileManager.default.isExecutableFile(atPath: exe) else { throw ValidationError("capillaryd not found at \(exe)") }
        // A model to serve: train one through a first daemon when the store has none (then stop it, so the
        // measured daemon's memory is that of serving, not of a finished training run).
        var trainSeconds: Double? = nil
        var trainRSS: Int? = nil
        if !ModelStoreListing.hasModel(storePath, name: "graphnet") || !ModelStoreListing.hasModel(storePath, name: "vlm") {
            let trainer = try Self.startDaemon(exe, socketPath, storePath)
            defer { DaemonProcess.stop(trainer) }
            let c = try RPCClient(path: socketPath)
            try c.initialize()
            print("store \(storePath) lacks graphnet or vlm: training both (pipeline; \(trainCount) synthetic eyes, GNN \(trainEpochs) epochs, VLM \(vlmPreset) \(vlmSteps) steps) ...")
            let t0 = ProcessStats.monotonicSeconds()
            try c.send(["jsonrpc": "2.0", "id": 2, "method": "train", "params": ["kind": "pipeline", "generate": ["count": .int(Int64(trainCount)), "seed": 1],
                                                        "config": ["epochs": .int(Int64(trainEpochs)), "preset": .string(vlmPreset),
                                                                   "alignmentSteps": .int(Int64(max(1, vlmSteps / 4))),
                                                                   "instructionSteps": .int(Int64(vlmSteps))],
                                                        "workDoneToken": "train"]])
            var r = try c.read(timeout: 30)
            while r["id"] == nil { r = try c.read(timeout: 30) }  // the job's begin may come first
            guard r["result"]?["jobId"] != nil else { throw ValidationError("train failed: \(r)") }
            while true {
                let m = try c.read(timeout: 3600)
                if let v = m["params"]?["value"], v["kind"] == "end" {
                    guard v["state"] == "succeeded" else { throw ValidationError("training failed: \(v)") }
                    print("trained: \(v["result"] ?? .null)")
                    break
                }
            }
            trainSeconds = ProcessStats.monotonicSeconds() - t0
            trainRSS = try c.call("status", id: 3, timeout: 10)["result"]?["rssBytes"]?.intValue
        }
        let p = try Self.startDaemon(exe, socketPath, storePath)
        defer { DaemonProcess.stop(p) }
        let control = try RPCClient(path: socketPath)
        try control.initialize()
        let rssStart = try control.call("status", id: 1, timeout: 10)["result"]?["rssBytes"]?.intValue ?? 0

        let eye = OCTASimulator(config: SimulatorConfig()).generate(seed: 77, severity: 0.5)
        let image: JSONValue = ["png_base64": .string(try ImageIO.pngData(eye.image).base64EncodedString())]
        var rows: [(String, Int, [Double], Double)] = []
        for method in ["graph", "stage", "attribute"] {
            // attribute (integrated gradients, 50 steps) is ~100x the cost of stage: fewer requests.
            let count = method == "attribute" ? min(requests, 10) : requests
            for n in [1, clients] {
                _ = try Self.run(socketPath, method: method, image: image, clients: 1, requests: 2)  // warm-up
                let t0 = ProcessStats.monotonicSeconds()
                let lat = try Self.run(socketPath, method: method, image: image, clients: n, requests: count)
                let wall = ProcessStats.monotonicSeconds() - t0
                rows.append((method, n, lat, Double(lat.count) / wall))
            }
        }
        var explainRows: [JSONValue] = []
        var explainTable = "| explain clients | requests | TTFT p50 ms (client, first delta) | TTFT p50 ms (server) | tokens/s per stream p50 | tokens/s all streams | tokens per answer (mean) |\n|---|---|---|---|---|---|---|\n"
        for n in [1, clients] {
            _ = try Self.explainRun(socketPath, image: image, clients: 1, requests: 1, maxTokens: maxTokens)  // warm-up
            let e = try Self.explainRun(socketPath, image: image, clients: n, requests: explainRequests, maxTokens: maxTokens)
            let ttftClient = BenchRPCCommand.percentile(e.ttftClientMS, 0.5), ttftServer = BenchRPCCommand.percentile(e.ttftServerMS, 0.5)
            let tps = BenchRPCCommand.percentile(e.tokensPerSecond, 0.5)
            let total = Double(e.tokens.reduce(0, +)) / e.wallSeconds
            let mean = Double(e.tokens.reduce(0, +)) / Double(max(1, e.tokens.count))
            explainTable += "| \(n) | \(e.tokens.count) | \(String(format: "%.1f", ttftClient)) | \(String(format: "%.1f", ttftServer)) | \(String(format: "%.0f", tps)) | \(String(format: "%.0f", total)) | \(String(format: "%.0f", mean)) |\n"
            explainRows.append(["clients": .int(Int64(n)), "requests": .int(Int64(e.tokens.count)), "ttftClientP50MS": .double(ttftClient),
                                "ttftServerP50MS": .double(ttftServer), "tokensPerSecondPerStreamP50": .double(tps),
                                "tokensPerSecondAllStreams": .double(total), "meanTokens": .double(mean)])
        }
        let status = try control.call("status", id: 3, timeout: 10)["result"] ?? .null
        let rss = status["rssBytes"]?.intValue ?? 0
        let loaded = status["loadedModels"]?.arrayValue?.compactMap { m -> String? in
            guard let n = m["name"]?.stringValue, let v = m["version"]?.stringValue else { return nil }
            return "\(n)@\(v) (\(m["memoryBytes"]?.intValue ?? 0) bytes)"
        } ?? []

        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let cpu = BenchRPCCommand.cpuModel()
        var table = "| method | clients | requests | p50 ms | p99 ms | req/s |\n|---|---|---|---|---|---|\n"
        var jsonRows: [JSONValue] = []
        for (m, n, lat, rps) in rows {
            let p50 = BenchRPCCommand.percentile(lat, 0.5), p99 = BenchRPCCommand.percentile(lat, 0.99)
            table += "| \(m) | \(n) | \(lat.count) | \(String(format: "%.1f", p50)) | \(String(format: "%.1f", p99)) | \(String(format: "%.1f", rps)) |\n"
            jsonRows.append(["method": .string(m), "clients": .int(Int64(n)), "requests": .int(Int64(lat.count)),
                             "p50MS": .double(p50), "p99MS": .double(p99), "requestsPerSecond": .double(rps)])
        }
        print(table)
        print(explainTable)
        print(String(format: "daemon RSS with default models loaded (%@): %.1f MiB at start, %.1f MiB after the runs (target <= 300 MiB)",
                     loaded.joined(separator: ", "), Double(rssStart) / 1048576, Double(rss) / 1048576))
        if let t = trainSeconds {
            print(String(format: "(trained the model first in another daemon: %.0f s; that daemon's RSS after training: %.1f MiB)",
                         t, Double(trainRSS ?? 0) / 1048576))
        }
        print("image: synthetic 304 px, 3 mm, png_base64; machine: \(cores) cores, \(cpu)")
        var json: JSONObject = ["benchmark": "daemon", "machine": ["cores": .int(Int64(cores)), "cpu": .string(cpu)],
                                "rows": .array(jsonRows), "explain": .array(explainRows), "maxTokens": .int(Int64(maxTokens)), "rssBytes": .int(Int64(rss)), "rssStartBytes": .int(Int64(rssStart)),
                                "loadedModels": .array(loaded.map { .string($0) }), "rssTargetBytes": .int(300 << 20),
                                "meetsRSSTarget": .bool(rss <= 300 << 20)]
        if let t = trainSeconds { json["trainSeconds"] = .double(t) }
        if let r = trainRSS { json["rssAfterTrainingBytes"] = .int(Int64(r)) }
        try FileManager.default.createDirectory(atPath: (out as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(try JSONCodec.encode(.object(json))).write(to: URL(fileURLWithPath: out))
        print("wrote \(out)")
    }

    /// Starts capillaryd on `socketPath` with `store` and waits until it listens.
    static func startDaemon(_ exe: String, _ socketPath: String, _ store: String) throws -> Process {
        try DaemonProcess.start(exe, socketPath: socketPath, arguments: ["--store", store, "--log-level", "warn"], timeoutSeconds: 30)
    }

    /// Streaming explain runs: per request the client-side time to the first delta, the server's TTFT, the
    /// server's decode rate and the token count; plus the wall time of the whole run.
    static func explainRun(_ socketPath: String, image: JSONValue, clients: Int, requests: Int, maxTokens: Int) throws
        -> (ttftClientMS: [Double], ttftServerMS: [Double], tokensPerSecond: [Double], tokens: [Int], wallSeconds: Double) {
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var ttftClient: [Double] = [], ttftServer: [Double] = [], tps: [Double] = [], tokens: [Int] = []
        }
        let results = Results()
        let t0 = ProcessStats.monotonicSeconds()
        try onClientThreads(clients, socketPath: socketPath) { c in
            for i in 0..<requests {
                let start = ProcessStats.monotonicSeconds()
                try c.send(["jsonrpc": "2.0", "id": .int(Int64(i + 1)), "method": "explain",
                            "params": ["image": image, "maxTokens": .int(Int64(maxTokens)), "partialResultToken": "b"]])
                var first: Double?
                while true {
                    let m = try c.read(timeout: 600)
                    if m["method"] != nil {
                        if first == nil { first = (ProcessStats.monotonicSeconds() - start) * 1000 }
                        continue
                    }
                    guard let r = m["result"] else { throw ValidationError("explain failed: \(m)") }
                    results.lock.lock()
                    results.ttftClient.append(first ?? (ProcessStats.monotonicSeconds() - start) * 1000)
                    results.ttftServer.append(r["ttftMS"]?.doubleValue ?? 0)
                    results.tps.append(r["tokensPerSecond"]?.doubleValue ?? 0)
                    results.tokens.append(r["tokens"]?.intValue ?? 0)
                    results.lock.unlock()
                    break
                }
            }
        }
        return (results.ttftClient, results.ttftServer, results.tps, results.tokens, ProcessStats.monotonicSeconds() - t0)
    }

    /// `clients` connections each sending `requests` calls of `method` one after another; latencies in ms.
    static func run(_ socketPath: String, method: String, image: JSONValue, clients: Int, requests: Int) throws -> [Double] {
        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var all: [Double] = []
        }
        let results = Results()
        try onClientThreads(clients, socketPath: socketPath) { c in
            var mine: [Double] = []
            for i in 0..<requests {
                let t0 = ProcessStats.monotonicSeconds()
                let r = try c.call(method, id: i + 1, params: ["image": image], timeout: 120)
                guard r["result"] != nil else { throw ValidationError("\(method) failed: \(r)") }
                mine.append((ProcessStats.monotonicSeconds() - t0) * 1000)
            }
            results.lock.lock(); results.all += mine; results.lock.unlock()
        }
        return results.all
    }

    /// Runs `body` for `clients` clients at once, each on its own thread (concurrentPerform would cap the
    /// clients at the core count) with its own initialized connection to `socketPath`.
    /// - Throws: `ValidationError` with a failure of one of the clients (connection or `body`).
    static func onClientThreads(_ clients: Int, socketPath: String, _ body: @escaping @Sendable (RPCClient) throws -> Void) throws {
        final class Failure: @unchecked Sendable {
            let lock = NSLock()
            var message: String?
        }
        let failure = Failure()
        let group = DispatchGroup()
        for _ in 0..<clients {
            group.enter()
            Thread {
                defer { group.leave() }
                do {
                    let c = try RPCClient(path: socketPath)
                    try c.initialize()
                    try body(c)
                } catch {
                    failure.lock.lock(); failure.message = "\(error)"; failure.lock.unlock()
                }
            }.start()
        }
        group.wait()
        if let m = failure.message { throw ValidationError(m) }
    }
}

/// Whether a store folder has a complete version of a model (config.json and weights.safetensors).
enum ModelStoreListing {
    static func hasModel(_ store: String, name: String) -> Bool {
        let dir = (store as NSString).appendingPathComponent(name)
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []
        return versions.contains { v in
            !v.hasPrefix(".") && FileManager.default.fileExists(atPath: "\(dir)/\(v)/weights.safetensors")
                && FileManager.default.fileExists(atPath: "\(dir)/\(v)/config.json")
        }
    }
}
