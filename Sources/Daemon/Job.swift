import Foundation
import RPC

/// Where a job is in its life.
public enum JobState: String, Sendable {
    /// Its thread is working.
    case running
    /// Finished with a result.
    case succeeded
    /// Stopped with an error (the error text is kept).
    case failed
    /// Stopped by `jobs/cancel` or daemon shutdown; nothing it was writing was kept.
    case cancelled
}

/// One background job (`dataset/generate`, `train`): its own thread, progress, cancellation, result.
public final class Job: @unchecked Sendable {
    /// "job-1", "job-2", ...
    public let id: String
    /// What kind of work ("dataset/generate", "train").
    public let kind: String
    /// Human title (also the progress `begin` title).
    public let title: String
    /// Set by `jobs/cancel` and shutdown; the job's body polls it.
    public let cancellation = CancellationToken()
    /// When it was created (wall clock).
    public let createdAt = Date()

    private let lock = NSLock()
    private var _state = JobState.running
    private var _done = 0
    private var _total = 0
    private var _message: String?
    private var _extra = JSONObject()
    private var _result: JSONValue?
    private var _error: String?
    private var _finishedAt: Date?
    let finished = DispatchSemaphore(value: 0)

    init(id: String, kind: String, title: String) {
        self.id = id
        self.kind = kind
        self.title = title
    }

    /// The current state.
    public var state: JobState { lock.lock(); defer { lock.unlock() }; return _state }

    func update(done: Int, total: Int, message: String?, extra: JSONObject) {
        lock.lock()
        _done = done
        _total = total
        _message = message
        _extra = extra  // each report is a full snapshot (a finished phase's ETA must not linger)
        lock.unlock()
    }

    func finish(_ state: JobState, result: JSONValue?, error: String?) {
        lock.lock()
        _state = state
        _result = result
        _error = error
        _extra["etaSeconds"] = nil
        _finishedAt = Date()
        lock.unlock()
        finished.signal()
    }

    /// Blocks until the job has finished (any final state) or `timeout` seconds pass; true if finished.
    public func wait(timeout: Double) -> Bool {
        guard finished.wait(timeout: .now() + timeout) == .success else { return false }
        finished.signal()
        return true
    }

    /// The row shown by `jobs/list`.
    public var json: JSONValue {
        lock.lock(); defer { lock.unlock() }
        var o: JSONObject = ["id": .string(id), "kind": .string(kind), "title": .string(title),
                             "state": .string(_state.rawValue), "done": .int(Int64(_done)), "total": .int(Int64(_total))]
        if _total > 0 { o["percentage"] = .int(Int64(_done * 100 / _total)) }
        if let m = _message { o["message"] = .string(m) }
        for (k, v) in _extra { o[k] = v }
        o["createdAt"] = .string(ISO8601.string(createdAt))
        if let f = _finishedAt {
            o["finishedAt"] = .string(ISO8601.string(f))
            o["seconds"] = .double(f.timeIntervalSince(createdAt))
        }
        if let r = _result { o["result"] = r }
        if let e = _error { o["error"] = .string(e) }
        return .object(o)
    }
}

/// UTC timestamps with milliseconds (`2026-11-29T00:03:57.950Z`).
enum ISO8601 {
    private static let formatter: ISO8601DateFormatter = {
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return f
    }()
    private static let lock = NSLock()

    static func string(_ d: Date) -> String {
        lock.lock(); defer { lock.unlock() }
        return formatter.string(from: d)
    }
}

/// What a job's body gets: progress reporting (to `jobs/list` and the client's `workDoneToken`) and
/// cancellation.
public final class JobContext: @unchecked Sendable {
    /// The job.
    public let job: Job
    private let sink: ProgressSink?
    private let lock = NSLock()
    private var lastSent = 0.0
    private let startSeconds = ProcessStats.monotonicSeconds()

    init(job: Job, sink: ProgressSink?) {
        self.job = job
        self.sink = sink
    }

    /// True once the job is cancelled.
    public var isCancelled: Bool { job.cancellation.isCancelled }

    /// Throws `JobCancelled` once the job is cancelled (call between units of work).
    public func checkCancelled() throws {
        if job.cancellation.isCancelled { throw JobCancelled() }
    }

    /// Records progress `done` of `total` (with an ETA from the rate so far) and sends a `report` to the
    /// client that started the job, at most every 100 ms (and always for the last unit). `extra` members
    /// (epoch, loss, ...) are added to both.
    public func report(done: Int, total: Int, message: String? = nil, extra: JSONObject = JSONObject()) {
        let now = ProcessStats.monotonicSeconds()
        var extra = extra
        if done > 0 && total > done {
            extra["etaSeconds"] = .double((now - startSeconds) / Double(done) * Double(total - done))
        }
        job.update(done: done, total: total, message: message, extra: extra)
        lock.lock()
        let due = now - lastSent >= 0.1 || done >= total
        if due { lastSent = now }
        lock.unlock()
        guard due, let sink else { return }
        var v: JSONObject = ["kind": "report", "jobId": .string(job.id), "done": .int(Int64(done)), "total": .int(Int64(total))]
        if total > 0 { v["percentage"] = .int(Int64(min(100, done * 100 / total))) }
        if let message { v["message"] = .string(message) }
        for (k, x) in extra { v[k] = x }
        sink(.object(v))
    }
}

/// Thrown by `JobContext.checkCancelled()`; the manager records the job as cancelled.
public struct JobCancelled: Error, CustomStringConvertible {
    public var description: String { "cancelled" }
}

/// Sends one work-done progress value to the client (errors, e.g. a closed connection, are ignored: a job
/// outlives its client).
public typealias ProgressSink = @Sendable (JSONValue) -> Void

extension RequestContext {
    /// A sink that sends `$/progress {token: workDoneToken, value}` to this request's client, or nil
    /// when the client gave no `workDoneToken`. It keeps working after the request's reply.
    public var workDoneSink: ProgressSink? {
        guard let token = workDoneToken else { return nil }
        return { [self] value in
            try? sendNotification(method: "$/progress", params: ["token": token, "value": value])
        }
    }
}
