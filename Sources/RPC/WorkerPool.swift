import Foundation

/// A job: does the work and returns what to do once its worker counts as free again (deliver the result),
/// so that whoever receives the result can submit new work without finding this worker still busy.
typealias WorkerJob = () -> (() -> Void)

/// A fixed set of threads running queued jobs in FIFO order, with a bounded queue.
final class WorkerPool: @unchecked Sendable {
    private let cond = NSCondition()
    private var jobs: [WorkerJob] = []
    private var head = 0
    private var running = 0
    private var stopping = false
    private var alive = 0
    private let exited = DispatchSemaphore(value: 0)
    let threadCount: Int
    let maxQueued: Int

    /// Starts `threads` worker threads; `maxQueued` bounds jobs waiting for a free worker.
    init(threads: Int, maxQueued: Int, stackBytes: Int = 8 << 20) {
        threadCount = max(1, threads)
        self.maxQueued = max(0, maxQueued)
        for i in 0..<threadCount {
            let t = Thread { [self] in self.work() }
            t.name = "capillary-worker-\(i)"
            t.stackSize = stackBytes
            alive += 1
            t.start()
        }
    }

    /// Jobs waiting for a worker.
    var queueDepth: Int { cond.lock(); defer { cond.unlock() }; return jobs.count - head }

    /// Jobs being run right now.
    var busy: Int { cond.lock(); defer { cond.unlock() }; return running }

    /// Queues `job`; false if every worker is busy and the queue already holds `maxQueued` jobs.
    func submit(_ job: @escaping WorkerJob) -> Bool {
        cond.lock()
        defer { cond.unlock() }
        guard !stopping else { return false }
        // Waiting jobs may fill the idle workers plus `maxQueued` more.
        if jobs.count - head >= (threadCount - running) + maxQueued { return false }
        jobs.append(job)
        cond.signal()
        return true
    }

    private func work() {
        while true {
            cond.lock()
            while head == jobs.count && !stopping { cond.wait() }
            if head == jobs.count && stopping {
                cond.unlock()
                break
            }
            let job = jobs[head]
            head += 1
            if head > 1024 && head * 2 > jobs.count {
                jobs.removeSubrange(0..<head)
                head = 0
            }
            running += 1
            cond.unlock()
            let deliver = job()
            cond.lock()
            running -= 1
            cond.unlock()
            deliver()
        }
        exited.signal()
    }

    /// Lets queued jobs finish, then ends the threads; waits up to `timeoutSeconds` for them.
    /// Returns false if some handler ignored cancellation and is still running.
    @discardableResult
    func shutdown(timeoutSeconds: Double) -> Bool {
        cond.lock()
        stopping = true
        cond.broadcast()
        let n = alive
        alive = 0
        cond.unlock()
        let deadline = DispatchTime.now() + timeoutSeconds
        for _ in 0..<n where exited.wait(timeout: deadline) == .timedOut { return false }
        return true
    }
}
