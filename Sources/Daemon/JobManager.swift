import Foundation
import Tensors
import RPC

/// Runs jobs on their own threads (never on the RPC worker pool, so inference is never queued behind
/// them), at most `maxConcurrent` at once; remembers finished ones for `jobs/list`.
public final class JobManager: @unchecked Sendable {
    /// Jobs that may run at once.
    public let maxConcurrent: Int
    private let keepFinished: Int
    private let lock = NSLock()
    private var jobs: [Job] = []
    private var nextID = 1
    private var stopping = false

    /// A manager allowing `maxConcurrent` running jobs and remembering `keepFinished` finished ones.
    public init(maxConcurrent: Int, keepFinished: Int = 100) {
        self.maxConcurrent = max(1, maxConcurrent)
        self.keepFinished = keepFinished
    }

    /// Jobs running now.
    public var runningCount: Int {
        lock.lock(); defer { lock.unlock() }
        return jobs.filter { $0.state == .running }.count
    }

    /// Starts `body` on a new thread as a job. Work-done progress goes to `sink`: `begin` now, `report`s
    /// from `JobContext.report`, and `end` with the outcome.
    /// - Throws: `DaemonError.busy` (-32010) when `maxConcurrent` jobs are running or the daemon is stopping.
    public func start(kind: String, title: String, sink: ProgressSink?,
                      _ body: @escaping @Sendable (JobContext) throws -> JSONValue) throws -> Job {
        lock.lock()
        let running = jobs.filter { $0.state == .running }
        if stopping || running.count >= maxConcurrent {
            lock.unlock()
            let ids = running.map(\.id).joined(separator: ", ")
            throw DaemonError.busy(reason: stopping ? "the daemon is stopping"
                                   : "\(running.count) job(s) running (\(ids)); the limit is \(maxConcurrent): wait for it (jobs/list) or cancel it (jobs/cancel)",
                                   retryAfterMs: 1000)
        }
        let job = Job(id: "job-\(nextID)", kind: kind, title: title)
        nextID += 1
        jobs.append(job)
        // Forget the oldest finished jobs beyond the bound.
        var finished = jobs.filter { $0.state != .running }.count
        jobs.removeAll { j in
            guard finished > keepFinished, j.state != .running else { return false }
            finished -= 1
            return true
        }
        lock.unlock()

        sink?(["kind": "begin", "title": .string(title), "cancellable": true, "jobId": .string(job.id), "percentage": 0])
        let ctx = JobContext(job: job, sink: sink)
        let thread = Thread {
            var state = JobState.succeeded
            var result: JSONValue?
            var failure: String?
            do {
                result = try body(ctx)
                if job.cancellation.isCancelled { state = .cancelled; result = nil }
            } catch is JobCancelled {
                state = .cancelled
            } catch {
                if job.cancellation.isCancelled { state = .cancelled } else {
                    state = .failed
                    failure = "\(error)"
                }
            }
            let message: String
            switch state {
            case .succeeded: message = "done"
            case .cancelled: message = "cancelled"
            case .failed: message = "failed: \(failure ?? "?")"
            case .running: message = ""
            }
            // Training and cohort building free gigabytes of temporaries across many malloc arenas; give
            // them back to the system so the daemon's RSS returns to its serving size. Tensors' buffer cache
            // keeps up to 1 GiB of freed training buffers for reuse: empty it first, or the trim frees nothing.
            Tensor.releaseCachedMemory()
            _ = releaseFreedHeapMemory(0)
            job.finish(state, result: result, error: failure)
            var end: JSONObject = ["kind": "end", "message": .string(message), "jobId": .string(job.id),
                                   "state": .string(state.rawValue)]
            if let result { end["result"] = result }
            sink?(.object(end))
        }
        thread.name = "capillary-\(job.id)"
        thread.stackSize = 8 << 20
        thread.start()
        return job
    }

    /// All remembered jobs, oldest first.
    public func list() -> [Job] {
        lock.lock(); defer { lock.unlock() }
        return jobs
    }

    /// The job with this id.
    /// - Throws: `DaemonError.jobNotFound` naming the known ids.
    public func job(_ id: String) throws -> Job {
        lock.lock(); defer { lock.unlock() }
        guard let j = jobs.first(where: { $0.id == id }) else {
            let known = jobs.map(\.id)
            throw DaemonError.jobNotFound("no job with id '\(id)'" + (known.isEmpty ? " (there are no jobs)" : "; known: \(known.joined(separator: ", "))"))
        }
        return j
    }

    /// Cancels the job with this id (a finished job is left as it is).
    /// - Throws: `DaemonError.jobNotFound`.
    @discardableResult
    public func cancel(_ id: String) throws -> Job {
        let j = try job(id)
        j.cancellation.cancel(.cancelRequest)
        return j
    }

    /// Refuses new jobs, cancels the running ones and waits up to `timeout` seconds for them to stop.
    public func shutdown(timeout: Double) {
        lock.lock()
        stopping = true
        let running = jobs.filter { $0.state == .running }
        lock.unlock()
        for j in running { j.cancellation.cancel(.shutdown) }
        let deadline = Date(timeIntervalSinceNow: timeout)
        for j in running { _ = j.wait(timeout: max(0, deadline.timeIntervalSinceNow)) }
    }
}

/// glibc's `malloc_trim` (not exported by the Glibc module): returns free heap pages to the system.
@_silgen_name("malloc_trim")
func releaseFreedHeapMemory(_ pad: Int) -> Int32
