/// A growable list of trivial values in manually managed memory, for hot loops inside nested functions: an
/// Array captured and appended to there pays a uniqueness check (and often a retain) per write. The owner
/// must call `free()` exactly once; copies share the same memory, so only one copy may be used.
struct RawList<Element> {
    private(set) var base: UnsafeMutablePointer<Element>
    private(set) var count = 0
    private var capacity: Int

    /// An empty list with room for `capacity` elements before it grows.
    init(capacity: Int) {
        self.capacity = max(16, capacity)
        base = .allocate(capacity: self.capacity)
    }

    @inline(__always)
    mutating func append(_ e: Element) {
        if count == capacity { grow() }
        base[count] = e
        count += 1
    }

    @inline(__always)
    subscript(i: Int) -> Element {
        get { base[i] }
        nonmutating set { base[i] = newValue }
    }

    /// Drops the elements from `newCount` on (no shrinking of the memory).
    @inline(__always)
    mutating func truncate(to newCount: Int) { count = newCount }

    /// A copy of the elements as an Array.
    func array() -> [Element] { Array(UnsafeBufferPointer(start: base, count: count)) }

    func free() { base.deallocate() }

    private mutating func grow() {
        let c = capacity * 2
        let b = UnsafeMutablePointer<Element>.allocate(capacity: c)
        b.moveInitialize(from: base, count: count)
        base.deallocate()
        base = b; capacity = c
    }
}
