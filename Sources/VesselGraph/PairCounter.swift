/// Counts contacts between pairs (a, b), a in 0..<count, b >= 0: an open-addressing hash table of packed
/// pairs while counting, then per-`a` partner lists sorted by partner (a flat array, one slice per `a`).
/// Per-`a` growable arrays cost a uniqueness check, a bounds check and often a reallocation per contact.
struct PairCounter {
    private let count: Int
    /// Packed (a << 32 | b) + 1 per slot, 0 = empty.
    private var keys: [UInt64]
    private var counts: [Int32]
    private var used = 0
    /// After `sortPartners`: partners of a are partners[start[a]..<start[a + 1]].
    private var start: [Int] = []
    private var partners: [(Int32, Int32)] = []

    /// A counter for `a` in 0..<count.
    init(count: Int) {
        self.count = count
        // Room for about two partners per `a` before the first growth.
        var slots = 1024
        while slots < 4 * count { slots *= 2 }
        keys = [UInt64](repeating: 0, count: slots)
        counts = [Int32](repeating: 0, count: slots)
    }

    /// One more contact between `a` and `b`.
    @inline(__always)
    mutating func add(_ a: Int, _ b: Int) {
        let key = (UInt64(a) << 32 | UInt64(UInt32(b))) &+ 1
        let mask = keys.count - 1
        var slot = Int(truncatingIfNeeded: (key &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
        while true {
            let k = keys[slot]
            if k == key { counts[slot] += 1; return }
            if k == 0 { break }
            slot = (slot + 1) & mask
        }
        keys[slot] = key; counts[slot] = 1; used += 1
        if used * 2 > keys.count { grow() }
    }

    private mutating func grow() {
        let oldKeys = keys, oldCounts = counts
        keys = [UInt64](repeating: 0, count: oldKeys.count * 2)
        counts = [Int32](repeating: 0, count: oldKeys.count * 2)
        let mask = keys.count - 1
        for i in 0..<oldKeys.count where oldKeys[i] != 0 {
            var slot = Int(truncatingIfNeeded: (oldKeys[i] &* 0x9E37_79B9_7F4A_7C15) >> 40) & mask
            while keys[slot] != 0 { slot = (slot + 1) & mask }
            keys[slot] = oldKeys[i]; counts[slot] = oldCounts[i]
        }
    }

    /// Builds the per-`a` partner lists sorted by partner (call once, after the last `add`).
    mutating func sortPartners() {
        var start = [Int](repeating: 0, count: count + 1)
        for k in keys where k != 0 { start[Int((k - 1) >> 32) + 1] += 1 }
        for a in 0..<count { start[a + 1] += start[a] }
        var fill = start
        var partners = [(Int32, Int32)](repeating: (0, 0), count: used)
        for i in 0..<keys.count where keys[i] != 0 {
            let a = Int((keys[i] - 1) >> 32), b = Int32(truncatingIfNeeded: keys[i] - 1)
            partners[fill[a]] = (b, counts[i]); fill[a] += 1
        }
        // Lists are a handful long: insertion sort.
        for a in 0..<count where start[a + 1] - start[a] > 1 {
            for i in (start[a] + 1)..<start[a + 1] {
                let e = partners[i]
                var j = i
                while j > start[a] && partners[j - 1].0 > e.0 { partners[j] = partners[j - 1]; j -= 1 }
                partners[j] = e
            }
        }
        self.start = start
        self.partners = partners
    }

    /// Partners of `a` with their contact counts (partner, count), sorted by partner; valid after `sortPartners`.
    func pairs(of a: Int) -> ArraySlice<(Int32, Int32)> { partners[start[a]..<start[a + 1]] }
}
