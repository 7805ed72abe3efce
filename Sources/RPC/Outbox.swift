import CLibUV
import Foundation

/// What worker threads hand to the loop thread.
enum LoopEvent {
    /// A request finished: its response body (nil for notifications), already counted in the flow.
    case finished(connection: UInt64, serial: UInt64, body: [UInt8]?, outcome: String)
    /// A notification (e.g. `$/progress`) for a connection, already counted in the flow.
    case notify(connection: UInt64, body: [UInt8])
    /// Stop the server.
    case stop
}

/// The mutex-protected queue from worker threads to the loop thread, woken by `uv_async_send`.
///
/// libuv coalesces async sends, so the loop drains everything queued at each wake-up.
final class Outbox: @unchecked Sendable {
    private let lock = NSLock()
    private var events: [LoopEvent] = []
    private var async: UnsafeMutablePointer<uv_async_t>?

    /// Attaches the loop's async handle; from now on `post` wakes the loop.
    func attach(_ handle: UnsafeMutablePointer<uv_async_t>) {
        lock.lock(); async = handle; lock.unlock()
    }

    /// Detaches before the async handle is closed, so no thread sends to a closed handle.
    func detach() {
        lock.lock(); async = nil; lock.unlock()
    }

    /// Queues `event` and wakes the loop. Returns false (and drops the event) once the loop is gone.
    @discardableResult
    func post(_ event: LoopEvent) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        guard let a = async else { return false }
        events.append(event)
        if events.count == 1 { uv_async_send(a) }  // later posts ride on the pending wake-up
        return true
    }

    /// Everything queued so far (loop thread).
    func drain() -> [LoopEvent] {
        lock.lock()
        defer { lock.unlock() }
        let out = events
        events.removeAll(keepingCapacity: true)
        return out
    }
}
