import Foundation

/// Recycles large float buffers between tensors of the same size.
///
/// A training step allocates the same activation and gradient sizes every time. Fresh multi-megabyte
/// buffers come from mmap and cost a page fault per 4 KB page on first touch, which at GNN batch sizes
/// (60k nodes x 64 features = 15 MB per tensor) costs more than the arithmetic. Buffers of at least
/// `minCount` floats are therefore kept, keyed by exact size, up to `maxCachedBytes` in total; smaller ones
/// go straight back to malloc, which is fast for them. Thread-safe (one lock, held for a dictionary op).
final class BufferCache: @unchecked Sendable {
    static let shared = BufferCache()
    /// Buffers smaller than this (64 KB) are not cached.
    static let minCount = 1 << 14
    /// Upper bound on idle cached memory (bytes); `CAPILLARY_TENSOR_CACHE_MB` overrides it.
    let maxCachedBytes: Int = {
        if let s = getenv("CAPILLARY_TENSOR_CACHE_MB"), let mb = Int(String(cString: s)), mb >= 0 { return mb << 20 }
        return 1 << 30
    }()

    private var idle: [Int: [UnsafeMutablePointer<Float>]] = [:]
    private var idleBytes = 0
    private let lock = NSLock()

    /// Uninitialised storage for `count` floats (at least one).
    func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let n = max(count, 1)
        if n >= BufferCache.minCount {
            lock.lock()
            if let p = idle[n]?.popLast() {
                idleBytes -= n * 4
                lock.unlock()
                return p
            }
            lock.unlock()
        }
        return .allocate(capacity: n)
    }

    /// Returns storage obtained from `allocate(count)`.
    func release(_ p: UnsafeMutablePointer<Float>, count: Int) {
        let n = max(count, 1)
        if n >= BufferCache.minCount {
            lock.lock()
            if idleBytes + n * 4 <= maxCachedBytes {
                idle[n, default: []].append(p)
                idleBytes += n * 4
                lock.unlock()
                return
            }
            lock.unlock()
        }
        p.deallocate()
    }

    /// Frees every idle buffer (e.g. after training, before serving).
    func trim() {
        lock.lock()
        let all = idle.values.flatMap { $0 }
        idle = [:]
        idleBytes = 0
        lock.unlock()
        for p in all { p.deallocate() }
    }
}

extension Tensor {
    /// Frees the idle buffers Tensors keeps for reuse (see the buffer cache notes in BufferCache.swift).
    public static func releaseCachedMemory() { BufferCache.shared.trim() }
}
