/// The edges of one relation (source row -> target row), sorted both ways once so that message passing
/// can gather instead of scatter.
///
/// Scattering messages into target rows needs either atomics or a pass over all edges per thread
/// ("owner computes") plus a zero-filled output. With the edges grouped by target (compressed sparse rows),
/// every output row is the sum of its own incoming edges: written once, in parallel, no zero fill. The
/// backward pass needs the same grouping by source. Both are counting sorts, O(E + N), built once per
/// batch and shared by every layer. Within a row, edges keep their original order, so sums are
/// deterministic and equal to a sequential scatter in edge order.
public final class EdgeIndex: @unchecked Sendable {
    /// Number of rows edges come from, and go to.
    public let sourceRows: Int, targetRows: Int
    /// Number of edges.
    public var count: Int { source.count }
    /// Edge endpoints in the caller's order (edge weights are indexed by this order).
    public let source: [Int32], target: [Int32]
    /// Edges grouped by target: the ids of the edges into row t are `byTarget[targetStart[t] ..< targetStart[t + 1]]`.
    let targetStart: [Int32], byTarget: [Int32]
    /// Edges grouped by source, likewise.
    let sourceStart: [Int32], bySource: [Int32]
    /// 1 / in-degree of every target row (0 for rows without incoming edges): the mean's scale.
    let inverseInDegree: [Float]

    /// Sorts `source` -> `target` edges (equal lengths; every source in 0..<sourceRows, every target in
    /// 0..<targetRows). Traps naming the edge if an index is out of range (a programmer error: batch
    /// builders validate user data first).
    public init(source: [Int], target: [Int], sourceRows: Int, targetRows: Int) {
        precondition(source.count == target.count,
                     Tensor.shapeMismatchMessage("EdgeIndex", [source.count], [target.count], detail: "source and target lists differ"))
        precondition(source.count < Int(Int32.max) && sourceRows < Int(Int32.max) && targetRows < Int(Int32.max),
                     "EdgeIndex: more than 2^31 edges or rows")
        for e in 0..<source.count {
            precondition(source[e] >= 0 && source[e] < sourceRows, "EdgeIndex: source[\(e)] = \(source[e]) is outside 0..<\(sourceRows)")
            precondition(target[e] >= 0 && target[e] < targetRows, "EdgeIndex: target[\(e)] = \(target[e]) is outside 0..<\(targetRows)")
        }
        self.sourceRows = sourceRows
        self.targetRows = targetRows
        let s32 = source.map { Int32(truncatingIfNeeded: $0) }, t32 = target.map { Int32(truncatingIfNeeded: $0) }
        self.source = s32
        self.target = t32
        (targetStart, byTarget) = EdgeIndex.group(t32, rows: targetRows)
        (sourceStart, bySource) = EdgeIndex.group(s32, rows: sourceRows)
        var inv = [Float](repeating: 0, count: targetRows)
        for t in 0..<targetRows {
            let d = targetStart[t + 1] - targetStart[t]
            inv[t] = d > 0 ? 1 / Float(d) : 0
        }
        inverseInDegree = inv
    }

    private init(reversing e: EdgeIndex) {
        sourceRows = e.targetRows; targetRows = e.sourceRows
        source = e.target; target = e.source
        targetStart = e.sourceStart; byTarget = e.bySource
        sourceStart = e.targetStart; bySource = e.byTarget
        var inv = [Float](repeating: 0, count: targetRows)
        for t in 0..<targetRows {
            let d = targetStart[t + 1] - targetStart[t]
            inv[t] = d > 0 ? 1 / Float(d) : 0
        }
        inverseInDegree = inv
    }

    private init(sourceRows: Int, targetRows: Int, source: [Int32], target: [Int32], targetStart: [Int32], byTarget: [Int32],
                 sourceStart: [Int32], bySource: [Int32], inverseInDegree: [Float]) {
        self.sourceRows = sourceRows; self.targetRows = targetRows; self.source = source; self.target = target
        self.targetStart = targetStart; self.byTarget = byTarget; self.sourceStart = sourceStart; self.bySource = bySource
        self.inverseInDegree = inverseInDegree
    }

    /// The disjoint union of `copies` copies of these edges: copy c's edges are numbered c * count + k, its
    /// source and target rows shifted by c * sourceRows and c * targetRows. Equal to `init(source:target:...)`
    /// on the shifted lists, but built by shifting the already sorted arrays (no sorting, no range checks):
    /// integrated gradients stacks 25-50 copies of a graph per call, and re-sorting them was serial time
    /// before every batched pass.
    public func repeated(_ copies: Int) -> EdgeIndex {
        precondition(copies >= 1, "EdgeIndex.repeated: need at least one copy, got \(copies)")
        precondition(copies * max(count, sourceRows, targetRows) < Int(Int32.max), "EdgeIndex.repeated: more than 2^31 edges or rows")
        let e = Int32(count)
        return EdgeIndex(sourceRows: sourceRows * copies, targetRows: targetRows * copies,
                         source: EdgeIndex.tile(source, copies: copies, shift: Int32(sourceRows)),
                         target: EdgeIndex.tile(target, copies: copies, shift: Int32(targetRows)),
                         targetStart: EdgeIndex.tileStarts(targetStart, copies: copies, shift: e),
                         byTarget: EdgeIndex.tile(byTarget, copies: copies, shift: e),
                         sourceStart: EdgeIndex.tileStarts(sourceStart, copies: copies, shift: e),
                         bySource: EdgeIndex.tile(bySource, copies: copies, shift: e),
                         inverseInDegree: [Float]([[Float]](repeating: inverseInDegree, count: copies).joined()))
    }

    /// `copies` copies of `a`, copy c with `c * shift` added to every entry.
    static func tile(_ a: [Int32], copies: Int, shift: Int32) -> [Int32] {
        let n = a.count
        return [Int32](unsafeUninitializedCapacity: n * copies) { out, written in
            a.withUnsafeBufferPointer { src in
                for c in 0..<copies {
                    let d = out.baseAddress! + c * n, o = Int32(c) &* shift
                    for i in 0..<n { d[i] = src[i] &+ o }
                }
            }
            written = n * copies
        }
    }

    /// Row starts [rows + 1] of `copies` copies: each copy's first `rows` starts shifted by c * shift, then
    /// the total.
    static func tileStarts(_ starts: [Int32], copies: Int, shift: Int32) -> [Int32] {
        var out = tile(Array(starts.dropLast()), copies: copies, shift: shift)
        out.append(Int32(copies) &* shift)
        return out
    }

    /// The same edges read the other way (target -> source), sharing the sorted arrays; edge order (and so
    /// edge weights) unchanged.
    public var reversed: EdgeIndex { EdgeIndex(reversing: self) }

    /// Stable counting sort of edge ids by `key`: (row starts [rows + 1], edge ids).
    static func group(_ key: [Int32], rows: Int) -> ([Int32], [Int32]) {
        var start = [Int32](repeating: 0, count: rows + 1)
        for k in key { start[Int(k) + 1] += 1 }
        for r in 0..<rows { start[r + 1] += start[r] }
        var fill = start
        var ids = [Int32](repeating: 0, count: key.count)
        for (e, k) in key.enumerated() {
            ids[Int(fill[Int(k)])] = Int32(truncatingIfNeeded: e)
            fill[Int(k)] += 1
        }
        return (start, ids)
    }
}
