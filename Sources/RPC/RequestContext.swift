/// Work-done progress reported under the client's `workDoneToken` (LSP `$/progress` value kinds).
public enum WorkDoneProgress: Sendable {
    /// Starts progress: a title, optional message, percentage 0...100, and whether the client may cancel.
    case begin(title: String, message: String? = nil, percentage: Int? = nil, cancellable: Bool = true)
    /// An update.
    case report(message: String? = nil, percentage: Int? = nil)
    /// The end (always send it, also after cancellation, so clients can clear their UI).
    case end(message: String? = nil)

    /// The `value` object of the `$/progress` notification.
    public var json: JSONValue {
        var o = JSONObject()
        switch self {
        case let .begin(title, message, percentage, cancellable):
            o["kind"] = "begin"
            o["title"] = .string(title)
            o["cancellable"] = .bool(cancellable)
            if let message { o["message"] = .string(message) }
            if let percentage { o["percentage"] = .int(Int64(percentage)) }
        case let .report(message, percentage):
            o["kind"] = "report"
            if let message { o["message"] = .string(message) }
            if let percentage { o["percentage"] = .int(Int64(percentage)) }
        case let .end(message):
            o["kind"] = "end"
            if let message { o["message"] = .string(message) }
        }
        return .object(o)
    }
}

/// Everything a handler gets for one request (or notification).
///
/// Worker handlers may block; `sendPartialResult`, `reportProgress` and `sendNotification` block while the
/// client is not reading (the connection's write queue is above its high watermark) and throw -32800 once
/// the request is cancelled, so a streaming loop written as `try ctx.sendPartialResult(x)` stops by itself.
/// A producer blocked longer than `writeStallTimeoutSeconds` is cancelled with reason `clientStalled`.
public final class RequestContext: @unchecked Sendable {
    /// The method name.
    public let method: String
    /// The request id; nil for a notification (whose result is discarded).
    public let id: RequestID?
    /// The params (`null` when absent).
    public let params: JSONValue
    /// Which connection sent it (stable for the connection's life; for logs and per-client state).
    public let connectionID: UInt64
    /// Set by `$/cancelRequest`, by the client disconnecting, and by server shutdown.
    public let cancellation: CancellationToken
    /// The client's `params.partialResultToken`, if it asked for streamed partial results.
    public let partialResultToken: JSONValue?
    /// The client's `params.workDoneToken`, if it asked for work-done progress.
    public let workDoneToken: JSONValue?

    private let outbox: Outbox
    private let flow: WriteFlow
    private let onLoopThread: Bool

    init(method: String, id: RequestID?, params: JSONValue, connectionID: UInt64, cancellation: CancellationToken,
         outbox: Outbox, flow: WriteFlow, onLoopThread: Bool) {
        self.method = method
        self.id = id
        self.params = params
        self.connectionID = connectionID
        self.cancellation = cancellation
        self.outbox = outbox
        self.flow = flow
        self.onLoopThread = onLoopThread
        partialResultToken = params["partialResultToken"].flatMap { $0.isNull ? nil : $0 }
        workDoneToken = params["workDoneToken"].flatMap { $0.isNull ? nil : $0 }
    }

    /// True once the request is cancelled (poll it in long loops).
    public var isCancelled: Bool { cancellation.isCancelled }

    /// Throws -32800 (RequestCancelled) if the request is cancelled.
    public func checkCancelled() throws {
        if let r = cancellation.reason { throw RPCError.requestCancelled(reason: r.rawValue) }
    }

    /// True when the client gave a `partialResultToken`, i.e. wants partial results streamed.
    public var wantsPartialResults: Bool { partialResultToken != nil }

    /// Streams `value` as `$/progress {token: partialResultToken, value}`.
    ///
    /// Blocks while the client is not reading fast enough (write queue above the high watermark, until it
    /// drains to the low one). Does nothing when the client gave no `partialResultToken`.
    /// - Throws: `RPCError` -32800 once the request is cancelled or the client is gone.
    public func sendPartialResult(_ value: JSONValue) throws {
        guard let token = partialResultToken else { return try checkCancelled() }
        try sendNotification(method: "$/progress", params: ["token": token, "value": value])
    }

    /// Reports work-done progress as `$/progress {token: workDoneToken, value}`; a no-op without a token.
    /// - Throws: `RPCError` -32800 once cancelled (blocks like `sendPartialResult` when the client lags).
    public func reportProgress(_ progress: WorkDoneProgress) throws {
        guard let token = workDoneToken else { return try checkCancelled() }
        try sendNotification(method: "$/progress", params: ["token": token, "value": progress.json])
    }

    /// Sends any notification to this request's client (blocking and throwing like `sendPartialResult`).
    public func sendNotification(method: String, params: JSONValue) throws {
        try checkCancelled()
        // The loop thread must never wait for itself; inline handlers just enqueue.
        if !onLoopThread && !flow.waitUntilWritable(cancellation) {
            throw RPCError.requestCancelled(reason: (cancellation.reason ?? .disconnected).rawValue)
        }
        let msg: JSONValue = ["jsonrpc": "2.0", "method": .string(method), "params": params]
        let body: [UInt8]
        do { body = try JSONCodec.encode(msg) } catch { throw RPCError.internalError("\(error)") }
        flow.add(body.count)
        if !outbox.post(.notify(connection: connectionID, body: body)) {
            flow.written(body.count)
            throw RPCError.requestCancelled(reason: CancelReason.shutdown.rawValue)
        }
    }
}

/// A handler: reads `ctx.params`, may stream, returns the result or throws (`RPCError` is sent as is;
/// any other error becomes -32603 with its description in `data`).
public typealias RPCHandler = (RequestContext) throws -> JSONValue

/// Where a handler runs.
public enum HandlerExecution: Sendable {
    /// On a worker thread of the server's pool (the default; may block or compute for long).
    case worker
    /// On the loop thread, answered at once; only for tiny, non-blocking handlers (ping, status).
    case inline
}

/// One registered method.
struct MethodEntry {
    let handler: RPCHandler
    let execution: HandlerExecution
}
