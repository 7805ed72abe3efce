import ArgumentParser
import Dispatch
import Foundation
import RPC
#if canImport(Glibc)
import Glibc
#endif

// Shared plumbing of the commands that talk to capillaryd (explain, stage, graph --daemon, models, status,
// train, jobs, daemon): finding the socket, the initialize handshake, calls with streamed partial results and
// work-done progress, Ctrl-C, JSON-lines output and exit codes. The protocol is protocol/README.md.
// A new method's command (e.g. `attribute --heatmap`) is one file using `DaemonOptions.connect()` and
// `DaemonConnection.call` (see clients/README.md, "Swift CLI").

/// Exit codes of the daemon-client commands (besides 0 = success).
enum ClientExitCode {
    /// The daemon answered with an error, or a job failed.
    static let failed: Int32 = 1
    /// Nothing listens on the socket (sysexits' EX_UNAVAILABLE): start one with `capillary daemon start`.
    static let noDaemon: Int32 = 69
    /// Cancelled with Ctrl-C (128 + SIGINT, as shells report it).
    static let interrupted: Int32 = 130
}

/// Why a daemon-client command failed; `exitCode` is what the process exits with.
enum DaemonClientError: Error, CustomStringConvertible {
    /// No daemon accepts connections on the socket (missing, stale, or refused).
    case noDaemon(path: String, reason: String)
    /// The daemon answered with a JSON-RPC error.
    case rpc(code: Int, message: String, data: JSONValue?)
    /// The connection broke or the daemon sent something unreadable.
    case connection(String)
    /// A job ended in state "failed" (its error text).
    case jobFailed(id: String, message: String)
    /// The user pressed Ctrl-C and the request or job was cancelled.
    case interrupted(String)

    var description: String {
        switch self {
        case let .noDaemon(path, reason):
            return "no capillaryd is running on \(path) (\(reason)); start one with `capillary daemon start`"
                + " (or `capillaryd --socket \(path)`), or pass --socket PATH / set CAPILLARY_SOCKET"
        case let .rpc(code, message, data):
            var s = "daemon error \(code) (\(message))"
            if let d = data { s += ": " + (d.stringValue ?? d.description) }
            if code == RPCError.Code.methodNotFound { s += "; this daemon is older than the CLI: restart it" }
            return s
        case .connection(let s): return "connection to capillaryd lost: \(s)"
        case let .jobFailed(id, m): return "job \(id) failed: \(m)"
        case .interrupted(let s): return s
        }
    }

    var exitCode: Int32 {
        switch self {
        case .noDaemon: return ClientExitCode.noDaemon
        case .interrupted: return ClientExitCode.interrupted
        default: return ClientExitCode.failed
        }
    }
}

/// `--socket PATH`, shared by every daemon-client command.
struct DaemonOptions: ParsableArguments {
    @Option(help: "capillaryd's Unix socket (default: $CAPILLARY_SOCKET, else $XDG_RUNTIME_DIR/capillary.sock, else /tmp/capillary-$UID/capillary.sock).")
    var socket: String?

    /// The socket to use: `--socket`, else `$CAPILLARY_SOCKET`, else the daemon's default path.
    var socketPath: String {
        if let socket { return socket }
        if let env = ProcessInfo.processInfo.environment["CAPILLARY_SOCKET"], !env.isEmpty { return env }
        return SocketPath.defaultPath()
    }

    /// Connects and runs `initialize`/`initialized`.
    /// - Throws: `DaemonClientError.noDaemon` when nothing listens on the socket.
    func connect() throws -> DaemonConnection { try DaemonConnection(path: socketPath) }
}

/// Runs a client command body, turning `DaemonClientError`s into a message on stderr and their exit code.
func runClient(_ body: () throws -> Void) throws {
    do { try body() } catch let e as DaemonClientError {
        FileHandle.standardError.write(Data("capillary: \(e)\n".utf8))
        throw ExitCode(e.exitCode)
    }
}

/// Writes one JSON value as a line on stdout (the `--json` output of every client command).
func printJSONLine(_ value: JSONValue) {
    let text = (try? JSONCodec.encodeString(value)) ?? "null"
    FileHandle.standardOutput.write(Data((text + "\n").utf8))
}

/// Counts Ctrl-C presses while alive (instead of killing the process), so a command can cancel its request
/// or job and still print the outcome.
final class InterruptCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    private let source: DispatchSourceSignal

    init() {
        signal(SIGINT, SIG_IGN)
        source = DispatchSource.makeSignalSource(signal: SIGINT, queue: .global())
        source.setEventHandler { [weak self] in self?.bump() }
        source.resume()
    }

    deinit {
        // SIGINT stays ignored: the request this counter guarded has ended, and a Ctrl-C that lands between
        // its reply and the process exit must not kill the command while it prints the result (the default
        // action would exit with -2 and lose the output). Every command exits right after its request.
        source.cancel()
    }

    private func bump() { lock.lock(); count += 1; lock.unlock() }

    /// Ctrl-C presses so far.
    var presses: Int { lock.lock(); defer { lock.unlock() }; return count }
}

/// An `image` parameter from the command line: `synthetic:SEED:STAGE[:SIZE]` asks the daemon to simulate an
/// eye; anything else is a file path, made absolute (the daemon accepts absolute paths only).
func imageParameter(_ argument: String, fovMM: Double? = nil) throws -> JSONValue {
    var image: JSONObject
    if argument.hasPrefix("synthetic:") {
        let parts = argument.split(separator: ":").map(String.init)
        guard parts.count == 3 || parts.count == 4, let seed = Int64(parts[1]) else {
            throw ValidationError("synthetic images are written synthetic:SEED:STAGE[:SIZE], e.g. synthetic:7:npdr, got '\(argument)'")
        }
        var s: JSONObject = ["seed": .int(seed), "stage": .string(parts[2])]
        if parts.count == 4 {
            guard let size = Int64(parts[3]) else { throw ValidationError("synthetic SIZE must be an integer, got '\(parts[3])'") }
            s["sizePX"] = .int(size)
        }
        image = ["synthetic": .object(s)]
    } else {
        let url = URL(fileURLWithPath: argument)
        image = ["path": .string(url.standardizedFileURL.path)]
    }
    if let fovMM { image["fovMM"] = .double(fovMM) }
    return .object(image)
}

/// One connection to capillaryd: blocking calls that deliver the request's `$/progress` notifications to
/// callbacks while waiting for its response.
final class DaemonConnection {
    /// The socket path connected to.
    let path: String
    /// `initialize`'s `capabilities.methods`.
    private(set) var methods: [String] = []
    /// `initialize`'s `serverInfo`.
    private(set) var serverInfo: JSONValue = .null
    private let client: RPCClient
    private var nextID = 1

    /// Connects to `path` and runs the initialize handshake.
    /// - Throws: `DaemonClientError.noDaemon` (no such socket, connection refused, path too long),
    ///   `.connection` or `.rpc` when the handshake fails.
    init(path: String) throws {
        self.path = path
        do { client = try RPCClient(path: path) } catch RPCClientError.connect(_, let e) {
            throw DaemonClientError.noDaemon(path: path, reason: String(cString: strerror(e)))
        }
        let r = try call("initialize", ["clientInfo": ["name": "capillary-cli", "version": "0.1.0"]])
        methods = r["capabilities"]?["methods"]?.arrayValue?.compactMap(\.stringValue) ?? []
        serverInfo = r["serverInfo"] ?? .null
        try send(["jsonrpc": "2.0", "method": "initialized", "params": [:]])
    }

    private func send(_ message: JSONValue) throws {
        do { try client.send(message) } catch { throw DaemonClientError.connection("\(error)") }
    }

    /// Sends `method` with `params` and waits for its response (as long as it takes).
    ///
    /// - `partial`: asks for partial results (`partialResultToken`) and gets each streamed value.
    /// - `progress`: asks for work-done progress (`workDoneToken`) and gets each value (begin/report/end).
    /// - `interrupts`: with Ctrl-C counted here, the first press sends `$/cancelRequest` for this request
    ///   (its response is then -32800, thrown as `.interrupted`); a second press stops waiting at once.
    /// - Returns: the result.
    /// - Throws: `DaemonClientError.rpc` for an error response, `.interrupted` when cancelled by Ctrl-C,
    ///   `.connection` when the connection breaks.
    @discardableResult
    func call(_ method: String, _ params: JSONObject = [:], partial: ((JSONValue) -> Void)? = nil,
              progress: ((JSONValue) -> Void)? = nil, interrupts: InterruptCounter? = nil) throws -> JSONValue {
        let id = nextID
        nextID += 1
        var p = params
        let partialToken = "partial-\(id)", progressToken = "progress-\(id)"
        if partial != nil { p["partialResultToken"] = .string(partialToken) }
        if progress != nil { p["workDoneToken"] = .string(progressToken) }
        try send(["jsonrpc": "2.0", "id": .int(Int64(id)), "method": .string(method), "params": .object(p)])
        var cancelSent = false
        while true {
            if let interrupts, interrupts.presses > 0, !cancelSent {
                cancelSent = true
                try send(["jsonrpc": "2.0", "method": "$/cancelRequest", "params": ["id": .int(Int64(id))]])
            }
            if let interrupts, interrupts.presses > 1 {
                // A second Ctrl-C does not wait for the daemon's -32800 any more (leaving cancels the request too).
                throw DaemonClientError.interrupted("interrupted (\(method) request \(id) cancelled)")
            }
            guard let m = try next(timeout: interrupts == nil ? 3600 : 0.1) else { continue }
            if m["method"] == "$/progress", let token = m["params"]?["token"], let value = m["params"]?["value"] {
                if token == .string(partialToken) { partial?(value) }
                if token == .string(progressToken) { progress?(value) }
                continue
            }
            guard m["id"] == .int(Int64(id)) else { continue }  // e.g. a reply to an earlier notification-like call
            if let r = m["result"] { return r }
            let code = m["error"]?["code"]?.intValue ?? RPCError.Code.internalError
            if code == RPCError.Code.requestCancelled && cancelSent {
                throw DaemonClientError.interrupted("cancelled (\(method) request \(id))")
            }
            throw DaemonClientError.rpc(code: code, message: m["error"]?["message"]?.stringValue ?? "?", data: m["error"]?["data"])
        }
    }

    /// Starts a job method (`train`, `dataset/generate`) and follows its work-done progress to the end.
    ///
    /// `onProgress` gets every progress value. Ctrl-C sends `jobs/cancel` for the job (a job outlives its
    /// client, so closing the connection alone would not stop it) and keeps waiting for its `end`; a second
    /// Ctrl-C stops waiting.
    /// - Returns: the `end` value (`state` "succeeded", with `result`).
    /// - Throws: `.jobFailed`, `.interrupted` (cancelled), `.rpc` (refused, e.g. -32010 another job running).
    func runJob(_ method: String, _ params: JSONObject, interrupts: InterruptCounter,
                onStarted: (String) -> Void = { _ in }, onProgress: @escaping (JSONValue) -> Void) throws -> JSONValue {
        var end: JSONValue?
        let started = try call(method, params, progress: { v in
            onProgress(v)
            if v["kind"] == "end" { end = v }
        })
        guard let jobID = started["jobId"]?.stringValue else {
            throw DaemonClientError.connection("\(method) returned no jobId: \(started)")
        }
        onStarted(jobID)
        let progressToken = JSONValue.string("progress-\(nextID - 1)")
        var cancelSent = false
        while end == nil {
            if interrupts.presses > 0 && !cancelSent {
                cancelSent = true
                FileHandle.standardError.write(Data("\ncancelling \(jobID) (Ctrl-C again to stop waiting)\n".utf8))
                let cancelID = nextID
                nextID += 1
                try send(["jsonrpc": "2.0", "id": .int(Int64(cancelID)), "method": "jobs/cancel", "params": ["id": .string(jobID)]])
            }
            if interrupts.presses > 1 {
                throw DaemonClientError.interrupted("stopped waiting; \(jobID) may still be running (capillary jobs)")
            }
            guard let m = try next(timeout: 0.1) else { continue }
            if m["method"] == "$/progress", m["params"]?["token"] == progressToken, let v = m["params"]?["value"] {
                onProgress(v)
                if v["kind"] == "end" { end = v }
            } else if let e = m["error"], m["id"] != nil {
                throw DaemonClientError.rpc(code: e["code"]?.intValue ?? 0, message: e["message"]?.stringValue ?? "?", data: e["data"])
            }
        }
        switch end!["state"]?.stringValue {
        case "succeeded": return end!
        case "cancelled": throw DaemonClientError.interrupted("\(jobID) cancelled")
        default:
            // The end's message reads "failed: <error>"; the error alone follows "job N failed: ".
            let message = end!["message"]?.stringValue ?? "\(end!)"
            throw DaemonClientError.jobFailed(id: jobID, message: message.hasPrefix("failed: ") ? String(message.dropFirst(8)) : message)
        }
    }

    /// The next message, or nil if none arrived within `timeout` seconds.
    private func next(timeout: Double) throws -> JSONValue? {
        do { return try client.read(timeout: timeout) } catch RPCClientError.timeout {
            return nil
        } catch RPCClientError.closed {
            throw DaemonClientError.connection("capillaryd closed the connection (was it stopped?)")
        } catch {
            throw DaemonClientError.connection("\(error)")
        }
    }
}
