import Foundation

/// Why a request was cancelled.
public enum CancelReason: String, Sendable {
    /// The client sent `$/cancelRequest` for it.
    case cancelRequest
    /// The client's connection ended (EOF, error, or dropped for overrunning its write cap).
    case disconnected
    /// The server is stopping.
    case shutdown
    /// The client read nothing for longer than the write-stall timeout while the request was streaming.
    case clientStalled
}

/// A flag a handler polls to learn that its request was cancelled; set once, never cleared.
///
/// Setting it also wakes a producer that is blocked in `sendPartialResult` waiting for the client to read.
public final class CancellationToken: @unchecked Sendable {
    private let lock = NSLock()
    private var _reason: CancelReason?
    weak var flow: WriteFlow?

    /// A token that is not cancelled.
    public init() {}

    /// True once the request is cancelled.
    public var isCancelled: Bool {
        lock.lock(); defer { lock.unlock() }
        return _reason != nil
    }

    /// Why the request was cancelled, or nil if it was not.
    public var reason: CancelReason? {
        lock.lock(); defer { lock.unlock() }
        return _reason
    }

    /// Cancels with `reason` (the first reason wins) and wakes a blocked producer.
    public func cancel(_ reason: CancelReason) {
        lock.lock()
        if _reason == nil { _reason = reason }
        lock.unlock()
        flow?.wakeAll()
    }
}

/// One connection's write accounting, shared between the loop thread and the handlers producing for it.
///
/// `pendingBytes` counts message bytes posted for the connection and not yet written to its socket. Above
/// `highWatermark` producers pause (`waitUntilWritable` blocks) until it falls to `lowWatermark`.
final class WriteFlow: @unchecked Sendable {
    private let cond = NSCondition()
    private(set) var pendingBytes = 0
    private var paused = false
    private var closed = false
    let highWatermark: Int
    let lowWatermark: Int
    /// How long a producer waits for a paused connection before giving up (0: forever).
    let stallTimeoutSeconds: Double

    init(highWatermark: Int, lowWatermark: Int, stallTimeoutSeconds: Double = 0) {
        self.highWatermark = highWatermark
        self.lowWatermark = lowWatermark
        self.stallTimeoutSeconds = stallTimeoutSeconds
    }

    var pending: Int { cond.lock(); defer { cond.unlock() }; return pendingBytes }

    /// Blocks while the connection is paused (above the high watermark, not yet back to the low one).
    /// Returns false if the token is cancelled or the connection closed meanwhile; after waiting longer than
    /// the stall timeout it cancels the token (`.clientStalled`) and returns false.
    func waitUntilWritable(_ token: CancellationToken) -> Bool {
        cond.lock()
        let deadline = stallTimeoutSeconds > 0 ? Date(timeIntervalSinceNow: stallTimeoutSeconds) : nil
        var stalled = false
        while paused && !closed && !token.isCancelled {
            if let deadline {
                if !cond.wait(until: deadline) && paused && !closed {
                    stalled = true
                    break
                }
            } else {
                cond.wait()
            }
        }
        let ok = !stalled && !closed && !token.isCancelled
        cond.unlock()
        // Cancel outside the lock: cancel() takes it again to wake other waiters.
        if stalled { token.cancel(.clientStalled) }
        return ok
    }

    func add(_ n: Int) {
        cond.lock()
        pendingBytes += n
        if pendingBytes > highWatermark { paused = true }
        cond.unlock()
    }

    func written(_ n: Int) {
        cond.lock()
        pendingBytes -= n
        if paused && pendingBytes <= lowWatermark {
            paused = false
            cond.broadcast()
        }
        cond.unlock()
    }

    func close() {
        cond.lock()
        closed = true
        cond.broadcast()
        cond.unlock()
    }

    func wakeAll() {
        cond.lock()
        cond.broadcast()
        cond.unlock()
    }
}
