import ArgumentParser
import Daemon
import Foundation
import RPC

/// `capillaryd`: the Capillary daemon. Serves JSON-RPC 2.0 (NDJSON or LSP framing) on a Unix socket until
/// SIGINT/SIGTERM, then exits 0 after removing the socket. Exits 1 if it cannot start (e.g. another
/// daemon already listens on the socket). The methods come from the Daemon module (docs/DAEMON.md).
@main
struct Capillaryd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capillaryd",
        abstract: "Capillary daemon: JSON-RPC 2.0 over a Unix socket (see docs/DAEMON.md).")

    @Option(help: "Unix socket path (default: $XDG_RUNTIME_DIR/capillary.sock or /tmp/capillary-$UID/capillary.sock).")
    var socket: String?

    @Option(help: "Model store folder (<store>/<name>/<version>/...; default $CAPILLARY_STORE or ~/.capillary/store). May be empty.")
    var store: String?

    @Option(name: .customLong("log-level"), help: "debug, info, warn or error (debug logs one line per request).")
    var logLevel: String = "info"

    @Option(help: "Worker threads for handlers (default: number of cores).")
    var workers: Int?

    @Option(name: .customLong("max-message-bytes"), help: "Largest accepted message in bytes (default 16777216).")
    var maxMessageBytes: Int?

    @Option(name: .customLong("max-jobs"), help: "Background jobs (dataset/generate, train) running at once (default 1).")
    var maxJobs: Int = 1

    @Option(name: .customLong("max-loaded-models"), help: "Models kept in memory at once; more evicts the least recently used (default 3).")
    var maxLoadedModels: Int = 3

    @Option(name: .customLong("keep-alive"), help: "Seconds an idle non-default model stays loaded; -1 forever (default 300).")
    var keepAlive: Double = 300

    @Option(name: .customLong("max-image-side"), help: "Largest accepted image side, px (default 4096).")
    var maxImageSide: Int = 4096

    @Option(help: "Append every message received and sent to FILE, one JSON line each ({connection, direction, text}); for protocol conformance tests.")
    var trace: String?

    @Flag(name: .customLong("list-methods"), help: "Print the method names this build registers (built-in and Daemon), one per line, and exit.")
    var listMethods = false

    func validate() throws {
        if maxJobs < 1 { throw ValidationError("--max-jobs must be >= 1") }
        if maxLoadedModels < 1 { throw ValidationError("--max-loaded-models must be >= 1") }
        if !(keepAlive == -1 || keepAlive >= 0) { throw ValidationError("--keep-alive must be seconds >= 0 or -1") }
        if maxImageSide < 16 { throw ValidationError("--max-image-side must be >= 16") }
    }

    func run() throws {
        guard let level = Logger.Level(name: logLevel) else {
            throw ValidationError("--log-level must be debug, info, warn or error, got '\(logLevel)'")
        }
        let logger = Logger(level: level)
        let storePath = store ?? ProcessInfo.processInfo.environment["CAPILLARY_STORE"]
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".capillary/store")
        var daemonConfig = DaemonConfiguration(storePath: (storePath as NSString).standardizingPath)
        daemonConfig.maxConcurrentJobs = maxJobs
        daemonConfig.maxLoadedModels = maxLoadedModels
        daemonConfig.defaultKeepAliveSeconds = keepAlive
        daemonConfig.maxImageSidePX = maxImageSide
        let daemon = Daemon(configuration: daemonConfig, loaders: DefaultModelLoaders.all, logger: logger)

        var config = RPCServerConfiguration()
        config.logger = logger
        config.handleSignals = true
        if let socket { config.socketPath = socket }
        if let workers { config.workerCount = workers }
        if let maxMessageBytes { config.maxMessageBytes = maxMessageBytes }
        if let trace {
            guard FileManager.default.createFile(atPath: trace, contents: nil), let handle = FileHandle(forWritingAtPath: trace) else {
                throw ValidationError("--trace: cannot create \(trace)")
            }
            let writer = TraceWriter(handle: handle)
            config.messageObserver = { connection, direction, body in writer.write(connection, direction, body) }
        }
        config.statusExtension = { daemon.statusMembers() }
        let server = RPCServer(configuration: config)
        daemon.register(on: server)
        if listMethods {
            // The registry as served: what initialize's capabilities.methods lists.
            for name in server.methodNames { print(name) }
            return
        }
        // Before the socket accepts anyone: the first client must not see a dead writer's leftovers.
        daemon.removeStaleTemporaryFiles()
        do {
            try server.start()
        } catch let e as RPCServerError {
            logger.error("\(e)")
            throw ExitCode(1)
        }
        daemon.start()
        server.waitUntilStopped()
        daemon.shutdown()
    }
}

/// Writes the trace lines of `--trace` (called on the server's loop thread only, so it needs no lock).
final class TraceWriter: @unchecked Sendable {
    let handle: FileHandle

    init(handle: FileHandle) { self.handle = handle }

    func write(_ connection: UInt64, _ direction: MessageDirection, _ body: [UInt8]) {
        let line: JSONValue = ["connection": .int(Int64(connection)), "direction": .string(direction.rawValue),
                               "text": .string(String(decoding: body, as: UTF8.self))]
        guard var bytes = try? JSONCodec.encode(line) else { return }
        bytes.append(0x0A)
        handle.write(Data(bytes))
    }
}
