/// How one operand of an elementwise op maps onto the output: the operand's element for output index `i`
/// is `(i / inner) % n`. This covers same shape (n = count, inner = 1), scalar (n = 1), row broadcasting
/// ([N,D] with [D]: inner = 1, n = D) and column broadcasting ([N,D] with [N,1]: n = N, inner = D).
struct BroadcastPattern: Equatable {
    var n: Int
    var inner: Int

    /// True when the operand has the output's full layout.
    func isFull(count: Int) -> Bool { inner == 1 && n == count }

    @inline(__always) func index(_ i: Int) -> Int { (i / inner) % n }
}

enum Broadcast {
    /// The numpy-style broadcast shape of `a` and `b`, or nil if they are incompatible.
    static func shape(_ a: [Int], _ b: [Int]) -> [Int]? {
        let r = max(a.count, b.count)
        var out = [Int](repeating: 1, count: r)
        for i in 0..<r {
            let da = i < r - a.count ? 1 : a[i - (r - a.count)]
            let db = i < r - b.count ? 1 : b[i - (r - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else { return nil }
        }
        return out
    }

    /// The pattern of `operand` inside `out`, or nil if its non-broadcast dimensions are not one contiguous
    /// block of the output's (e.g. [N,1,D] against [N,M,D]); such shapes are not supported.
    static func pattern(_ operand: [Int], in out: [Int]) -> BroadcastPattern? {
        let r = out.count
        let off = r - operand.count
        guard off >= 0 else { return nil }
        // Output dims of size 1 are neutral. Among the others the operand must equal the output on one
        // contiguous run of dims and be 1 elsewhere.
        var lo = -1, hi = -1      // run of matching dims: [lo, hi)
        var runClosed = false     // a broadcast (size-1) dim came after the run started
        for i in 0..<r where out[i] != 1 {
            let d = i < off ? 1 : operand[i - off]
            if d == out[i] {
                if runClosed { return nil }
                if lo < 0 { lo = i }
                hi = i + 1
            } else if d == 1 {
                if lo >= 0 { runClosed = true }
            } else {
                return nil
            }
        }
        if lo < 0 { return BroadcastPattern(n: 1, inner: 1) }
        let n = out[lo..<hi].reduce(1, *)
        let inner = out[hi...].reduce(1, *)
        return BroadcastPattern(n: n, inner: inner)
    }
}
