/// Connected-component labelling of binary planes with an explicit integer stack (no recursion, no
/// per-pixel allocation), in raster order of each component's first pixel.
struct ComponentLabeling {
    /// Label per pixel: -1 outside the foreground, else the component index (0-based).
    var labels: [Int32]
    /// Pixel count per component.
    var sizes: [Int]
    var count: Int { sizes.count }

    /// Labels the pixels where `foreground` is non-zero; `eightConnected` chooses 8- or 4-adjacency.
    init(_ foreground: [UInt8], width w: Int, height h: Int, eightConnected: Bool) {
        var labels = [Int32](repeating: -1, count: w * h)
        var sizes: [Int] = []
        var stack = [Int32](repeating: 0, count: w * h + 1)
        labels.withUnsafeMutableBufferPointer { lab in
            stack.withUnsafeMutableBufferPointer { st in
                foreground.withUnsafeBufferPointer { fg in
                    for start in 0..<(w * h) where fg[start] != 0 && lab[start] < 0 {
                        let id = Int32(sizes.count)
                        var n = 0, top = 0
                        lab[start] = id
                        st[top] = Int32(start); top += 1
                        while top > 0 {
                            top -= 1
                            let p = Int(st[top])
                            n += 1
                            let x = p % w
                            let left = x > 0, right = x + 1 < w, up = p >= w, down = p + w < w * h
                            @inline(__always) func visit(_ q: Int) {
                                if fg[q] != 0 && lab[q] < 0 { lab[q] = id; st[top] = Int32(q); top += 1 }
                            }
                            if left { visit(p - 1) }
                            if right { visit(p + 1) }
                            if up { visit(p - w) }
                            if down { visit(p + w) }
                            if eightConnected {
                                if up && left { visit(p - w - 1) }
                                if up && right { visit(p - w + 1) }
                                if down && left { visit(p + w - 1) }
                                if down && right { visit(p + w + 1) }
                            }
                        }
                        sizes.append(n)
                    }
                }
            }
        }
        self.labels = labels
        self.sizes = sizes
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
    static func fillHoles(_ m: [UInt8], width w: Int, height h: Int) -> [UInt8] {
        var border = [UInt8](repeating: 0, count: w * h)
        for i in 0..<(w * h) where m[i] == 0 { border[i] = 1 }
        let cc = ComponentLabeling(border, width: w, height: h, eightConnected: false)
        let touches = cc.touchesBorder(width: w, height: h)
        var out = m
        for i in 0..<(w * h) where m[i] == 0 && !touches[Int(cc.labels[i])] { out[i] = 1 }
        return out
    }

    /// Opening by a disk of `radiusPX`: keeps the union of all disks that fit inside the foreground.
    /// Works on the foreground's bounding box (plus a margin), so a small region costs little.
    static func open(_ m: [UInt8], width w: Int, height h: Int, radiusPX: Double) -> [UInt8] {
        var x0 = w, x1 = -1, y0 = h, y1 = -1
        for y in 0..<h { for x in 0..<w where m[y * w + x] != 0 { x0 = min(x0, x); x1 = max(x1, x); y0 = min(y0, y); y1 = max(y1, y) } }
        guard x1 >= 0 else { return m }
        let pad = Int(radiusPX.rounded(.up)) + 2
        x0 = max(0, x0 - pad); y0 = max(0, y0 - pad); x1 = min(w - 1, x1 + pad); y1 = min(h - 1, y1 + pad)
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
}
