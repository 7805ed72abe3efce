/// What handling one message produced right away.
enum Immediate {
    /// A reply body (not yet counted in the connection's flow).
    case reply([UInt8])
    /// Nothing to send (a notification, or a request handed to a worker).
    case nothing
    /// Handed to a worker; its reply comes later.
    case pending
}

/// The protocol version `initialize` reports; bump on incompatible wire changes.
public let capillaryProtocolVersion = "1.0"

extension ServerLoop {
    // MARK: Replies

    func responseBody(id: JSONValue, result: JSONValue) -> [UInt8] {
        let msg: JSONValue = .object(["jsonrpc": "2.0", "id": id, "result": result])
        if let b = try? JSONCodec.encode(msg) { return b }
        return errorBody(id: id, .internalError("the result could not be encoded as JSON"))
    }

    func errorBody(id: JSONValue, _ e: RPCError) -> [UInt8] {
        let msg: JSONValue = .object(["jsonrpc": "2.0", "id": id, "error": e.json])
        // Error objects are built from strings and integers only; encoding cannot fail short of OOM.
        return (try? JSONCodec.encode(msg)) ?? Array(#"{"jsonrpc":"2.0","id":null,"error":{"code":-32603,"message":"Internal error"}}"#.utf8)
    }

    // MARK: Incoming

    func handleFrame(_ frame: ArraySlice<UInt8>, _ conn: ClientConnection) {
        config.messageObserver?(conn.id, .received, Array(frame))
        let value: JSONValue
        do {
            value = try frame.withUnsafeBytes { try JSONCodec.decode($0, maxDepth: config.maxJSONDepth) }
        } catch {
            logger.debug("connection \(conn.id): parse error: \(error)")
            enqueue(conn, errorBody(id: .null, .parseError("\(error)")), counted: 0)
            return
        }
        if case .array(let items) = value {
            guard !items.isEmpty else {
                enqueue(conn, errorBody(id: .null, .invalidRequest("an empty batch is not a valid request")), counted: 0)
                return
            }
            let batch = BatchReply(count: items.count)
            for (i, item) in items.enumerated() {
                switch handleMessage(item, conn, batch: batch, slot: i) {
                case .reply(let b): batch.parts[i] = b
                case .nothing: break
                case .pending: batch.pending += 1
                }
            }
            if batch.pending == 0, let body = batch.body() { enqueue(conn, body, counted: 0) }
            return
        }
        if case .reply(let b) = handleMessage(value, conn, batch: nil, slot: 0) { enqueue(conn, b, counted: 0) }
    }

    /// Validates one request/notification, applies the lifecycle, and answers it or hands it to a worker.
    func handleMessage(_ msg: JSONValue, _ conn: ClientConnection, batch: BatchReply?, slot: Int) -> Immediate {
        guard case .object(let o) = msg else {
            return .reply(errorBody(id: .null, .invalidRequest("a message must be a JSON object, got \(msg.typeName)")))
        }
        // The id as sent, when it is a valid id (string, integer, or null); otherwise replies use null.
        let rawID = o["id"]
        let isRequest = rawID != nil
        var id: RequestID? = nil
        if let r = rawID, r != .null {
            guard let rid = RequestID(json: r) else {
                return .reply(errorBody(id: .null, .invalidRequest("id must be a string or an integer, got \(r.typeName)")))
            }
            id = rid
        }
        let replyID = id?.json ?? .null
        guard o["jsonrpc"] == .string("2.0") else {
            return .reply(errorBody(id: replyID, .invalidRequest(#"the "jsonrpc" member must be exactly "2.0""#)))
        }
        guard case .string(let method)? = o["method"] else {
            if o["result"] != nil || o["error"] != nil { return .nothing }  // a client's response: nothing asked for it
            return .reply(errorBody(id: replyID, .invalidRequest(#"the "method" member must be a string"#)))
        }
        let params = o["params"] ?? .null
        switch params {
        case .null where o["params"] == nil, .object, .array: break
        default:
            return .reply(errorBody(id: replyID, .invalidRequest("params must be an object or an array, got \(params.typeName)")))
        }
        func reply(_ r: Result<JSONValue, RPCError>) -> Immediate {
            guard isRequest else { return .nothing }
            requestsAnswered += 1
            switch r {
            case .success(let v):
                logger.debug("connection \(conn.id) request \(replyID) \(method) -> ok")
                return .reply(responseBody(id: replyID, result: v))
            case .failure(let e):
                logger.debug("connection \(conn.id) request \(replyID) \(method) -> error \(e.code)")
                return .reply(errorBody(id: replyID, e))
            }
        }

        // Every request, whatever its method, must not reuse an id still in flight: a second reply with that id
        // (from an inline method such as ping, an unknown method or a lifecycle error) could not be told apart
        // from the first request's reply.
        if let id, conn.inflightByID[id] != nil {
            return reply(.failure(RPCError(code: RPCError.Code.duplicateRequestID, message: "Duplicate request id",
                                           data: .string("request \(id) is still in flight on this connection; ids must be unique"))))
        }

        // Lifecycle methods, which change the connection itself.
        switch method {
        case "exit":
            conn.closeAfterFlush = true
            return reply(.success(.null))
        case "$/cancelRequest":
            if let target = params["id"].flatMap(RequestID.init(json:)), let serial = conn.inflightByID[target] {
                conn.inflight[serial]?.token.cancel(.cancelRequest)
                logger.debug("connection \(conn.id): cancel requested for \(target)")
            }
            return isRequest ? reply(.success(.null)) : .nothing
        default: break
        }
        switch conn.lifecycle {
        case .uninitialized where method != "initialize":
            return reply(.failure(RPCError(code: RPCError.Code.serverNotInitialized, message: "Server not initialized",
                                           data: .string("send initialize first (method '\(method)' arrived before it)"))))
        case .shutDown:
            return reply(.failure(.invalidRequest("shutdown was received on this connection; only exit is accepted")))
        default: break
        }
        switch method {
        case "initialize":
            guard conn.lifecycle == .uninitialized else {
                return reply(.failure(.invalidRequest("initialize was already received on this connection")))
            }
            guard isRequest else { return .nothing }
            conn.lifecycle = .initialized
            return reply(.success(initializeResult()))
        case "initialized":
            return isRequest ? reply(.success(.null)) : .nothing
        case "shutdown":
            conn.lifecycle = .shutDown
            return reply(.success(.null))
        default: break
        }
        guard let entry = methods[method] else {
            return reply(.failure(.methodNotFound(method)))
        }
        if stopping {
            return reply(.failure(.requestCancelled(reason: CancelReason.shutdown.rawValue)))
        }
        let token = CancellationToken()
        token.flow = conn.flow
        if entry.execution == .inline {
            let ctx = RequestContext(method: method, id: id, params: params, connectionID: conn.id, cancellation: token,
                                     outbox: outbox, flow: conn.flow, onLoopThread: true)
            do { return reply(.success(try entry.handler(ctx))) } catch let e as RPCError {
                return reply(.failure(e))
            } catch {
                return reply(.failure(.internalError("\(error)")))
            }
        }
        let serial = nextSerial
        nextSerial += 1
        // Only requests own a slot in their batch's reply; notifications in a batch are answered by nothing.
        let request = InflightRequest(serial: serial, id: id, method: method, token: token,
                                      batch: isRequest ? batch : nil, slot: slot,
                                      startSeconds: ProcessStats.monotonicSeconds())
        let ctx = RequestContext(method: method, id: id, params: params, connectionID: conn.id, cancellation: token,
                                 outbox: outbox, flow: conn.flow, onLoopThread: false)
        let job = makeJob(entry.handler, ctx, isRequest: isRequest, replyID: replyID, serial: serial, flow: conn.flow)
        guard pool.submit(job) else {
            return reply(.failure(RPCError(code: RPCError.Code.serverBusy, message: "Server busy",
                                           data: ["reason": .string("all \(pool.threadCount) workers are busy and \(pool.maxQueued) requests are queued"),
                                                  "retryAfterMs": .int(Int64(config.busyRetryAfterMs))])))
        }
        jobsInFlight += 1
        conn.inflight[serial] = request
        if let id { conn.inflightByID[id] = serial }
        return isRequest ? .pending : .nothing
    }

    /// The closure a worker runs: the handler, then the reply posted back to the loop.
    func makeJob(_ handler: @escaping RPCHandler, _ ctx: RequestContext, isRequest: Bool, replyID: JSONValue,
                 serial: UInt64, flow: WriteFlow) -> WorkerJob {
        let outbox = self.outbox
        let connectionID = ctx.connectionID
        return {
            var result: Result<JSONValue, RPCError>
            if let r = ctx.cancellation.reason {
                result = .failure(.requestCancelled(reason: r.rawValue))
            } else {
                do { result = .success(try handler(ctx)) } catch let e as RPCError {
                    result = .failure(e)
                } catch {
                    result = .failure(.internalError("\(error)"))
                }
                // Once cancelled, the answer is -32800 whatever the handler managed to return.
                if let r = ctx.cancellation.reason { result = .failure(.requestCancelled(reason: r.rawValue)) }
            }
            var body: [UInt8]? = nil
            var outcome = "ok"
            if isRequest {
                let msg: JSONValue
                switch result {
                case .success(let v): msg = .object(["jsonrpc": "2.0", "id": replyID, "result": v])
                case .failure(let e):
                    outcome = "error \(e.code)"
                    msg = .object(["jsonrpc": "2.0", "id": replyID, "error": e.json])
                }
                body = (try? JSONCodec.encode(msg))
                    ?? (try? JSONCodec.encode(.object(["jsonrpc": "2.0", "id": replyID,
                                                       "error": RPCError.internalError("the result could not be encoded as JSON").json])))
                flow.add(body?.count ?? 0)
            }
            let finished = LoopEvent.finished(connection: connectionID, serial: serial, body: body, outcome: outcome)
            return {
                if !outbox.post(finished) { flow.written(body?.count ?? 0) }
            }
        }
    }

    // MARK: Results coming back

    /// Drains the outbox (async callback on the loop thread): writes replies and notifications, resumes
    /// connections that were paused at their in-flight limit, and finishes a pending stop.
    func drainOutbox() {
        for event in outbox.drain() {
            switch event {
            case let .finished(cid, serial, body, outcome):
                jobsInFlight -= 1
                guard let conn = connections[cid], let request = conn.inflight.removeValue(forKey: serial) else { continue }
                if let id = request.id { conn.inflightByID[id] = nil }
                if body != nil { requestsAnswered += 1 }
                if logger.enabled(.debug) {
                    let ms = (ProcessStats.monotonicSeconds() - request.startSeconds) * 1000
                    logger.debug("connection \(cid) request \(request.id?.description ?? "-") \(request.method) -> \(outcome) in \(String(format: "%.3f", ms)) ms")
                }
                if let batch = request.batch {
                    batch.parts[request.slot] = body
                    batch.countedBytes += body?.count ?? 0
                    batch.pending -= 1
                    if batch.pending == 0, let b = batch.body() { enqueue(conn, b, counted: batch.countedBytes) }
                } else if let body {
                    enqueue(conn, body, counted: body.count)
                }
                if !conn.queuedForResume {
                    conn.queuedForResume = true
                    resumeList.append(conn)
                }
            case let .notify(cid, body):
                guard let conn = connections[cid] else { continue }
                enqueue(conn, body, counted: body.count)
            case .stop:
                beginStop()
            }
        }
        let resume = resumeList
        resumeList.removeAll(keepingCapacity: true)
        for c in resume {
            c.queuedForResume = false
            if !c.closing { process(c) }
        }
        flushAll()
        checkFinished()
    }

    // MARK: Built-in results

    func initializeResult() -> JSONValue {
        let names = (Array(methods.keys) + ["initialize", "initialized", "shutdown", "exit", "$/cancelRequest"]).sorted()
        return [
            "protocolVersion": .string(capillaryProtocolVersion),
            "serverInfo": ["name": .string(config.serverName), "version": .string(config.serverVersion)],
            "capabilities": [
                "methods": .array(names.map { .string($0) }),
                "partialResults": true,
                "workDoneProgress": true,
                "cancelRequest": true,
                "framings": ["lines", "contentLength"],
                "limits": [
                    "maxMessageBytes": .int(Int64(config.maxMessageBytes)),
                    "maxInflightPerConnection": .int(Int64(config.maxInflightPerConnection)),
                    "maxQueuedRequests": .int(Int64(config.maxQueuedRequests)),
                    "workers": .int(Int64(pool.threadCount)),
                ],
            ],
        ]
    }

    func statusResult() -> JSONValue {
        let inflight = connections.values.reduce(0) { $0 + $1.inflight.count }
        var o: JSONObject = [
            "uptimeSeconds": .double(ProcessStats.monotonicSeconds() - startSeconds),
            "connections": .int(Int64(connections.count)),
            "inflightRequests": .int(Int64(inflight)),
            "queueDepth": .int(Int64(pool.queueDepth)),
            "busyWorkers": .int(Int64(pool.busy)),
            "workers": .int(Int64(pool.threadCount)),
            "requestsAnswered": .int(Int64(requestsAnswered)),
            "pendingWriteBytes": .int(Int64(connections.values.reduce(0) { $0 + $1.flow.pending })),
            "rssBytes": .int(Int64(ProcessStats.residentBytes())),
        ]
        if let extra = config.statusExtension?() {
            for (k, v) in extra where o[k] == nil { o[k] = v }
        }
        return .object(o)
    }
}
