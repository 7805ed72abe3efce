import Dispatch
#if canImport(Glibc)
import Glibc
#endif

/// Data-parallel loops over the machine's cores.
public enum Parallel {
    /// Number of worker threads used by `forEach`: the online CPU count, or `CAPILLARY_THREADS` if set (>= 1).
    public static let threadCount: Int = {
        if let s = getenv("CAPILLARY_THREADS"), let n = Int(String(cString: s)), n >= 1 { return n }
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    }()

    /// Calls `body` on disjoint, contiguous sub-ranges that cover `0..<count`, in parallel.
    ///
    /// Work smaller than `minChunk` items per thread runs inline on the caller's thread (threads cost
    /// microseconds; tiny loops are faster alone). `body` must only write to its own range.
    @inlinable
    public static func forEach(_ count: Int, minChunk: Int = 1024, _ body: (Range<Int>) -> Void) {
        guard count > 0 else { return }
        let chunks = min(threadCount, max(1, count / max(1, minChunk)))
        if chunks <= 1 {
            body(0..<count)
            return
        }
        let step = (count + chunks - 1) / chunks
        DispatchQueue.concurrentPerform(iterations: chunks) { c in
            let lo = c * step
            let hi = min(count, lo + step)
            if lo < hi { body(lo..<hi) }
        }
    }
}
