import ArgumentParser
import Foundation
import RPC
#if canImport(Glibc)
import Glibc
#endif

/// `capillary bench-rpc`: measures the daemon's `ping` throughput and latency over its Unix socket.
///
/// Starts `capillaryd` (the binary next to this one; `--in-process` runs the server inside this process
/// instead), then: (1) `--pipelined` pings written back to back on one connection, replies read as they
/// come, giving requests/s; (2) `--clients` connections each doing `--per-client` request/reply round trips
/// at once, giving requests/s and p50/p99 latency. RSS of the server is read from /proc when idle and
/// sampled (maximum) under load. Prints a markdown table and writes JSON to `--out`.
struct BenchRPCCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-rpc",
        abstract: "Benchmark the JSON-RPC daemon: ping req/s pipelined and with concurrent clients, latency, RSS.")

    @Option(help: "Pings sent back to back on one connection.")
    var pipelined: Int = 200_000

    @Option(help: "Concurrent client connections.")
    var clients: Int = 32

    @Option(name: .customLong("per-client"), help: "Round trips per concurrent client.")
    var perClient: Int = 2_000

    @Option(help: "Server worker threads (default: cores).")
    var workers: Int?

    @Option(help: "Path of capillaryd (default: next to this binary).")
    var daemon: String?

    @Flag(name: .customLong("in-process"), help: "Run the server inside this process instead of spawning capillaryd.")
    var inProcess = false

    @Flag(name: .customLong("skip-worker-path"), help: "Skip the extra run through the worker pool (in-process 'echo').")
    var skipWorkerPath = false

    @Option(help: "Where to write the JSON results.")
    var out: String = "bench-out/rpc.json"

    func validate() throws {
        guard pipelined > 0, clients > 0, perClient > 0 else {
            throw ValidationError("--pipelined, --clients and --per-client must be positive")
        }
    }

    func run() throws {
        let dir = "/tmp/capillary-bench-\(getpid())"
        mkdir(dir, 0o700)
        let socketPath = dir + "/rpc.sock"
        defer { rmdir(dir) }

        var server: RPCServer? = nil
        var child: Process? = nil
        let serverPID: pid_t
        if inProcess {
            var config = RPCServerConfiguration()
            config.socketPath = socketPath
            if let workers { config.workerCount = workers }
            let s = RPCServer(configuration: config)
            try s.start()
            server = s
            serverPID = getpid()
        } else {
            let exe = daemon ?? Self.siblingDaemon()
            guard FileManager.default.isExecutableFile(atPath: exe) else {
                throw ValidationError("capillaryd not found at \(exe); build it or pass --daemon PATH or --in-process")
            }
            let p = try DaemonProcess.start(exe, socketPath: socketPath,
                                            arguments: ["--log-level", "warn"] + (workers.map { ["--workers", String($0)] } ?? []),
                                            timeoutSeconds: 10)
            child = p
            serverPID = p.processIdentifier
        }
        defer {
            server?.stop()
            if let p = child { DaemonProcess.stop(p) }
        }

        usleep(300_000)
        let rssIdle = Self.rssBytes(pid: serverPID)
        let sampler = RSSSampler(pid: serverPID)
        sampler.start()

        // Warm-up, then the pipelined run.
        _ = try Self.pipelinedRun(socketPath: socketPath, count: min(10_000, pipelined))
        let pipe = try Self.pipelinedRun(socketPath: socketPath, count: pipelined)
        let conc = try Self.concurrentRun(socketPath: socketPath, clients: clients, perClient: perClient)
        let rssLoad = sampler.stop()
        let worker = skipWorkerPath ? nil : try Self.workerPathRun(dir: dir, pipelined: pipelined, clients: clients,
                                                                       perClient: perClient, workers: workers)

        let p50 = Self.percentile(conc.latenciesUS, 0.50)
        let p99 = Self.percentile(conc.latenciesUS, 0.99)
        let cpu = Self.cpuModel()
        let cores = Int(sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        let mode = inProcess ? "in-process" : "capillaryd"
        print("""
        | metric | value | target |
        |---|---|---|
        | ping pipelined, 1 connection (\(pipelined) requests) | \(Int(pipe)) req/s | >= 50,000 req/s |
        | ping, \(clients) concurrent clients x \(perClient) round trips | \(Int(conc.requestsPerSecond)) req/s | |
        | latency p50, \(clients) clients | \(String(format: "%.3f", p50 / 1000)) ms | |
        | latency p99, \(clients) clients | \(String(format: "%.3f", p99 / 1000)) ms | <= 2 ms |
        | server RSS idle | \(String(format: "%.1f", Double(rssIdle) / 1048576)) MiB | |
        | server RSS under load (max sampled) | \(String(format: "%.1f", Double(rssLoad) / 1048576)) MiB | |
        """)
        if let w = worker {
            print("""
            | worker-pool echo pipelined, 1 connection (in-process) | \(Int(w.pipelined)) req/s | |
            | worker-pool echo, \(clients) clients: req/s, p50, p99 (in-process) | \(Int(w.concurrent.requestsPerSecond)) req/s, \(String(format: "%.3f", Self.percentile(w.concurrent.latenciesUS, 0.5) / 1000)) ms, \(String(format: "%.3f", Self.percentile(w.concurrent.latenciesUS, 0.99) / 1000)) ms | |
            """)
        }
        print("\nserver: \(mode); machine: \(cores) cores, \(cpu)")
        var json: JSONValue = [
            "benchmark": "rpc",
            "server": .string(mode),
            "machine": ["cores": .int(Int64(cores)), "cpu": .string(cpu)],
            "pipelined": ["requests": .int(Int64(pipelined)), "requestsPerSecond": .double(pipe)],
            "concurrent": ["clients": .int(Int64(clients)), "perClient": .int(Int64(perClient)),
                           "requestsPerSecond": .double(conc.requestsPerSecond),
                           "latencyP50MS": .double(p50 / 1000), "latencyP99MS": .double(p99 / 1000)],
            "rssIdleBytes": .int(Int64(rssIdle)),
            "rssLoadBytes": .int(Int64(rssLoad)),
            "targets": ["pipelinedRequestsPerSecond": 50000, "latencyP99MS": 2.0],
            "meetsTargets": .bool(pipe >= 50_000 && p99 / 1000 <= 2.0),
        ]
        if let w = worker, case .object(var o) = json {
            o["workerPathInProcess"] = ["method": "echo", "pipelinedRequestsPerSecond": .double(w.pipelined),
                                        "concurrentRequestsPerSecond": .double(w.concurrent.requestsPerSecond),
                                        "latencyP50MS": .double(Self.percentile(w.concurrent.latenciesUS, 0.5) / 1000),
                                        "latencyP99MS": .double(Self.percentile(w.concurrent.latenciesUS, 0.99) / 1000)]
            json = .object(o)
        }
        let outDir = (out as NSString).deletingLastPathComponent
        if !outDir.isEmpty { try FileManager.default.createDirectory(atPath: outDir, withIntermediateDirectories: true) }
        try Data(JSONCodec.encode(json) + [0x0A]).write(to: URL(fileURLWithPath: out))
        print("wrote \(out)")
    }

    /// The same two runs against an in-process server whose `echo` runs on the worker pool, to show what the
    /// hand-off to a worker and back (mutex queue + uv_async_send) costs compared with inline `ping`.
    static func workerPathRun(dir: String, pipelined: Int, clients: Int, perClient: Int, workers: Int?) throws
        -> (pipelined: Double, concurrent: (requestsPerSecond: Double, latenciesUS: [Double])) {
        var config = RPCServerConfiguration()
        config.socketPath = dir + "/worker.sock"
        if let workers { config.workerCount = workers }
        let server = RPCServer(configuration: config)
        server.register("echo") { ctx in ctx.params }
        try server.start()
        defer { server.stop() }
        _ = try pipelinedRun(socketPath: config.socketPath, count: min(10_000, pipelined), method: "echo")
        let p = try pipelinedRun(socketPath: config.socketPath, count: pipelined, method: "echo")
        let c = try concurrentRun(socketPath: config.socketPath, clients: clients, perClient: perClient, method: "echo")
        return (p, c)
    }

    static func siblingDaemon() -> String {
        let me = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath()
        var dir = me.deletingLastPathComponent()
        if !FileManager.default.fileExists(atPath: dir.appendingPathComponent("capillaryd").path),
           let exe = Bundle.main.executableURL {
            dir = exe.deletingLastPathComponent()
        }
        return dir.appendingPathComponent("capillaryd").path
    }

    /// Writes `count` pings back to back from one thread while this one counts reply lines; returns req/s.
    static func pipelinedRun(socketPath: String, count: Int, method: String = "ping") throws -> Double {
        let c = try RPCClient(path: socketPath)
        _ = try c.initialize()
        var batch: [UInt8] = []
        var lineEnds: [Int] = [0]  // lineEnds[k]: bytes of the first k requests
        let perWrite = 1000
        for i in 0..<perWrite {
            batch += Array(#"{"jsonrpc":"2.0","id":\#(i + 1),"method":"\#(method)"}"#.utf8) + [0x0A]
            lineEnds.append(batch.count)
        }
        let requests = batch, ends = lineEnds
        let t0 = ProcessStats.monotonicSeconds()
        let writer = Thread {
            var sent = 0
            while sent < count {
                let n = min(perWrite, count - sent)
                let slice = n == perWrite ? requests : Array(requests[0..<ends[n]])
                if (try? c.sendRaw(slice)) == nil { return }
                sent += n
            }
        }
        writer.start()
        var lines = 0
        var last: [UInt8] = []
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buf.deallocate() }
        while lines < count {
            let n = recv(c.fd, buf, 1 << 16, 0)
            guard n > 0 else { throw RPCClientError.closed }
            let bytes = UnsafeRawBufferPointer(start: buf, count: n)
            for b in bytes where b == 0x0A { lines += 1 }
            last = Array(bytes.suffix(64))
        }
        let dt = ProcessStats.monotonicSeconds() - t0
        let tail = String(decoding: last, as: UTF8.self)
        guard tail.contains(#""result":null"#) else { throw RPCClientError.protocolViolation("last reply was not a ping result: \(tail)") }
        return Double(count) / dt
    }

    /// `clients` connections doing request/reply round trips at once (each keeps exactly one ping
    /// outstanding), driven by one poll(2) loop so that 32 client threads do not fight the server for the
    /// cores; returns req/s and per-request latencies (us).
    static func concurrentRun(socketPath: String, clients: Int, perClient: Int, method: String = "ping") throws -> (requestsPerSecond: Double, latenciesUS: [Double]) {
        var conns: [RPCClient] = []
        for _ in 0..<clients {
            let c = try RPCClient(path: socketPath)
            _ = try c.initialize()
            conns.append(c)
        }
        let request = Array(#"{"jsonrpc":"2.0","id":1,"method":"\#(method)"}"#.utf8) + [0x0A]
        var sentAt = [Double](repeating: 0, count: clients)
        var done = [Int](repeating: 0, count: clients)
        var fds = conns.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
        var latencies: [Double] = []
        latencies.reserveCapacity(clients * perClient)
        let buf = UnsafeMutableRawPointer.allocate(byteCount: 1 << 16, alignment: 16)
        defer { buf.deallocate() }
        let t0 = ProcessStats.monotonicSeconds()
        for k in 0..<clients {
            sentAt[k] = ProcessStats.monotonicSeconds()
            try conns[k].sendRaw(request)
        }
        var remaining = clients
        while remaining > 0 {
            let rc = poll(&fds, nfds_t(fds.count), 10_000)
            guard rc > 0 else { throw RPCClientError.timeout("ping replies (poll returned \(rc))") }
            for k in 0..<clients where fds[k].revents != 0 {
                let n = recv(fds[k].fd, buf, 1 << 16, 0)
                guard n > 0 else { throw RPCClientError.closed }
                // One request is outstanding per client, so each newline is that request's reply.
                let replies = UnsafeRawBufferPointer(start: buf, count: n).reduce(0) { $0 + ($1 == 0x0A ? 1 : 0) }
                guard replies > 0 else { continue }
                let now = ProcessStats.monotonicSeconds()
                latencies.append((now - sentAt[k]) * 1e6)
                done[k] += 1
                if done[k] < perClient {
                    sentAt[k] = ProcessStats.monotonicSeconds()
                    try conns[k].sendRaw(request)
                } else {
                    fds[k].events = 0
                    fds[k].fd = -1
                    remaining -= 1
                }
            }
        }
        let dt = ProcessStats.monotonicSeconds() - t0
        return (Double(latencies.count) / dt, latencies)
    }

    static func percentile(_ xs: [Double], _ q: Double) -> Double {
        guard !xs.isEmpty else { return .nan }
        let s = xs.sorted()
        return s[min(s.count - 1, Int((Double(s.count - 1) * q).rounded()))]
    }

    static func rssBytes(pid: pid_t) -> Int {
        guard let text = try? String(contentsOfFile: "/proc/\(pid)/statm", encoding: .utf8) else { return 0 }
        let parts = text.split(separator: " ")
        guard parts.count > 1, let pages = Int(parts[1]) else { return 0 }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    static func cpuModel() -> String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            return line.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
        }
        return "unknown CPU"
    }
}

/// Samples a process's RSS every 20 ms on a background thread; `stop()` returns the maximum seen.
final class RSSSampler: @unchecked Sendable {
    private let pid: pid_t
    private let lock = NSLock()
    private var running = true
    private var maxBytes = 0
    private let done = DispatchSemaphore(value: 0)

    init(pid: pid_t) { self.pid = pid }

    func start() {
        Thread { [self] in
            while true {
                let r = BenchRPCCommand.rssBytes(pid: pid)
                lock.lock()
                maxBytes = max(maxBytes, r)
                let go = running
                lock.unlock()
                if !go { break }
                usleep(20_000)
            }
            done.signal()
        }.start()
    }

    func stop() -> Int {
        lock.lock(); running = false; lock.unlock()
        done.wait()
        lock.lock(); defer { lock.unlock() }
        return maxBytes
    }
}
