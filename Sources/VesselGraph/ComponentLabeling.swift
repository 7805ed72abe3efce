/// Connected-component labelling of binary planes (no recursion, no per-pixel allocation), numbered in
/// raster order of each component's first pixel.
struct ComponentLabeling {
    /// Label per pixel: -1 outside the foreground, else the component index (0-based).
    var labels: [Int32]
    /// Pixel count per component.
    var sizes: [Int]
    var count: Int { sizes.count }

    /// Labels the pixels where `foreground` is non-zero; `eightConnected` chooses 8- or 4-adjacency.
    /// Two raster passes with union-find over provisional labels (cache friendly, no stack).
    init(_ foreground: [UInt8], width w: Int, height h: Int, eightConnected: Bool) {
        var labels = [Int32](repeating: -1, count: w * h)
        // At most one provisional label per foreground pixel; preallocated so the hot loop never grows it.
        var parent = [Int32](repeating: 0, count: w * h + 1)
        var next: Int32 = 0
        labels.withUnsafeMutableBufferPointer { lab in
            parent.withUnsafeMutableBufferPointer { par in
                foreground.withUnsafeBufferPointer { fg in
                    for y in 0..<h {
                        let row = y * w
                        for x in 0..<w where fg[row + x] != 0 {
                            let p = row + x
                            var l: Int32 = -1
                            // Neighbours already visited in raster order: W, and N (plus NW, NE for 8-adjacency).
                            var m0: Int32 = -1, m1: Int32 = -1, m2: Int32 = -1, m3: Int32 = -1
                            if x > 0 { m0 = lab[p - 1] }
                            if y > 0 {
                                m1 = lab[p - w]
                                if eightConnected {
                                    if x > 0 { m2 = lab[p - w - 1] }
                                    if x + 1 < w { m3 = lab[p - w + 1] }
                                }
                            }
                            Self.merge(m0, into: &l, par); Self.merge(m1, into: &l, par)
                            Self.merge(m2, into: &l, par); Self.merge(m3, into: &l, par)
                            if l < 0 { l = next; par[Int(next)] = next; next += 1 }
                            lab[p] = l
                        }
                    }
                }
            }
        }
        // Final ids in raster order of each component's first pixel. That pixel took a fresh provisional label,
        // larger than those of every earlier component's first pixel, and unions keep the smaller root, so a
        // component's root is its first pixel's label: numbering the roots in increasing order numbers the
        // components in raster order. One id per provisional label first, then one lookup per pixel.
        let provisional = Int(next)
        var final = [Int32](repeating: -1, count: provisional)
        var count = 0
        parent.withUnsafeMutableBufferPointer { par in
            final.withUnsafeMutableBufferPointer { fin in
                for l in 0..<provisional {
                    let r = Int(Self.find(par, Int32(l)))
                    if r == l { fin[l] = Int32(count); count += 1 } else { fin[l] = fin[r] }
                }
            }
        }
        var sizes = [Int](repeating: 0, count: count)
        labels.withUnsafeMutableBufferPointer { lab in
            final.withUnsafeBufferPointer { fin in
                sizes.withUnsafeMutableBufferPointer { sz in
                    for p in 0..<(w * h) where lab[p] >= 0 {
                        let id = fin[Int(lab[p])]
                        lab[p] = id
                        sz[Int(id)] += 1
                    }
                }
            }
        }
        self.labels = labels
        self.sizes = sizes
    }

    @inline(__always)
    private static func merge(_ m: Int32, into l: inout Int32, _ par: UnsafeMutableBufferPointer<Int32>) {
        if m < 0 { return }
        if l < 0 { l = m } else if m != l { union(par, l, m) }
    }

    @inline(__always)
    private static func find(_ par: UnsafeMutableBufferPointer<Int32>, _ a: Int32) -> Int32 {
        var a = a
        while par[Int(a)] != a { par[Int(a)] = par[Int(par[Int(a)])]; a = par[Int(a)] }
        return a
    }

    @inline(__always)
    private static func union(_ par: UnsafeMutableBufferPointer<Int32>, _ a: Int32, _ b: Int32) {
        let ra = find(par, a), rb = find(par, b)
        if ra < rb { par[Int(rb)] = ra } else if rb < ra { par[Int(ra)] = rb }
    }

    /// Whether component `id` has a pixel on the image border, for every component.
    func touchesBorder(width w: Int, height h: Int) -> [Bool] {
        var t = [Bool](repeating: false, count: count)
        for x in 0..<w {
            if labels[x] >= 0 { t[Int(labels[x])] = true }
            let b = (h - 1) * w + x
            if labels[b] >= 0 { t[Int(labels[b])] = true }
        }
        for y in 0..<h {
            if labels[y * w] >= 0 { t[Int(labels[y * w])] = true }
            let r = y * w + w - 1
            if labels[r] >= 0 { t[Int(labels[r])] = true }
        }
        return t
    }
}

/// Binary morphology on 0/1 planes, with exact disks through the distance transform.
enum Morphology {
    /// Sets to 1 every 0-pixel not 4-connected to the image border (holes of the foreground).
    /// Works on the foreground's bounding box plus one pixel (holes lie inside it).
    static func fillHoles(_ m: [UInt8], width w: Int, height h: Int) -> [UInt8] {
        guard let box = boundingBox(m, width: w, height: h, pad: 1) else { return m }
        let cw = box.x1 - box.x0 + 1, ch = box.y1 - box.y0 + 1
        var empty = [UInt8](repeating: 0, count: cw * ch)
        for y in 0..<ch { for x in 0..<cw where m[(y + box.y0) * w + x + box.x0] == 0 { empty[y * cw + x] = 1 } }
        let cc = ComponentLabeling(empty, width: cw, height: ch, eightConnected: false)
        // A crop edge that is not the image edge is a padding row outside the foreground, so the crop border
        // stands for "outside" exactly like the image border does.
        let touches = cc.touchesBorder(width: cw, height: ch)
        var out = m
        for y in 0..<ch {
            for x in 0..<cw where empty[y * cw + x] != 0 && !touches[Int(cc.labels[y * cw + x])] {
                out[(y + box.y0) * w + x + box.x0] = 1
            }
        }
        return out
    }

    /// Bounding box of the non-zero pixels grown by `pad` (clamped to the image), or nil when there are none.
    static func boundingBox(_ m: [UInt8], width w: Int, height h: Int, pad: Int) -> (x0: Int, y0: Int, x1: Int, y1: Int)? {
        var x0 = w, x1 = -1, y0 = h, y1 = -1
        // Per row only its first and last set pixel matter: scan in from both ends (most rows of a FAZ-sized
        // region's plane are empty and cost one pass of plain byte tests).
        // Eight bytes per test where a whole word fits.
        m.withUnsafeBufferPointer { mb in
            let raw = UnsafeRawPointer(mb.baseAddress!)
            @inline(__always) func zero8(_ i: Int) -> Bool { raw.loadUnaligned(fromByteOffset: i, as: UInt64.self) == 0 }
            for y in 0..<h {
                let row = y * w
                var first = 0
                while first + 8 <= w && zero8(row + first) { first += 8 }
                while first < w && mb[row + first] == 0 { first += 1 }
                if first == w { continue }
                var end = w   // one past the last set pixel
                while end - 8 > first && zero8(row + end - 8) { end -= 8 }
                while mb[row + end - 1] == 0 { end -= 1 }
                x0 = min(x0, first); x1 = max(x1, end - 1); y0 = min(y0, y); y1 = max(y1, y)
            }
        }
        guard x1 >= 0 else { return nil }
        return (max(0, x0 - pad), max(0, y0 - pad), min(w - 1, x1 + pad), min(h - 1, y1 + pad))
    }

    /// Opening by a disk of `radiusPX`: keeps the union of all disks that fit inside the foreground.
    /// Works on the foreground's bounding box (plus a margin), so a small region costs little.
    static func open(_ m: [UInt8], width w: Int, height h: Int, radiusPX: Double) -> [UInt8] {
        guard let box = boundingBox(m, width: w, height: h, pad: Int(radiusPX.rounded(.up)) + 2) else { return m }
        let x0 = box.x0, y0 = box.y0, x1 = box.x1, y1 = box.y1
        let cw = x1 - x0 + 1, ch = y1 - y0 + 1
        var background = [UInt8](repeating: 0, count: cw * ch)
        for y in 0..<ch { for x in 0..<cw { background[y * cw + x] = m[(y + y0) * w + x + x0] == 0 ? 1 : 0 } }
        let r2 = Float(radiusPX * radiusPX)
        let dIn = DistanceTransform.squared(background, width: cw, height: ch)
        // Disk centres lie strictly farther than r from the background (erosion) ...
        let eroded = dIn.map { $0 > r2 ? UInt8(1) : 0 }
        // ... and the opening is every pixel within r of a centre (dilation).
        let dOut = DistanceTransform.squared(eroded, width: cw, height: ch)
        var out = [UInt8](repeating: 0, count: w * h)
        for y in 0..<ch { for x in 0..<cw where dOut[y * cw + x] <= r2 { out[(y + y0) * w + x + x0] = 1 } }
        return out
    }

    /// Dilation by a disk of `radiusPX` (every pixel within that distance of the foreground).
    static func dilate(_ m: [UInt8], width w: Int, height h: Int, radiusPX: Double) -> [UInt8] {
        guard let box = boundingBox(m, width: w, height: h, pad: Int(radiusPX.rounded(.up)) + 1) else { return m }
        let cw = box.x1 - box.x0 + 1, ch = box.y1 - box.y0 + 1
        var crop = [UInt8](repeating: 0, count: cw * ch)
        for y in 0..<ch { for x in 0..<cw { crop[y * cw + x] = m[(y + box.y0) * w + x + box.x0] } }
        let d = DistanceTransform.squared(crop, width: cw, height: ch)
        let r2 = Float(radiusPX * radiusPX)
        var out = [UInt8](repeating: 0, count: w * h)
        for y in 0..<ch { for x in 0..<cw where d[y * cw + x] <= r2 { out[(y + box.y0) * w + x + box.x0] = 1 } }
        return out
    }
}
