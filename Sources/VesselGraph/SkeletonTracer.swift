import Retina
/// One centreline branch between two branch points / free ends, as traced on the skeleton.
struct TracedSegment {
    /// Pixel indices (y * width + x) from one end to the other, both end pixels included (a slice of
    /// `SkeletonTracer.Result.pathPixels`: index it from `path.startIndex`).
    var path: ArraySlice<Int32>
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
        /// Pixels of the node (one for an end, a cluster for a branch point); a slice of one flat list.
        var pixels: ArraySlice<Int32>
        /// Number of segment ends meeting here.
        var degree: Int
    }

    struct Result {
        var skeleton: [UInt8]
        var nodes: [Node]
        var segments: [TracedSegment]
        /// All segment paths concatenated in segment order (empty paths of long segments in the pruning
        /// pass contribute nothing).
        var pathPixels: [Int32]
    }

    /// Traces `skeleton` (0/1, width x height), pruning spurs shorter than `spurLengthPX` (free-end branches
    /// attached to a branch point, isolated fragments, and isolated pixels or clusters with no segment) in one
    /// round. Every pixel of the returned skeleton lies on a segment path or in a node with a segment.
    static func trace(_ skeleton: [UInt8], width w: Int, height h: Int, spurLengthPX: Double) -> Result {
        var sk = skeleton
        // One pruning round: removing a spur can merge two segments but rarely exposes a new short spur.
        // This pass only decides what to prune, so only the paths of spur candidates are kept (copying and
        // freeing every path was a fifth of the tracer's instructions), and its state is read in place rather
        // than handed out as arrays of nodes and segments.
        var pruned = false
        var touched: [Int32] = []
        do {
            var t = TraceState(sk, width: w, height: h, keepPathsShorterThanPX: spurLengthPX)
            defer { t.free() }
            t.findNodes()
            t.walkFromNodes()
            t.walkLoops()
            sk.withUnsafeMutableBufferPointer { skb in
                for k in 0..<t.segPathStart.count where t.segLength[k] < spurLengthPX {
                    let na = t.segStartNode[k], nb = t.segEndNode[k]
                    let freeA = t.degree[na] == 1, freeB = t.degree[nb] == 1
                    guard freeA || freeB else { continue }
                    let path = t.segPathStart[k]..<t.segPathEnd[k]
                    if freeA && freeB {
                        for j in path { skb[Int(t.pathPixels[j])] = 0 }
                    } else {
                        // Remove the spur but not the branch-point pixel it hangs from.
                        let junction = t.pixelRange(ofNode: freeA ? nb : na)
                        for j in path {
                            let p = t.pathPixels[j]
                            var inJunction = false
                            for q in junction where t.nodePixels[q] == p { inJunction = true; break }
                            if !inJunction { skb[Int(p)] = 0 }
                        }
                        for q in junction { touched.append(t.nodePixels[q]) }
                    }
                    pruned = true
                }
            }
            if pruned {
                // Pruning can leave redundant corner pixels where the spur left its branch point.
                Skeletonizer.removeRedundantCorners(&sk, width: w, height: h, around: touched)
            }
            // The final pass on the pruned skeleton reuses this state: neighbour codes are patched around the
            // removed pixels (the same codes a fresh start computes), all paths kept.
            t.restart(on: sk, keepPathsShorterThanPX: .infinity)
            t.findNodes()
            t.walkFromNodes()
            t.walkLoops()
            return withoutUnlinkedNodes(t.result(skeleton: sk))
        }
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
        var t = TraceState(sk, width: w, height: h, keepPathsShorterThanPX: keepPathsShorterThanPX)
        defer { t.free() }
        t.findNodes()
        t.walkFromNodes()
        t.walkLoops()
        return t.result(skeleton: sk)
    }
}

/// The working state of one `SkeletonTracer.traceOnce`: per-pixel raw buffers and flat lists of node pixels
/// and paths (sliced only at the end). One small array per node and per path, uniqueness checks on arrays
/// captured by the walk, and dynamic exclusivity checks on variables captured by nested functions were most
/// of the tracer's instructions; as stored properties of a struct used through `mutating` methods they need
/// none of that.
private struct TraceState {
    let w: Int
    var keep: Double
    /// Neighbour codes: bit k is set when the k-th neighbour in raster order (NW, N, NE, W, E, SW, S, SE) is
    /// a skeleton pixel; the bits are only ever set for neighbours inside the image, so `p + offset[k]` is
    /// always valid.
    let code: UnsafeMutablePointer<UInt8>
    /// Number of skeleton neighbours.
    let nb: UnsafeMutablePointer<UInt8>
    /// Node id per pixel: -1 regular (2 neighbours) or background; ends and branch clusters get ids.
    let nodeOf: UnsafeMutablePointer<Int32>
    let visited: UnsafeMutablePointer<Bool>
    let offset: UnsafeMutablePointer<Int>
    /// Skeleton pixels in raster order.
    var pixels: RawList<Int32>
    /// Node k's pixels are nodePixels[nodeStart[k]..<nodeStart[k + 1]] (the last one up to the end).
    var nodePixels: RawList<Int32>
    var nodeStart: RawList<Int>
    var degree: RawList<Int>
    var stack: RawList<Int32>
    /// Segment k's path is pathPixels[segPathStart[k]..<segPathEnd[k]].
    var pathPixels: RawList<Int32>
    var segPathStart: RawList<Int>
    var segPathEnd: RawList<Int>
    var segStartNode: RawList<Int>
    var segEndNode: RawList<Int>
    var segLength: RawList<Double>
    /// Higher node ids already joined to the current one by a one-step segment.
    var partners: RawList<Int32>

    init(_ sk: [UInt8], width w: Int, height h: Int, keepPathsShorterThanPX: Double) {
        self.w = w
        keep = keepPathsShorterThanPX
        let n = w * h, pw = w + 2
        code = .allocate(capacity: n)
        nb = .allocate(capacity: n)
        nodeOf = .allocate(capacity: n)
        nodeOf.initialize(repeating: -1, count: n)
        visited = .allocate(capacity: n)
        visited.initialize(repeating: false, count: n)
        offset = .allocate(capacity: 8)
        for (k, o) in [-w - 1, -w, -w + 1, -1, 1, w - 1, w, w + 1].enumerated() { offset[k] = o }
        // Codes through a zero-padded copy, so no bounds tests in the 3x3 reads.
        let padded = UnsafeMutablePointer<UInt8>.allocate(capacity: pw * (h + 2))
        padded.initialize(repeating: 0, count: pw * (h + 2))
        defer { padded.deallocate() }
        var pixels = RawList<Int32>(capacity: n / 8), paddedIndex = RawList<Int32>(capacity: n / 8)
        defer { paddedIndex.free() }
        sk.withUnsafeBufferPointer { s in
            for y in 0..<h {
                let row = y * w, prow = (y + 1) * pw + 1
                for x in 0..<w where s[row + x] != 0 {
                    padded[prow + x] = 1; pixels.append(Int32(row + x)); paddedIndex.append(Int32(prow + x))
                }
            }
        }
        for j in 0..<pixels.count {
            let p = Int(pixels[j]), i = Int(paddedIndex[j])
            var c = padded[i - pw - 1] | padded[i - pw] << 1 | padded[i - pw + 1] << 2 | padded[i - 1] << 3
            c |= padded[i + 1] << 4 | padded[i + pw - 1] << 5 | padded[i + pw] << 6 | padded[i + pw + 1] << 7
            code[p] = c
            nb[p] = UInt8(c.nonzeroBitCount)
        }
        self.pixels = pixels
        let m = pixels.count
        nodePixels = RawList(capacity: m); nodeStart = RawList(capacity: m / 4); degree = RawList(capacity: m / 4)
        stack = RawList(capacity: 64); partners = RawList(capacity: 16)
        pathPixels = RawList(capacity: m + m / 2)
        segPathStart = RawList(capacity: m / 4); segPathEnd = RawList(capacity: m / 4)
        segStartNode = RawList(capacity: m / 4); segEndNode = RawList(capacity: m / 4); segLength = RawList(capacity: m / 4)
    }

    /// Starts over on `sk`, the skeleton this state was built from with some pixels cleared (none added):
    /// each cleared pixel's bit is removed from its neighbours' codes, the pixel list keeps the remaining ones
    /// in raster order, and per-pixel marks and all lists are reset; afterwards the state is exactly that of a
    /// fresh `init(sk, ...)`, without the full-image scan.
    mutating func restart(on sk: [UInt8], keepPathsShorterThanPX: Double) {
        keep = keepPathsShorterThanPX
        var kept = 0
        sk.withUnsafeBufferPointer { s in
            for j in 0..<pixels.count {
                let p = Int(pixels[j])
                nodeOf[p] = -1
                visited[p] = false
                if s[p] != 0 { pixels[kept] = Int32(p); kept += 1; continue }
                // Neighbour k of p sees p as its neighbour 7 - k (the offsets are symmetric in this order).
                let c = code[p]
                for k in 0..<8 where c & (1 << UInt8(k)) != 0 {
                    let q = p + offset[k]
                    code[q] &= ~(1 << UInt8(7 - k))
                    nb[q] -= 1
                }
            }
        }
        pixels.truncate(to: kept)
        nodePixels.truncate(to: 0); nodeStart.truncate(to: 0); degree.truncate(to: 0); stack.truncate(to: 0)
        pathPixels.truncate(to: 0); segPathStart.truncate(to: 0); segPathEnd.truncate(to: 0)
        segStartNode.truncate(to: 0); segEndNode.truncate(to: 0); segLength.truncate(to: 0); partners.truncate(to: 0)
    }

    func free() {
        code.deallocate(); nb.deallocate(); nodeOf.deallocate(); visited.deallocate(); offset.deallocate()
        pixels.free(); nodePixels.free(); nodeStart.free(); degree.free(); stack.free(); partners.free()
        pathPixels.free(); segPathStart.free(); segPathEnd.free(); segStartNode.free(); segEndNode.free(); segLength.free()
    }

    /// Indices into `nodePixels` of node k's pixels.
    @inline(__always)
    func pixelRange(ofNode k: Int) -> Range<Int> {
        nodeStart[k]..<(k + 1 < nodeStart.count ? nodeStart[k + 1] : nodePixels.count)
    }

    @inline(__always)
    mutating func newNode(_ p: Int) -> Int {
        let id = nodeStart.count
        nodeOf[p] = Int32(id)
        nodeStart.append(nodePixels.count); degree.append(0)
        return id
    }

    /// Ends (one pixel) and branch clusters (8-connected pixels with 3+ neighbours), in raster order of their
    /// first pixel; a cluster's pixels in depth-first order.
    mutating func findNodes() {
        for j in 0..<pixels.count {
            let p = Int(pixels[j])
            if nb[p] == 2 || nodeOf[p] >= 0 { continue }
            let id = newNode(p)
            if nb[p] <= 1 { nodePixels.append(Int32(p)); continue }
            stack.append(Int32(p))
            while stack.count > 0 {
                let q32 = stack[stack.count - 1]
                stack.truncate(to: stack.count - 1)
                nodePixels.append(q32)
                let q = Int(q32), c = code[q]
                for k in 0..<8 where c & (1 << UInt8(k)) != 0 {
                    let r = q + offset[k]
                    if nb[r] >= 3 && nodeOf[r] < 0 { nodeOf[r] = Int32(id); stack.append(Int32(r)) }
                }
            }
        }
    }

    /// a and b are 8-neighbours: axial when their indices differ by 1 or by a row (no divisions; w >= 8).
    @inline(__always)
    func step(_ a: Int, _ b: Int) -> Double { let d = abs(a - b); return d == 1 || d == w ? 1 : 2.0.squareRoot() }

    /// Records the segment whose path starts at `pathPixels[start]` and runs to the end of the list.
    @inline(__always)
    mutating func addSegment(from start: Int, _ startNode: Int, to endNode: Int, length: Double) {
        degree[startNode] += 1
        degree[endNode] += 1
        // A path too long to keep is dropped from the flat list again.
        if !(length < keep) { pathPixels.truncate(to: start) }
        segPathStart.append(start); segPathEnd.append(pathPixels.count)
        segStartNode.append(startNode); segEndNode.append(endNode); segLength.append(length)
    }

    /// Walks from node pixel `start` through neighbour `first` until another node pixel (or a dead end).
    mutating func walk(from start: Int, via first: Int, startNode: Int) {
        let pathStart = pathPixels.count
        pathPixels.append(Int32(start)); pathPixels.append(Int32(first))
        var length = step(start, first)
        var prev = start, cur = first
        var firstStep = true   // the path holds just `start` and `first`
        while nodeOf[cur] < 0 {
            visited[cur] = true
            var next = -1
            let c = code[cur]
            for k in 0..<8 where c & (1 << UInt8(k)) != 0 {
                let r = cur + offset[k]
                if r == prev { continue }
                // Do not step straight back into the start cluster on the first step.
                let o = nodeOf[r]
                if o >= 0 && !(firstStep && Int(o) == startNode) { next = r; break }
                if o < 0 && !visited[r] { next = r }
            }
            if next < 0 { break }
            pathPixels.append(Int32(next))
            firstStep = false
            length += step(cur, next)
            prev = cur; cur = next
        }
        var endNode = Int(nodeOf[cur])
        if endNode < 0 {
            // A dead end on a regular pixel (rare thinning artefact): make it a free end.
            endNode = newNode(cur)
            nodePixels.append(Int32(cur))
        }
        addSegment(from: pathStart, startNode, to: endNode, length: length)
    }

    /// Every segment leaving a node found by `findNodes` (ends created by walks are not visited again).
    /// Node pairs touching directly get a one-step segment, created once per pair while visiting the lower id.
    mutating func walkFromNodes() {
        let clusterNodes = nodeStart.count, clusterPixelsEnd = nodePixels.count
        for id in 0..<clusterNodes {
            partners.truncate(to: 0)
            for j in nodeStart[id]..<(id + 1 < clusterNodes ? nodeStart[id + 1] : clusterPixelsEnd) {
                let p = Int(nodePixels[j]), c = code[p]
                for k in 0..<8 where c & (1 << UInt8(k)) != 0 {
                    let q = p + offset[k]
                    let other = nodeOf[q]
                    if other < 0 {
                        if !visited[q] { walk(from: p, via: q, startNode: id) }
                    } else if Int(other) > id {
                        var seen = false
                        for t in 0..<partners.count where partners[t] == other { seen = true; break }
                        if seen { continue }
                        partners.append(other)
                        let s = pathPixels.count
                        pathPixels.append(Int32(p)); pathPixels.append(Int32(q))
                        addSegment(from: s, id, to: Int(other), length: step(p, q))
                    }
                }
            }
        }
    }

    /// Closed loops without any branch point: start anywhere on them.
    mutating func walkLoops() {
        for j in 0..<pixels.count {
            let p = Int(pixels[j])
            if nodeOf[p] >= 0 || visited[p] { continue }
            let id = newNode(p)
            nodePixels.append(Int32(p))
            var first = -1
            let c = code[p]
            for k in 0..<8 where c & (1 << UInt8(k)) != 0 { first = p + offset[k] }
            if first >= 0 && nodeOf[first] < 0 { walk(from: p, via: first, startNode: id) }
        }
    }

    func result(skeleton sk: [UInt8]) -> SkeletonTracer.Result {
        let flatNodes = nodePixels.array(), flatPaths = pathPixels.array()
        var nodes: [SkeletonTracer.Node] = []
        nodes.reserveCapacity(nodeStart.count)
        for k in 0..<nodeStart.count {
            let end = k + 1 < nodeStart.count ? nodeStart[k + 1] : flatNodes.count
            nodes.append(SkeletonTracer.Node(pixels: flatNodes[nodeStart[k]..<end], degree: degree[k]))
        }
        var segments: [TracedSegment] = []
        segments.reserveCapacity(segPathStart.count)
        for k in 0..<segPathStart.count {
            segments.append(TracedSegment(path: flatPaths[segPathStart[k]..<segPathEnd[k]], startNode: segStartNode[k],
                                          endNode: segEndNode[k], lengthPX: segLength[k]))
        }
        return SkeletonTracer.Result(skeleton: sk, nodes: nodes, segments: segments, pathPixels: flatPaths)
    }
}
