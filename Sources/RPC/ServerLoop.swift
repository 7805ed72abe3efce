import CLibUV
#if canImport(Glibc)
import Glibc
#endif

@inline(__always) func asHandle<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_handle_t> {
    UnsafeMutablePointer(OpaquePointer(p))
}

@inline(__always) func asStream<T>(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<uv_stream_t> {
    UnsafeMutablePointer(OpaquePointer(p))
}

func uvError(_ rc: Int32) -> String { String(cString: uv_strerror(rc)) }

/// The loop thread's world: the libuv loop, the listening pipe, every connection, and the async handle that
/// brings worker results back. Everything here is touched only on the loop thread (except `outbox`, `pool`).
final class ServerLoop {
    let config: RPCServerConfiguration
    let logger: Logger
    var methods: [String: MethodEntry]
    let pool: WorkerPool
    let outbox = Outbox()
    let loop: UnsafeMutablePointer<uv_loop_t>
    let listener: UnsafeMutablePointer<uv_pipe_t>
    let async: UnsafeMutablePointer<uv_async_t>
    let graceTimer: UnsafeMutablePointer<uv_timer_t>
    /// Checks paused connections for a hang-up (reading is stopped there, so libuv would not report EOF).
    let hangupProbe: UnsafeMutablePointer<uv_timer_t>
    var pausedConnections: [UInt64: ClientConnection] = [:]
    var probeRunning = false
    static let hangupProbeIntervalMS: UInt64 = 50
    /// Linux's POLLRDHUP (peer closed its write side); Glibc's Swift module hides it behind _GNU_SOURCE.
    static let pollRDHUP: Int16 = 0x2000
    var signalHandles: [UnsafeMutablePointer<uv_signal_t>] = []
    var connections: [UInt64: ClientConnection] = [:]
    var flushList: [ClientConnection] = []
    var resumeList: [ClientConnection] = []
    var nextConnectionID: UInt64 = 1
    var nextSerial: UInt64 = 1
    /// Worker jobs submitted and not yet finished (whether or not their client is still there).
    var jobsInFlight = 0
    var requestsAnswered: UInt64 = 0
    var stopping = false
    var finishing = false
    var asyncClosed = false
    var timerClosed = false
    let startSeconds = ProcessStats.monotonicSeconds()

    /// Sets up the loop and binds the socket; throws if the socket cannot be used.
    init(config: RPCServerConfiguration, methods: [String: MethodEntry]) throws {
        self.config = config
        logger = config.logger
        self.methods = methods
        loop = .allocate(capacity: 1)
        listener = .allocate(capacity: 1)
        async = .allocate(capacity: 1)
        graceTimer = .allocate(capacity: 1)
        hangupProbe = .allocate(capacity: 1)
        pool = WorkerPool(threads: config.workerCount, maxQueued: config.maxQueuedRequests)
        var ok = false
        defer {
            if !ok {
                pool.shutdown(timeoutSeconds: 1)
                loop.deallocate(); listener.deallocate(); async.deallocate(); graceTimer.deallocate(); hangupProbe.deallocate()
            }
        }
        uv_loop_init(loop)
        loop.pointee.data = Unmanaged.passUnretained(self).toOpaque()
        uv_pipe_init(loop, listener, 0)
        uv_async_init(loop, async) { a in ServerLoop.from(a!.pointee.loop).drainOutbox() }
        uv_timer_init(loop, graceTimer)
        uv_timer_init(loop, hangupProbe)
        do {
            try SocketPath.prepare(config.socketPath, requirePrivateDirectory: config.socketPath == SocketPath.defaultPath())
            var rc = uv_pipe_bind(listener, config.socketPath)
            if rc == Int32(UV_EADDRINUSE.rawValue) {
                throw RPCServerError.socketInUse(path: config.socketPath)
            }
            guard rc == 0 else { throw RPCServerError.system(call: "bind", path: config.socketPath, reason: uvError(rc)) }
            // Only the owner may connect (the directory is 0700 too, for the default path).
            chmod(config.socketPath, 0o600)
            rc = uv_listen(asStream(listener), 511) { server, status in
                ServerLoop.from(server!.pointee.loop).accept(status)
            }
            guard rc == 0 else {
                unlink(config.socketPath)
                throw RPCServerError.system(call: "listen", path: config.socketPath, reason: uvError(rc))
            }
        } catch {
            // Close what was opened so the loop can be closed, then report.
            uv_close(asHandle(listener), nil)
            uv_close(asHandle(async), nil)
            uv_close(asHandle(graceTimer), nil)
            uv_close(asHandle(hangupProbe), nil)
            uv_run(loop, UV_RUN_DEFAULT)
            uv_loop_close(loop)
            throw error
        }
        outbox.attach(async)
        if config.handleSignals {
            for sig in [SIGINT, SIGTERM] {
                let h = UnsafeMutablePointer<uv_signal_t>.allocate(capacity: 1)
                uv_signal_init(loop, h)
                uv_signal_start(h, { h, signum in
                    let me = ServerLoop.from(h!.pointee.loop)
                    me.logger.info("received signal \(signum); stopping")
                    me.beginStop()
                }, sig)
                signalHandles.append(h)
            }
        }
        self.methods["ping"] = MethodEntry(handler: { _ in .null }, execution: .inline)
        self.methods["status"] = MethodEntry(handler: { [unowned self] _ in self.statusResult() }, execution: .inline)
        ok = true
    }

    static func from(_ loop: UnsafeMutablePointer<uv_loop_t>?) -> ServerLoop {
        Unmanaged<ServerLoop>.fromOpaque(loop!.pointee.data!).takeUnretainedValue()
    }

    /// Runs the loop until the server has stopped, then frees everything (loop thread).
    func run() {
        uv_run(loop, UV_RUN_DEFAULT)
        // Every handle is closed by now; a second pass runs their close callbacks if any are left.
        uv_run(loop, UV_RUN_NOWAIT)
        let rc = uv_loop_close(loop)
        if rc != 0 { logger.warn("uv_loop_close: \(uvError(rc))") }
        if !pool.shutdown(timeoutSeconds: config.shutdownGraceSeconds) {
            logger.warn("a handler ignored cancellation and is still running; leaving it behind")
        }
        for h in signalHandles { h.deallocate() }
        loop.deallocate(); listener.deallocate(); async.deallocate(); graceTimer.deallocate(); hangupProbe.deallocate()
    }

    // MARK: Accepting and reading

    func accept(_ status: Int32) {
        guard status == 0 else {
            logger.warn("accept failed: \(uvError(status))")
            return
        }
        let pipe = UnsafeMutablePointer<uv_pipe_t>.allocate(capacity: 1)
        uv_pipe_init(loop, pipe, 0)
        let flow = WriteFlow(highWatermark: config.writeHighWatermarkBytes, lowWatermark: config.writeLowWatermarkBytes,
                             stallTimeoutSeconds: config.writeStallTimeoutSeconds)
        let conn = ClientConnection(id: nextConnectionID, pipe: pipe, flow: flow, maxMessageBytes: config.maxMessageBytes)
        nextConnectionID += 1
        // The handle owns one reference to its connection until its close callback.
        pipe.pointee.data = Unmanaged.passRetained(conn).toOpaque()
        let rc = uv_accept(asStream(listener), conn.stream)
        guard rc == 0 else {
            logger.warn("accept failed: \(uvError(rc))")
            conn.closing = true
            uv_close(conn.handle, ServerLoop.onClosed)
            return
        }
        if stopping {
            conn.closing = true
            uv_close(conn.handle, ServerLoop.onClosed)
            return
        }
        connections[conn.id] = conn
        logger.debug("connection \(conn.id) opened (\(connections.count) open)")
        startReading(conn)
    }

    static let onClosed: uv_close_cb = { h in
        let conn = Unmanaged<ClientConnection>.fromOpaque(h!.pointee.data!)
        let me = ServerLoop.from(h!.pointee.loop)
        me.logger.debug("connection \(conn.takeUnretainedValue().id) closed")
        conn.release()
        me.connectionClosed()
    }

    static func connection(_ s: UnsafeMutablePointer<uv_stream_t>?) -> ClientConnection {
        Unmanaged<ClientConnection>.fromOpaque(s!.pointee.data!).takeUnretainedValue()
    }

    func startReading(_ conn: ClientConnection) {
        if pausedConnections.removeValue(forKey: conn.id) != nil && pausedConnections.isEmpty && probeRunning {
            probeRunning = false
            uv_timer_stop(hangupProbe)
        }
        guard !conn.reading, !conn.closing else { return }
        let rc = uv_read_start(conn.stream, { h, _, buf in
            let c = Unmanaged<ClientConnection>.fromOpaque(h!.pointee.data!).takeUnretainedValue()
            buf!.pointee = uv_buf_init(c.readBuffer.assumingMemoryBound(to: CChar.self), UInt32(ClientConnection.readBufferBytes))
        }, { s, nread, _ in
            let c = ServerLoop.connection(s)
            ServerLoop.from(s!.pointee.loop).received(c, nread)
        })
        if rc == 0 { conn.reading = true } else { close(conn, reason: .disconnected, why: "read start: \(uvError(rc))") }
    }

    func stopReading(_ conn: ClientConnection) {
        guard conn.reading else { return }
        uv_read_stop(conn.stream)
        conn.reading = false
    }

    /// Stops reading a connection that is at its in-flight limit with a full backlog, and keeps watching it
    /// for a hang-up so that its work is still cancelled the moment the client goes away.
    func pauseReading(_ conn: ClientConnection) {
        stopReading(conn)
        pausedConnections[conn.id] = conn
        if !probeRunning && !stopping {
            probeRunning = true
            uv_timer_start(hangupProbe, { t in ServerLoop.from(t!.pointee.loop).probeHangups() },
                           Self.hangupProbeIntervalMS, Self.hangupProbeIntervalMS)
        }
    }

    /// poll(2) with POLLRDHUP reports a peer that closed even while unread input is queued.
    func probeHangups() {
        for conn in Array(pausedConnections.values) {
            if conn.closing {
                pausedConnections[conn.id] = nil
                continue
            }
            var fd: uv_os_fd_t = -1
            guard uv_fileno(conn.handle, &fd) == 0 else { continue }
            var p = pollfd(fd: fd, events: Self.pollRDHUP, revents: 0)
            let hungUp: Int16 = Self.pollRDHUP | Int16(POLLHUP) | Int16(POLLERR)
            if poll(&p, 1, 0) > 0 && (p.revents & hungUp) != 0 {
                close(conn, reason: .disconnected, why: "client hung up while its reading was paused")
            }
        }
        if pausedConnections.isEmpty && probeRunning {
            probeRunning = false
            uv_timer_stop(hangupProbe)
        }
    }

    func received(_ conn: ClientConnection, _ nread: Int) {
        if nread < 0 {
            // EOF or error: the client is gone, so its work is cancelled now, not at the next write.
            let why = nread == Int(UV_EOF.rawValue) ? "end of stream" : uvError(Int32(nread))
            close(conn, reason: .disconnected, why: why)
            return
        }
        guard nread > 0, !conn.closing else { return }
        conn.decoder.append(UnsafeRawBufferPointer(start: conn.readBuffer, count: nread))
        process(conn)
        flushAll()
    }

    /// Dispatches complete frames while the connection has room for more requests in flight, then decides
    /// whether to keep reading: past the in-flight limit the socket is still read (so EOF is seen at once)
    /// until `readBacklogBytes` of unprocessed input pile up.
    func process(_ conn: ClientConnection) {
        while !conn.closing && !conn.closeAfterFlush && conn.inflight.count < config.maxInflightPerConnection {
            let frame: ArraySlice<UInt8>?
            do {
                frame = try conn.decoder.next()
            } catch {
                logger.warn("connection \(conn.id): \(error)")
                enqueue(conn, errorBody(id: .null, RPCError.parseError("\(error)")), counted: 0)
                conn.closeAfterFlush = true
                break
            }
            guard let frame else { break }
            handleFrame(frame, conn)
        }
        guard !conn.closing else { return }
        let room = conn.inflight.count < config.maxInflightPerConnection
        if conn.closeAfterFlush { markForFlush(conn) }
        if conn.closeAfterFlush || stopping {
            stopReading(conn)
        } else if !room && conn.decoder.bufferedBytes >= config.readBacklogBytes {
            pauseReading(conn)
        } else {
            startReading(conn)
        }
    }

    // MARK: Writing

    /// Appends a framed message to the connection's output; `counted` bytes of it are already in its flow.
    func enqueue(_ conn: ClientConnection, _ body: [UInt8], counted: Int) {
        guard !conn.closing else {
            conn.flow.written(counted)
            return
        }
        config.messageObserver?(conn.id, .sent, body)
        conn.framing.frame(body, into: &conn.out)
        conn.outCounted += counted
        markForFlush(conn)
    }

    /// Makes the next `flushAll` visit the connection (to write its output or to close it after the last reply).
    func markForFlush(_ conn: ClientConnection) {
        if !conn.queuedForFlush {
            conn.queuedForFlush = true
            flushList.append(conn)
        }
    }

    func flushAll() {
        let list = flushList
        flushList.removeAll(keepingCapacity: true)
        for c in list {
            c.queuedForFlush = false
            flush(c)
        }
    }

    func flush(_ conn: ClientConnection) {
        if !conn.closing && !conn.out.isEmpty {
            let bytes = conn.out
            conn.out = []
            conn.flow.add(bytes.count - conn.outCounted)
            conn.outCounted = 0
            let w = PendingWrite(connection: conn, bytes: bytes)
            let req = UnsafeMutablePointer<uv_write_t>.allocate(capacity: 1)
            req.pointee.data = Unmanaged.passRetained(w).toOpaque()
            var buf = uv_buf_init(w.bytes.assumingMemoryBound(to: CChar.self), UInt32(w.count))
            let rc = uv_write(req, conn.stream, &buf, 1) { req, status in
                let w = Unmanaged<PendingWrite>.fromOpaque(req!.pointee.data!).takeRetainedValue()
                req!.deallocate()
                ServerLoop.from(w.connection.pipe.pointee.loop).wrote(w, status)
            }
            if rc != 0 {
                Unmanaged<PendingWrite>.fromOpaque(req.pointee.data!).release()
                req.deallocate()
                conn.flow.written(bytes.count)
                close(conn, reason: .disconnected, why: "write: \(uvError(rc))")
                return
            }
            conn.writesInFlight += 1
            let pending = conn.flow.pending
            if pending > config.maxPendingWriteBytes {
                close(conn, reason: .disconnected,
                      why: "\(pending) bytes waiting to be written exceed the cap of \(config.maxPendingWriteBytes); client is not reading")
                return
            }
        }
        if conn.closeAfterFlush && conn.writesInFlight == 0 && !conn.closing {
            close(conn, reason: .disconnected, why: "closing after the last reply")
        }
    }

    func wrote(_ w: PendingWrite, _ status: Int32) {
        let conn = w.connection
        conn.writesInFlight -= 1
        conn.flow.written(w.count)
        if status < 0 {
            if status != Int32(UV_ECANCELED.rawValue) {
                close(conn, reason: .disconnected, why: "write failed: \(uvError(status))")
            }
            return
        }
        if conn.closeAfterFlush && conn.writesInFlight == 0 && !conn.closing {
            close(conn, reason: .disconnected, why: "closing after the last reply")
        }
    }

    // MARK: Closing and stopping

    /// Cancels the connection's work and closes it; its handle and memory are freed in the close callback.
    func close(_ conn: ClientConnection, reason: CancelReason, why: String) {
        guard !conn.closing else { return }
        conn.closing = true
        let n = conn.inflight.count
        for r in conn.inflight.values { r.token.cancel(reason) }
        conn.inflight.removeAll()
        conn.inflightByID.removeAll()
        conn.flow.close()
        connections[conn.id] = nil
        pausedConnections[conn.id] = nil
        stopReading(conn)
        if n > 0 || reason != .disconnected || why != "end of stream" {
            logger.log(n > 0 ? .info : .debug, "connection \(conn.id) closing (\(why)); cancelled \(n) request(s) in flight")
        }
        uv_close(conn.handle, ServerLoop.onClosed)
    }

    func connectionClosed() {
        if finishing && connections.isEmpty { closeLoopHandles() }
    }

    /// Stops accepting, removes the socket file, cancels all work; the loop ends once replies are flushed
    /// (or after the grace period).
    func beginStop() {
        guard !stopping else { return }
        stopping = true
        uv_close(asHandle(listener), nil)
        unlink(config.socketPath)
        for c in connections.values {
            stopReading(c)
            for r in c.inflight.values { r.token.cancel(.shutdown) }
        }
        let graceMS = UInt64(max(0, config.shutdownGraceSeconds) * 1000)
        uv_timer_start(graceTimer, { t in
            let me = ServerLoop.from(t!.pointee.loop)
            me.logger.warn("shutdown grace period over; closing remaining connections")
            me.finish()
            for c in Array(me.connections.values) { me.close(c, reason: .shutdown, why: "server stopped") }
            me.closeLoopHandles()
        }, graceMS, 0)
        checkFinished()
    }

    func checkFinished() {
        if stopping && !finishing && jobsInFlight == 0 { finish() }
    }

    /// All work is done: flush the last replies and close every connection after its writes complete.
    func finish() {
        guard !finishing else { return }
        finishing = true
        flushAll()
        for c in Array(connections.values) {
            if c.writesInFlight == 0 { close(c, reason: .shutdown, why: "server stopped") } else { c.closeAfterFlush = true }
        }
        if connections.isEmpty { closeLoopHandles() }
    }

    func closeLoopHandles() {
        if !asyncClosed {
            asyncClosed = true
            outbox.detach()
            uv_close(asHandle(async), nil)
            for h in signalHandles { uv_close(asHandle(h), nil) }
        }
        if !timerClosed {
            timerClosed = true
            uv_timer_stop(graceTimer)
            uv_close(asHandle(graceTimer), nil)
            uv_timer_stop(hangupProbe)
            uv_close(asHandle(hangupProbe), nil)
        }
    }
}
