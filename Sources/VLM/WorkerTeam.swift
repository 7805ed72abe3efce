import Common
import Foundation
import Synchronization

/// A process-wide team of persistent threads for the many short parallel sections of a KV-cached decoding
/// step (17 per token on the peer shape, each a few microseconds of work).
///
/// `DispatchQueue.concurrentPerform` wakes a pool thread per call, which costs about as much as one
/// section's work; here the workers spin on an atomic ticket between sections (and fall asleep on a
/// condition variable after `spinNanoseconds` without work, so an idle process uses no CPU), so handing out
/// a section costs well under a microsecond on an idle machine.
///
/// Parts are claimed, not assigned: the caller and the workers take the next unclaimed part of the current
/// section from one atomic ticket until none is left, and the caller then waits only for parts a worker is
/// still running. On a machine whose cores are taken by other processes a descheduled worker therefore
/// costs nothing: the caller runs every part itself, as serial code would.
///
/// One caller at a time: `withTeam` hands the team to the first caller and `nil` to any concurrent one, which
/// then runs its parts one after another on its own thread. Callers partition their work into
/// `WorkerTeam.parts` pieces whether or not they got the team, so results do not depend on who ran a part.
final class WorkerTeam: @unchecked Sendable {
    /// Threads of the shared team (the core count, or `CAPILLARY_THREADS`).
    static let parts = Parallel.threadCount

    /// Parts a new `DecoderSession` cuts its work into by default: `CAPILLARY_DECODER_THREADS` (1 ... the
    /// team size) if set; else the team size while the 1-minute load average (/proc/loadavg) is below the
    /// team size - 0.5, and 1 above it (or when the load cannot be read).
    ///
    /// Why the load decides: the team's hand-overs pay only when every core is free for the whole token.
    /// On this project's 2-core machine (docs/BENCHMARKS.md, VLM), at load average 1.3 two threads gave
    /// TTFT 3.23-3.57 ms and 3,075-3,174 tokens/s against 4.91-5.66 ms and 1,761-1,865 on one thread; at load
    /// 4.3-4.5 one thread won (TTFT 3.89 / 3.70 / 8.01 ms against 10.19 / 10.72 / 8.92 ms, decode 1,967 /
    /// 2,278 / 1,136 against 1,063 / 993 / 1,063 tokens/s), because a worker preempted in the middle of its
    /// part stalls the token.
    static func defaultDecoderParts() -> Int {
        if let s = getenv("CAPILLARY_DECODER_THREADS"), let n = Int(String(cString: s)), n >= 1 { return min(n, parts) }
        guard parts > 1, let load = loadAverage.value(now: DispatchTime.now().uptimeNanoseconds, read: readLoadAverage) else { return 1 }
        return load < Double(parts) - 0.5 ? parts : 1
    }

    /// The load average as last read: every generation asks (a `DecoderSession` per request), and the
    /// 1-minute average moves slowly, so re-reading /proc/loadavg more than once a second only costs.
    static let loadAverage = CachedValue<Double>(timeToLiveNanoseconds: 1_000_000_000)

    /// The 1-minute load average from /proc/loadavg (nil where it cannot be read).
    static func readLoadAverage() -> Double? {
        guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8),
              let first = text.split(separator: " ").first else { return nil }
        return Double(first)
    }

    /// The shared team (created on first use; its `parts - 1` worker threads live as long as the process).
    static let shared = WorkerTeam(size: parts)

    /// How long an idle worker spins before it sleeps: long enough to bridge the gap between two decoding
    /// steps (sampling, streaming a token), short enough to give the core back soon after a generation ends.
    static let spinNanoseconds: UInt64 = 300_000

    /// Threads including the caller (and parts per section).
    let size: Int
    /// Section number << 8 | parts of that section claimed so far.
    private let ticket = Atomic<Int>(0)
    /// Parts of the current section finished.
    private let done = Atomic<Int>(0)
    private let sleepers = Atomic<Int>(0)
    private let held = Atomic<Bool>(false)
    private let condition = NSCondition()
    private var section = 0
    // Written by the caller before it publishes a new section (release), read by workers after they claim a
    // part of it (acquire); not changed until every claimed part is done.
    private var job: ((Int) -> Void)?

    private init(size: Int) {
        self.size = min(max(1, size), 255)
        for _ in 1..<self.size {
            let t = Thread { [unowned self] in self.workerLoop() }
            t.name = "capillary-decode"
            t.start()
        }
    }

    /// Runs `body` with the team when no other caller holds it, else with nil (the caller runs serially).
    static func withTeam<R>(_ body: (WorkerTeam?) -> R) -> R {
        let team = shared
        guard team.size > 1, team.held.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged
        else { return body(nil) }
        defer { team.held.store(false, ordering: .releasing) }
        return body(team)
    }

    /// The next unclaimed part of section `s`, or nil when all are claimed or the section is over.
    @inline(__always) private func claim(_ s: Int) -> Int? {
        var v = ticket.load(ordering: .acquiring)
        while v >> 8 == s && v & 255 < size {
            let (exchanged, original) = ticket.compareExchange(expected: v, desired: v + 1, ordering: .acquiringAndReleasing)
            if exchanged { return v & 255 }
            v = original
        }
        return nil
    }

    /// Calls `body(p)` for every p in 0..<size, on this thread and the workers; returns when all have
    /// finished. `body` must not use the team itself.
    func run(_ body: @escaping (Int) -> Void) {
        section += 1
        let s = section
        job = body
        done.store(0, ordering: .relaxed)
        ticket.store(s << 8, ordering: .sequentiallyConsistent)
        if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
            condition.lock(); condition.broadcast(); condition.unlock()
        }
        while let p = claim(s) { body(p); done.add(1, ordering: .releasing) }
        var spins = 0
        while done.load(ordering: .acquiring) < size {
            spins += 1
            // A worker descheduled in the middle of its part: stop burning the core it needs.
            if spins & 0xFFF == 0 { sched_yield() }
        }
    }

    private func workerLoop() {
        var seen = 0
        while true {
            var s = ticket.load(ordering: .acquiring) >> 8
            if s == seen {
                let start = DispatchTime.now().uptimeNanoseconds
                var spins = 0
                while s == seen {
                    spins += 1
                    if spins & 0xFF == 0 && DispatchTime.now().uptimeNanoseconds - start > Self.spinNanoseconds {
                        condition.lock()
                        sleepers.add(1, ordering: .sequentiallyConsistent)
                        while ticket.load(ordering: .sequentiallyConsistent) >> 8 == seen { condition.wait() }
                        sleepers.subtract(1, ordering: .sequentiallyConsistent)
                        condition.unlock()
                    }
                    s = ticket.load(ordering: .acquiring) >> 8
                }
            }
            seen = s
            while let p = claim(s) { job?(p); done.add(1, ordering: .releasing) }
        }
    }
}

/// Runs `body(p)` for p in 0..<parts: on the team when there is one, else in order on this thread.
@inline(__always)
func runParts(_ team: WorkerTeam?, _ parts: Int, _ body: @escaping (Int) -> Void) {
    if let team, team.size == parts { team.run(body) } else { for p in 0..<parts { body(p) } }
}

/// A value re-read at most once per `timeToLiveNanoseconds` (monotonic clock), shared by all threads.
final class CachedValue<Value: Sendable>: Sendable {
    let timeToLiveNanoseconds: UInt64
    private let cache = Mutex<(value: Value?, readAt: UInt64)?>(nil)

    init(timeToLiveNanoseconds: UInt64) { self.timeToLiveNanoseconds = timeToLiveNanoseconds }

    /// The cached value if it was read less than the time to live before `now`, else `read()` (remembered
    /// with `now`, also when it is nil, so a failing read is not retried on every call).
    func value(now: UInt64, read: () -> Value?) -> Value? {
        cache.withLock { entry in
            if let e = entry, now >= e.readAt, now - e.readAt < timeToLiveNanoseconds { return e.value }
            let v = read()
            entry = (v, now)
            return v
        }
    }
}
