import Foundation
@testable import RPC

/// What the test handlers observed, shared with the test (thread-safe).
final class Probe: @unchecked Sendable {
    private let lock = NSLock()
    private var _sent = 0
    private var _cancelReason: CancelReason?
    private var _cancelSeenAt: Double?
    let cancelSeen = DispatchSemaphore(value: 0)
    let started = DispatchSemaphore(value: 0)

    var sent: Int { lock.lock(); defer { lock.unlock() }; return _sent }
    var cancelReason: CancelReason? { lock.lock(); defer { lock.unlock() }; return _cancelReason }
    var cancelSeenAt: Double? { lock.lock(); defer { lock.unlock() }; return _cancelSeenAt }

    func didSend() { lock.lock(); _sent += 1; lock.unlock() }

    func sawCancel(_ r: CancelReason?) {
        lock.lock()
        _cancelReason = r
        _cancelSeenAt = ProcessStats.monotonicSeconds()
        lock.unlock()
        cancelSeen.signal()
    }
}

/// An in-process server with the methods the tests need (not shipped in the daemon).
///
/// - `count {n, intervalMs, chunkBytes?}`: streams `n` partial results (each `{i, pad}`) every `intervalMs`,
///   with work-done progress, honouring cancellation; returns `{count: n}`.
/// - `sleep {ms}`: waits `ms` milliseconds in 1 ms steps, stopping early when cancelled.
/// - `add {a, b}`: params decoded into a struct; -32602 naming the bad field.
/// - `fail`: throws a non-RPC error (-32603). `teapot`: throws a custom RPC error -32042.
/// - `blob {bytes}`: returns a string of that many bytes.
/// - `echo`: returns its params.
func makeTestServer(_ tag: String, probe: Probe = Probe(), tweak: (inout RPCServerConfiguration) -> Void = { _ in })
    throws -> RPCServer {
    var config = RPCServerConfiguration()
    config.socketPath = temporarySocketPath(tag)
    config.workerCount = 4
    config.logger = Logger(level: ProcessInfo.processInfo.environment["RPC_TEST_LOG"] != nil ? .debug : .error, tag: "test-\(tag)")
    tweak(&config)
    let server = RPCServer(configuration: config)
    server.register("count") { ctx in
        let n: Int = try ctx.params.required("n")
        let intervalMs: Int = try ctx.params.optional("intervalMs", default: 2)
        let pad = String(repeating: "x", count: try ctx.params.optional("chunkBytes", default: 0))
        probe.started.signal()
        do {
            try ctx.reportProgress(.begin(title: "counting", percentage: 0))
            for i in 0..<n {
                try ctx.sendPartialResult(["i": .int(Int64(i)), "pad": .string(pad)])
                probe.didSend()
                if intervalMs > 0 { usleep(useconds_t(intervalMs * 1000)) }
                if i % 10 == 9 { try ctx.reportProgress(.report(percentage: (i + 1) * 100 / n)) }
            }
            try ctx.reportProgress(.end(message: "done"))
        } catch {
            probe.sawCancel(ctx.cancellation.reason)
            throw error
        }
        return ["count": .int(Int64(n))]
    }
    server.register("sleep") { ctx in
        let ms: Int = try ctx.params.required("ms")
        probe.started.signal()
        for _ in 0..<ms {
            if ctx.isCancelled {
                probe.sawCancel(ctx.cancellation.reason)
                try ctx.checkCancelled()
            }
            usleep(1000)
        }
        return ["slept": .int(Int64(ms))]
    }
    struct AddParams: Decodable { var a: Int; var b: Int }
    server.register("add", params: AddParams.self) { p, _ in .int(Int64(p.a + p.b)) }
    struct Boom: Error, CustomStringConvertible { var description: String { "boom: the handler failed" } }
    server.register("fail") { _ in throw Boom() }
    server.register("teapot") { _ in throw RPCError(code: -32042, message: "I'm a teapot", data: ["hint": "tea"]) }
    server.register("blob") { ctx in
        let n: Int = try ctx.params.required("bytes")
        return .string(String(repeating: "b", count: n))
    }
    server.register("echo") { ctx in ctx.params }
    try server.start()
    return server
}
