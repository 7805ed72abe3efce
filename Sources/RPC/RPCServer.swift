import Common
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Settings of an `RPCServer`; every size is in bytes.
public struct RPCServerConfiguration: Sendable {
    /// Unix socket path (default: `SocketPath.defaultPath()`).
    public var socketPath: String = SocketPath.defaultPath()
    /// Worker threads that run handlers (default: online cores, or `CAPILLARY_THREADS`).
    public var workerCount: Int = Parallel.threadCount
    /// Requests that may wait for a free worker before new ones get -32010 "server busy".
    public var maxQueuedRequests = 256
    /// Largest message accepted; a larger one is answered -32700 and its connection closed.
    public var maxMessageBytes = 16 << 20
    /// Requests one connection may have at workers at once; further frames wait (and past
    /// `readBacklogBytes` of waiting input, reading stops).
    public var maxInflightPerConnection = 64
    /// Unprocessed input a connection may buffer while at its in-flight limit before reading stops.
    public var readBacklogBytes = 1 << 20
    /// Pending output above which a connection's producers pause (`sendPartialResult` blocks).
    public var writeHighWatermarkBytes = 1 << 20
    /// Pending output at which paused producers resume.
    public var writeLowWatermarkBytes = 256 << 10
    /// How long a producer blocked by a client that reads nothing may wait before its request is cancelled
    /// (-32800, reason "clientStalled"), freeing the worker; 0 waits forever. In seconds.
    public var writeStallTimeoutSeconds = 60.0
    /// Pending output past which the connection is dropped (the client is not reading).
    public var maxPendingWriteBytes = 64 << 20
    /// Deepest array/object nesting accepted in a message.
    public var maxJSONDepth = JSONCodec.defaultMaxDepth
    /// Stop on SIGINT/SIGTERM (for the daemon process; leave off when embedding).
    public var handleSignals = false
    /// How long a stop waits for cancelled handlers and unflushed replies, in seconds.
    public var shutdownGraceSeconds = 2.0
    /// The `retryAfterMs` hint sent with -32010 "server busy".
    public var busyRetryAfterMs = 50
    /// `serverInfo.name` in the initialize result.
    public var serverName = "capillaryd"
    /// `serverInfo.version` in the initialize result.
    public var serverVersion = "0.1.0"
    /// Where log lines go.
    public var logger = Logger(level: .warn)
    /// Extra members appended to every `status` result (e.g. the Daemon's model store and jobs). Called on
    /// the loop thread, so it must return at once (read cached state; never touch the disk or wait).
    public var statusExtension: (@Sendable () -> JSONObject)? = nil
    /// Sees every message: each frame received (raw bytes, before parsing, so also invalid ones) and each
    /// message body sent (a response, a batch reply or a notification; framing removed). Called on the loop
    /// thread, so it must be quick (capillaryd's `--trace FILE` appends them to a file for the protocol's
    /// conformance test). nil (the default) costs nothing.
    public var messageObserver: (@Sendable (_ connection: UInt64, _ direction: MessageDirection, _ body: [UInt8]) -> Void)? = nil

    /// The defaults (see each property).
    public init() {}

    func validate() throws {
        guard workerCount >= 1 else { throw RPCServerError.badConfiguration("workers must be >= 1, got \(workerCount)") }
        guard maxMessageBytes >= 1024 else {
            throw RPCServerError.badConfiguration("max message bytes must be >= 1024, got \(maxMessageBytes)")
        }
        guard maxInflightPerConnection >= 1, maxQueuedRequests >= 0 else {
            throw RPCServerError.badConfiguration("in-flight limit must be >= 1 and queue bound >= 0")
        }
        guard writeLowWatermarkBytes <= writeHighWatermarkBytes, writeHighWatermarkBytes < maxPendingWriteBytes else {
            throw RPCServerError.badConfiguration(
                "write limits must satisfy low (\(writeLowWatermarkBytes)) <= high (\(writeHighWatermarkBytes)) < cap (\(maxPendingWriteBytes))")
        }
    }
}

/// Which way a message observed by `RPCServerConfiguration.messageObserver` went.
public enum MessageDirection: String, Sendable {
    /// From a client to the server (a frame as received).
    case received
    /// From the server to a client.
    case sent
}

/// A JSON-RPC 2.0 server on a Unix socket: a libuv loop thread for the socket, a worker pool for handlers.
///
/// Register methods, then `start()` (returns once listening; the loop runs on its own thread) or `run()`
/// (blocks until stopped). `stop()` from any thread stops accepting, cancels all work, flushes replies,
/// removes the socket file and joins the threads. Built in: `initialize`, `initialized`, `shutdown`,
/// `exit`, `$/cancelRequest`, `ping`, `status`.
public final class RPCServer: @unchecked Sendable {
    /// The settings given at creation.
    public let configuration: RPCServerConfiguration
    private var methods: [String: MethodEntry] = [:]
    private let lock = NSLock()
    private var loop: ServerLoop?
    private var started = false
    private var stopped = false
    private let finished = DispatchSemaphore(value: 0)

    /// Methods every server has; `register` refuses these names.
    public static let builtinMethods: Set<String> = ["initialize", "initialized", "shutdown", "exit", "$/cancelRequest",
                                                      "ping", "status"]

    /// A server with these settings; nothing is opened until `start()`.
    public init(configuration: RPCServerConfiguration = RPCServerConfiguration()) {
        self.configuration = configuration
    }

    /// The socket path clients connect to.
    public var socketPath: String { configuration.socketPath }

    /// Maps `method` to `handler`. Call before `start()`; a later call for the same name replaces it.
    /// - Parameters:
    ///   - execution: `.worker` (default) runs on the pool; `.inline` runs on the loop thread and must not block.
    public func register(_ method: String, execution: HandlerExecution = .worker, _ handler: @escaping RPCHandler) {
        precondition(!Self.builtinMethods.contains(method), "RPCServer.register: '\(method)' is built in")
        lock.lock()
        defer { lock.unlock() }
        precondition(!started, "RPCServer.register('\(method)') must be called before start()")
        methods[method] = MethodEntry(handler: handler, execution: execution)
    }

    /// Maps `method` to a handler that receives its params already decoded as `P` (absent params decode as
    /// `{}`); params that do not decode are answered -32602 naming the field, without calling `handler`.
    public func register<P: Decodable>(_ method: String, params: P.Type, execution: HandlerExecution = .worker,
                                       _ handler: @escaping (P, RequestContext) throws -> JSONValue) {
        register(method, execution: execution) { ctx in try handler(try ctx.decodeParams(P.self), ctx) }
    }

    /// Registered method names plus the built-in ones, sorted.
    public var methodNames: [String] {
        lock.lock(); defer { lock.unlock() }
        return (Array(methods.keys) + Array(Self.builtinMethods)).sorted()
    }

    /// Binds the socket and starts the loop and worker threads; returns once clients can connect.
    /// - Throws: `RPCServerError` (socket in use, path too long, not a socket, bind failure, bad settings).
    public func start() throws {
        lock.lock()
        defer { lock.unlock() }
        precondition(!started, "RPCServer.start() called twice")
        try configuration.validate()
        // A client that vanishes mid-write must give EPIPE, not kill the process.
        signal(SIGPIPE, SIG_IGN)
        let l = try ServerLoop(config: configuration, methods: methods)
        loop = l
        started = true
        configuration.logger.info("listening on \(configuration.socketPath) (workers \(configuration.workerCount), max message \(configuration.maxMessageBytes) bytes)")
        let t = Thread { [self] in
            l.run()
            lock.lock()
            loop = nil
            stopped = true
            lock.unlock()
            configuration.logger.info("stopped")
            finished.signal()
        }
        t.name = "capillary-rpc-loop"
        t.stackSize = 8 << 20
        t.start()
    }

    /// Blocks until the server has stopped (by `stop()` or a signal).
    public func waitUntilStopped() {
        lock.lock()
        let running = started && !stopped
        lock.unlock()
        guard running else { return }
        finished.wait()
        finished.signal()  // let other waiters through too
    }

    /// Stops the server and waits for it: no new connections, work cancelled (-32800), replies flushed,
    /// socket file removed, threads joined. Safe from any thread except a handler; idempotent.
    public func stop() {
        lock.lock()
        let l = loop
        lock.unlock()
        l?.outbox.post(.stop)
        waitUntilStopped()
    }

    /// `start()` then `waitUntilStopped()`: the daemon's main.
    public func run() throws {
        try start()
        waitUntilStopped()
    }
}
