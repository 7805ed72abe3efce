/// Topology-preserving thinning of a binary mask to an 8-connected, one-pixel-wide centreline.
///
/// Zhang-Suen thinning (1984), followed by removal of the redundant corner pixels it leaves on staircases
/// (a pixel whose foreground neighbours form one 8-connected group is not needed for connectivity), so that
/// ordinary centreline pixels have exactly two neighbours and only true branch points have three or more.
/// Works on a copy padded by one pixel, so neighbour reads never leave the buffer; the deletion rules are
/// precomputed for all 256 neighbourhoods. Shared by VesselGraph's centrelines and Retina's mask measurements
/// (`VesselMaskMorphometry`, the simulator's skeleton-length truth), so both measure the same skeleton.
public enum Skeletonizer {
    /// Neighbour order: N, NE, E, SE, S, SW, W, NW (clockwise from north).
    static let dx = [0, 1, 1, 1, 0, -1, -1, -1]
    static let dy = [-1, -1, 0, 1, 1, 1, 0, -1]

    /// For each 8-bit neighbourhood code: the number of 8-connected groups among the set neighbours.
    /// Two ring neighbours touch when they are next to each other on the ring, or both are edge neighbours
    /// (N, E, S, W: even bits) two steps apart (N and E touch; NE and SE do not). Groups are grown by those
    /// bit rotations: a few hundred instructions for the table, where a union-find with a `Set` per code cost
    /// about a million per process.
    static let groups: [UInt8] = (0..<256).map { code in
        @inline(__always) func rot(_ v: Int, _ k: Int) -> Int { ((v << k) | (v >> (8 - k))) & 0xFF }
        var rest = code, n: UInt8 = 0
        while rest != 0 {
            var group = rest & -rest
            while true {
                let edges = group & 0x55
                let grown = (group | rot(group, 1) | rot(group, 7) | rot(edges, 2) | rot(edges, 6)) & code
                if grown == group { break }
                group = grown
            }
            rest &= ~group
            n += 1
        }
        return n
    }

    /// Zhang-Suen deletability per neighbourhood code, for sub-iteration 0 (bit 0) and 1 (bit 1), with Lü and
    /// Wang's (1986) correction: at least 3 (not 2) foreground neighbours. Plain Zhang-Suen deletes a pixel with
    /// two adjacent neighbours, which is the free end of a 2-pixel-thick diagonal staircase; thick vessels near
    /// 45 degrees pass through that state while thinning, and the whole run was then eaten from its free end
    /// inwards, one pixel per pass, leaving a long stretch of vessel with no centreline. The staircase corners
    /// this keeps are removed afterwards (`redundantCorner`).
    static let zhangSuen: [UInt8] = (0..<256).map { c in
        let n = c.nonzeroBitCount
        guard n >= 3 && n <= 6 else { return 0 }
        var a = 0
        for k in 0..<8 where c & (1 << k) == 0 && c & (1 << ((k + 1) & 7)) != 0 { a += 1 }
        guard a == 1 else { return 0 }
        let north = c & 1 != 0, east = c & 4 != 0, south = c & 16 != 0, west = c & 64 != 0
        var r: UInt8 = 0
        if !(north && east && south) && !(east && south && west) { r |= 1 }
        if !(north && east && west) && !(north && south && west) { r |= 2 }
        return r
    }

    /// Staircase corners that can go: one neighbour group and two edge neighbours at right angles (N+E, E+S,
    /// S+W, W+N). Restricting to corners keeps line ends (N+NE) intact.
    static let redundantCorner: [Bool] = (0..<256).map { c in
        let n = c & 1 != 0, e = c & 4 != 0, s = c & 16 != 0, w = c & 64 != 0
        return c.nonzeroBitCount >= 2 && groups[c] == 1 && ((n && e) || (e && s) || (s && w) || (w && n))
    }

    /// The neighbour code (bit order of `dx`/`dy`) of a 9-bit row-wise index: bits 0-2 the west column (NW,
    /// W, SW), bits 3 and 5 the centre column (N, S; bit 4 is the pixel itself, always 0), bits 6-8 the east
    /// column (NE, E, SE). That is the order the 4-byte row loads in `thin` produce.
    static func rowIndexed(_ idx: Int) -> Int {
        let nw = idx & 1, w = idx >> 1 & 1, sw = idx >> 2 & 1, n = idx >> 3 & 1, s = idx >> 5 & 1
        let ne = idx >> 6 & 1, e = idx >> 7 & 1, se = idx >> 8 & 1
        return n | ne << 1 | e << 2 | se << 3 | s << 4 | sw << 5 | w << 6 | nw << 7
    }
    /// `zhangSuen` and `redundantCorner` by 9-bit row-wise index.
    static let zhangSuenByRows: [UInt8] = (0..<512).map { zhangSuen[rowIndexed($0)] }
    static let redundantCornerByRows: [Bool] = (0..<512).map { redundantCorner[rowIndexed($0)] }

    /// The skeleton of `mask` (width x height, 1 = foreground) as a 0/1 plane of the same size.
    public static func thin(_ mask: [UInt8], width w: Int, height h: Int) -> [UInt8] {
        let pw = w + 2, ph = h + 2
        // Three spare bytes: the neighbourhood reads load 4 bytes at a time, up to 2 past the last pixel's SE.
        let b = UnsafeMutablePointer<UInt8>.allocate(capacity: pw * ph + 3)
        b.initialize(repeating: 0, count: pw * ph + 3)
        // Bit k set: the pixel must be (re-)tested in sub-iteration k. A pixel that survived sub-iteration k
        // keeps its verdict until one of its 8 neighbours is deleted, so only those are tested again; the
        // deletions, and so the skeleton, are exactly those of testing every live pixel every time.
        let dt = UnsafeMutablePointer<UInt8>.allocate(capacity: pw * ph)
        dt.initialize(repeating: 0, count: pw * ph)
        // Foreground as 0/1 bytes (a branch-free copy the compiler vectorises); the queues are sized for the
        // whole image so the foreground need not be counted first.
        mask.withUnsafeBufferPointer { m in
            for y in 0..<h {
                let row = y * w, prow = (y + 1) * pw + 1
                for x in 0..<w { b[prow + x] = m[row + x] != 0 ? 1 : 0 }
            }
        }
        let capacity = max(1, w * h)
        // Queue of the pixels to test per sub-iteration (exactly those with that dirty bit; a bit is set only
        // when the pixel is queued, so each queue holds a pixel at most once): each pass costs what changed,
        // not a sweep over every foreground pixel.
        let queue = (UnsafeMutablePointer<Int32>.allocate(capacity: capacity),
                     UnsafeMutablePointer<Int32>.allocate(capacity: capacity))
        let del = UnsafeMutablePointer<Int32>.allocate(capacity: capacity)
        defer { b.deallocate(); dt.deallocate(); queue.0.deallocate(); queue.1.deallocate(); del.deallocate() }
        let raw = UnsafeRawPointer(b)
        // The foreground pixels of padded row `prow`'s w pixels, in order, 8 bytes per load: the loads skip
        // empty stretches, and a bit scan finds the set bytes (each 0 or 1, so one bit per set byte). Reads at
        // most 7 bytes past the row, into the padding or the next row (masked off).
        @inline(__always) func rowWord(_ prow: Int, _ x0: Int) -> UInt64 {
            let word = UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: prow + x0, as: UInt64.self))
            return w - x0 >= 8 ? word : word & ((1 << UInt64(8 * (w - x0))) - 1)
        }
        var c = 0
        for y in 0..<h {
            let prow = (y + 1) * pw + 1
            var x0 = 0
            while x0 < w {
                var word = rowWord(prow, x0)
                while word != 0 {
                    let i = prow + x0 + word.trailingZeroBitCount >> 3
                    queue.0[c] = Int32(i); queue.1[c] = Int32(i); dt[i] = 3; c += 1
                    word &= word - 1
                }
                x0 += 8
            }
        }
        var queued = (c, c)
        // The 3x3 neighbourhood as a 9-bit index (see `rowIndexed`) from three 4-byte loads, one per row,
        // instead of eight byte reads.
        @inline(__always) func code(_ i: Int) -> Int {
            let a = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i - pw - 1, as: UInt32.self)) & 0x01_0101
            let m = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i - 1, as: UInt32.self)) & 0x01_0001
            let c = UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: i + pw - 1, as: UInt32.self)) & 0x01_0101
            let key = a | m << 1 | c << 2
            return Int((key & 0x7) | ((key >> 5) & 0x28) | ((key >> 10) & 0x1C0))
        }
        @inline(__always) func requeue(_ i: Int) {
            guard b[i] != 0 else { return }
            let d = dt[i]
            if d & 1 == 0 { queue.0[queued.0] = Int32(i); queued.0 += 1 }
            if d & 2 == 0 { queue.1[queued.1] = Int32(i); queued.1 += 1 }
            dt[i] = 3
        }
        zhangSuenByRows.withUnsafeBufferPointer { zs in
            var changed = true
            while changed {
                changed = false
                for pass in 0..<2 {
                    let bit = UInt8(1 << pass)
                    let q = pass == 0 ? queue.0 : queue.1
                    let m = pass == 0 ? queued.0 : queued.1
                    var nDel = 0
                    for j in 0..<m {
                        let i = Int(q[j])
                        if b[i] == 0 { continue }
                        dt[i] &= ~bit
                        if zs[code(i)] & bit != 0 { del[nDel] = q[j]; nDel += 1 }
                    }
                    if pass == 0 { queued.0 = 0 } else { queued.1 = 0 }
                    if nDel > 0 {
                        changed = true
                        for k in 0..<nDel { b[Int(del[k])] = 0 }
                        for k in 0..<nDel {
                            let i = Int(del[k])
                            requeue(i - pw - 1); requeue(i - pw); requeue(i - pw + 1); requeue(i - 1)
                            requeue(i + 1); requeue(i + pw - 1); requeue(i + pw); requeue(i + pw + 1)
                        }
                    }
                }
            }
        }
        // Staircase clean-up in raster order, sequential so each removal sees the previous ones; a row is
        // final once its own pixels were visited.
        // A pixel's own byte changes only when it is visited, so a row word loaded before its pixels are
        // visited still tells which of them are set.
        var out = [UInt8](repeating: 0, count: w * h)
        out.withUnsafeMutableBufferPointer { o in
            redundantCornerByRows.withUnsafeBufferPointer { rc in
                for y in 0..<h {
                    // Padded index minus output index on this row.
                    let prow = (y + 1) * pw + 1, shift = prow - y * w
                    var x0 = 0
                    while x0 < w {
                        var word = rowWord(prow, x0)
                        while word != 0 {
                            let i = prow + x0 + word.trailingZeroBitCount >> 3
                            if rc[code(i)] { b[i] = 0 } else { o[i - shift] = 1 }
                            word &= word - 1
                        }
                        x0 += 8
                    }
                }
            }
        }
        return out
    }

    /// Removes staircase-corner pixels (see `redundantCorner`) in the 3x3 neighbourhoods of `pixels`, in order.
    /// `sk` holds 0 or 1 per pixel (as `thin` returns); `pixels` are indices y * w + x inside the image.
    public static func removeRedundantCorners(_ sk: inout [UInt8], width w: Int, height h: Int, around pixels: [Int32]) {
        sk.withUnsafeMutableBufferPointer { sk in
        redundantCorner.withUnsafeBufferPointer { corner in
        for p32 in pixels {
            let p = Int(p32), py = p / w, px = p - py * w
            if px >= 2 && py >= 2 && px < w - 2 && py < h - 2 {
                // Interior fast path (all but a 2-pixel frame): every pixel of the block has its 8 neighbours
                // in the image, so they are read without bounds tests. Skeleton bytes are 0 or 1, so the code is
                // built from the bytes directly. Same raster order as below: results are identical.
                let s = sk.baseAddress!
                for y in -1...1 {
                    for x in -1...1 where s[p + y * w + x] != 0 {
                        let i = p + y * w + x
                        let c = Int(s[i - w]) | Int(s[i - w + 1]) << 1 | Int(s[i + 1]) << 2 | Int(s[i + w + 1]) << 3
                            | Int(s[i + w]) << 4 | Int(s[i + w - 1]) << 5 | Int(s[i - 1]) << 6 | Int(s[i - w - 1]) << 7
                        if corner[c] { s[i] = 0 }
                    }
                }
                continue
            }
            for y in max(0, py - 1)...min(h - 1, py + 1) {
                for x in max(0, px - 1)...min(w - 1, px + 1) where sk[y * w + x] != 0 {
                    // Neighbour bits N, NE, E, SE, S, SW, W, NW (0 outside the image). Written out: reading the
                    // static offset tables here cost a lazy-global check per read.
                    @inline(__always) func on(_ xx: Int, _ yy: Int) -> Int {
                        xx >= 0 && yy >= 0 && xx < w && yy < h && sk[yy * w + xx] != 0 ? 1 : 0
                    }
                    let c = on(x, y - 1) | on(x + 1, y - 1) << 1 | on(x + 1, y) << 2 | on(x + 1, y + 1) << 3
                        | on(x, y + 1) << 4 | on(x - 1, y + 1) << 5 | on(x - 1, y) << 6 | on(x - 1, y - 1) << 7
                    if corner[c] { sk[y * w + x] = 0 }
                }
            }
        }
        }
        }
    }
}
