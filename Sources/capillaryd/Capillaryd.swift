import ArgumentParser
import Foundation
import RPC

/// `capillaryd`: the Capillary daemon. Serves JSON-RPC 2.0 (NDJSON or LSP framing) on a Unix socket until
/// SIGINT/SIGTERM, then exits 0 after removing the socket. Exits 1 if it cannot start (e.g. another
/// daemon already listens on the socket).
@main
struct Capillaryd: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "capillaryd",
        abstract: "Capillary daemon: JSON-RPC 2.0 over a Unix socket (see docs/DAEMON.md).")

    @Option(help: "Unix socket path (default: $XDG_RUNTIME_DIR/capillary.sock or /tmp/capillary-$UID/capillary.sock).")
    var socket: String?

    @Option(name: .customLong("log-level"), help: "debug, info, warn or error (debug logs one line per request).")
    var logLevel: String = "info"

    @Option(help: "Worker threads for handlers (default: number of cores).")
    var workers: Int?

    @Option(name: .customLong("max-message-bytes"), help: "Largest accepted message in bytes (default 16777216).")
    var maxMessageBytes: Int?

    func run() throws {
        guard let level = Logger.Level(name: logLevel) else {
            throw ValidationError("--log-level must be debug, info, warn or error, got '\(logLevel)'")
        }
        var config = RPCServerConfiguration()
        config.logger = Logger(level: level)
        config.handleSignals = true
        if let socket { config.socketPath = socket }
        if let workers { config.workerCount = workers }
        if let maxMessageBytes { config.maxMessageBytes = maxMessageBytes }
        let server = RPCServer(configuration: config)
        do {
            try server.run()
        } catch let e as RPCServerError {
            config.logger.error("\(e)")
            throw ExitCode(1)
        }
    }
}
