import Retina
/// One centreline branch between two branch points / free ends, as traced on the skeleton.
struct TracedSegment {
    /// Pixel indices (y * width + x) from one end to the other, both end pixels included.
    var path: [Int32]
    /// Junction-node index at each end (into `SkeletonTracer.Result.nodes`).
    var startNode: Int
    var endNode: Int
    /// Centreline length in px (steps of 1 or sqrt 2).
    var lengthPX: Double
}

/// Splits a skeleton into branch points (clusters of pixels with 3+ neighbours), free ends, and the
/// segments between them; prunes short spurs.
enum SkeletonTracer {
    /// A branch point or a free end.
    struct Node {
        /// Pixels of the node (one for an end, a cluster for a branch point).
        var pixels: [Int32]
        /// Number of segment ends meeting here.
        var degree: Int
    }

    struct Result {
        var skeleton: [UInt8]
        var nodes: [Node]
        var segments: [TracedSegment]
    }

    /// Traces `skeleton` (0/1, width x height), pruning spurs shorter than `spurLengthPX` (free-end branches
    /// attached to a branch point, isolated fragments, and isolated pixels or clusters with no segment) in one
    /// round. Every pixel of the returned skeleton lies on a segment path or in a node with a segment.
    static func trace(_ skeleton: [UInt8], width w: Int, height h: Int, spurLengthPX: Double) -> Result {
        var sk = skeleton
        // One pruning round: removing a spur can merge two segments but rarely exposes a new short spur.
        for _ in 0..<1 {
            // This pass only decides what to prune, so only the paths of spur candidates are kept (copying
            // and freeing every path was a fifth of the tracer's instructions).
            let r = traceOnce(sk, width: w, height: h, keepPathsShorterThanPX: spurLengthPX)
            var pruned = false
            var touched: [Int32] = []
            for s in r.segments where s.lengthPX < spurLengthPX {
                let da = r.nodes[s.startNode].degree, db = r.nodes[s.endNode].degree
                let freeA = da == 1, freeB = db == 1
                guard freeA || freeB else { continue }
                if freeA && freeB {
                    for p in s.path { sk[Int(p)] = 0 }
                    pruned = true
                } else {
                    // Remove the spur but not the branch-point pixel it hangs from.
                    let junction = r.nodes[freeA ? s.endNode : s.startNode].pixels
                    for p in s.path where !junction.contains(p) { sk[Int(p)] = 0 }
                    touched.append(contentsOf: junction)
                    pruned = true
                }
            }
            if !pruned { return withoutUnlinkedNodes(traceOnce(sk, width: w, height: h)) }
            // Pruning can leave redundant corner pixels where the spur left its branch point.
            Skeletonizer.removeRedundantCorners(&sk, width: w, height: h, around: touched)
        }
        return withoutUnlinkedNodes(traceOnce(sk, width: w, height: h))
    }

    /// `r` without the skeleton pixels of nodes that no segment reaches: isolated pixels and branch clusters of
    /// specks a pixel or two across, or junction pixels left alone once all their spurs were pruned. They would
    /// stay in the skeleton with no vessel node covering them. Their nodes are kept (indices stay valid) but
    /// emptied.
    static func withoutUnlinkedNodes(_ r: Result) -> Result {
        var r = r
        for k in 0..<r.nodes.count where r.nodes[k].degree == 0 {
            for p in r.nodes[k].pixels { r.skeleton[Int(p)] = 0 }
            r.nodes[k].pixels = []
        }
        return r
    }

    /// Segments and nodes of `sk`. Paths of segments at least `keepPathsShorterThanPX` long are left empty
    /// (the default keeps all).
    static func traceOnce(_ sk: [UInt8], width w: Int, height h: Int,
                          keepPathsShorterThanPX: Double = .infinity) -> Result {
        let n = w * h
        // Neighbour codes through a zero-padded copy, so no bounds tests in the 3x3 reads. Bit k of code[p] is
        // set when the k-th neighbour in raster order (NW, N, NE, W, E, SW, S, SE) is a skeleton pixel; the
        // bits are only ever set for neighbours inside the image, so `p + offset[k]` is always valid.
        let pw = w + 2
        var padded = [UInt8](repeating: 0, count: pw * (h + 2))
        var pixels: [Int32] = [], paddedIndex: [Int32] = []
        for y in 0..<h {
            for x in 0..<w where sk[y * w + x] != 0 {
                padded[(y + 1) * pw + x + 1] = 1; pixels.append(Int32(y * w + x)); paddedIndex.append(Int32((y + 1) * pw + x + 1))
            }
        }
        var code = [UInt8](repeating: 0, count: n)
        var nb = [UInt8](repeating: 0, count: n)
        let paddedOffset = [-pw - 1, -pw, -pw + 1, -1, 1, pw - 1, pw, pw + 1]
        let offset = [-w - 1, -w, -w + 1, -1, 1, w - 1, w, w + 1]
        padded.withUnsafeBufferPointer { b in
            for (j, p32) in pixels.enumerated() {
                let p = Int(p32), i = Int(paddedIndex[j])
                var c: UInt8 = 0
                for k in 0..<8 where b[i + paddedOffset[k]] != 0 { c |= 1 << UInt8(k) }
                code[p] = c
                nb[p] = UInt8(c.nonzeroBitCount)
            }
        }
        // Node id per pixel: -1 regular (2 neighbours) or background; ends and branch clusters get ids.
        var nodeOf = [Int32](repeating: -1, count: n)
        var nodes: [Node] = []
        var stack: [Int32] = []
        for p32 in pixels {
            let p = Int(p32)
            if nb[p] == 2 || nodeOf[p] >= 0 { continue }
            let id = Int32(nodes.count)
            if nb[p] <= 1 {
                nodeOf[p] = id
                nodes.append(Node(pixels: [p32], degree: 0))
                continue
            }
            var cluster: [Int32] = []
            nodeOf[p] = id
            stack.append(p32)
            while let q32 = stack.popLast() {
                cluster.append(q32)
                let q = Int(q32), c = code[q]
                for k in 0..<8 where c & (1 << UInt8(k)) != 0 {
                    let r = q + offset[k]
                    if nb[r] >= 3 && nodeOf[r] < 0 { nodeOf[r] = id; stack.append(Int32(r)) }
                }
            }
            nodes.append(Node(pixels: cluster, degree: 0))
        }
        var visited = [Bool](repeating: false, count: n)
        var segments: [TracedSegment] = []

        // a and b are 8-neighbours: axial when their indices differ by 1 or by a row (no divisions; w >= 8).
        func step(_ a: Int, _ b: Int) -> Double { let d = abs(a - b); return d == 1 || d == w ? 1 : 2.0.squareRoot() }

        // One scratch buffer for every walk: the path is copied out once at its final size, instead of an
        // array that reallocates as it grows (this was a tenth of the tracer's time).
        var scratch: [Int32] = []
        scratch.reserveCapacity(1024)

        // Walks from node pixel `start` through neighbour `first` until another node pixel (or a dead end).
        func walk(from start: Int, via first: Int, startNode: Int) {
            scratch.removeAll(keepingCapacity: true)
            scratch.append(Int32(start)); scratch.append(Int32(first))
            var length = step(start, first)
            var prev = start, cur = first
            while nodeOf[cur] < 0 {
                visited[cur] = true
                var next = -1
                let c = code[cur]
                for k in 0..<8 where c & (1 << UInt8(k)) != 0 {
                    let r = cur + offset[k]
                    if r == prev { continue }
                    // Do not step straight back into the start cluster on the first step.
                    if nodeOf[r] >= 0 && !(scratch.count == 2 && Int(nodeOf[r]) == startNode) { next = r; break }
                    if nodeOf[r] < 0 && !visited[r] { next = r }
                }
                if next < 0 { break }
                scratch.append(Int32(next))
                length += step(cur, next)
                prev = cur; cur = next
            }
            var endNode = nodeOf[cur] >= 0 ? Int(nodeOf[cur]) : -1
            if endNode < 0 {
                // A dead end on a regular pixel (rare thinning artefact): make it a free end.
                endNode = nodes.count
                nodeOf[cur] = Int32(endNode)
                nodes.append(Node(pixels: [Int32(cur)], degree: 0))
            }
            nodes[startNode].degree += 1
            nodes[endNode].degree += 1
            segments.append(TracedSegment(path: length < keepPathsShorterThanPX ? Array(scratch) : [],
                                          startNode: startNode, endNode: endNode, lengthPX: length))
        }

        var directPairs = Set<Int64>()
        for id in 0..<nodes.count {
            for p32 in nodes[id].pixels {
                let p = Int(p32), c = code[p]
                for k in 0..<8 where c & (1 << UInt8(k)) != 0 {
                    let q = p + offset[k]
                    let other = Int(nodeOf[q])
                    if other < 0 {
                        if !visited[q] { walk(from: p, via: q, startNode: id) }
                    } else if other > id && directPairs.insert(Int64(id) << 32 | Int64(other)).inserted {
                        // Two nodes touching directly: a one-step segment, created once per node pair.
                        nodes[id].degree += 1
                        nodes[other].degree += 1
                        segments.append(TracedSegment(path: [p32, Int32(q)], startNode: id, endNode: other,
                                                      lengthPX: step(p, q)))
                    }
                }
            }
        }
        // Closed loops without any branch point: start anywhere on them.
        for p32 in pixels where nodeOf[Int(p32)] < 0 && !visited[Int(p32)] {
            let p = Int(p32)
            let id = nodes.count
            nodeOf[p] = Int32(id)
            nodes.append(Node(pixels: [p32], degree: 0))
            var first = -1
            let c = code[p]
            for k in 0..<8 where c & (1 << UInt8(k)) != 0 { first = p + offset[k] }
            if first >= 0 && nodeOf[first] < 0 { walk(from: p, via: first, startNode: id) }
        }
        return Result(skeleton: sk, nodes: nodes, segments: segments)
    }
}
