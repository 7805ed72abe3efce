/// The per-node columns of one node type, written by index into raw buffers and turned into a `NodeSet` once.
///
/// Appending value by value to the `NodeSet` arrays cost a non-inlined uniqueness and capacity check per
/// value (about 35 instructions; a graph of 12,000 nodes has 200,000 such values). The owner calls
/// `nodeSet(featureNames:)` exactly once, which frees the buffers.
struct NodeColumns {
    /// Features per node.
    let width: Int
    let capacity: Int
    private(set) var count = 0
    private let features: UnsafeMutablePointer<Float>
    private let xPX: UnsafeMutablePointer<Float>, yPX: UnsafeMutablePointer<Float>
    private let xMM: UnsafeMutablePointer<Float>, yMM: UnsafeMutablePointer<Float>
    private let sector: UnsafeMutablePointer<Int32>, quadrant: UnsafeMutablePointer<Int32>
    private var footprints: [[Int32]] = []

    /// Room for `capacity` nodes of `width` features each.
    init(width: Int, capacity: Int) {
        self.width = width
        self.capacity = capacity
        let c = max(1, capacity)
        features = .allocate(capacity: max(1, capacity * width))
        xPX = .allocate(capacity: c); yPX = .allocate(capacity: c); xMM = .allocate(capacity: c); yMM = .allocate(capacity: c)
        sector = .allocate(capacity: c); quadrant = .allocate(capacity: c)
        footprints.reserveCapacity(capacity)
    }

    /// Feature `j` of the next node (the one `place` will count), a non-finite value as 0.
    @inline(__always)
    func set(_ j: Int, _ v: Float) {
        precondition(count < capacity && j < width, "NodeColumns: more nodes or features than reserved")
        features[count * width + j] = v.isFinite ? v : 0
    }

    /// Counts the next node (its features set) at (x, y) px with its footprint.
    mutating func place(x: Double, y: Double, pixelSizeMM px: Double, grid: ETDRSGrid, footprint: [Int32]) {
        precondition(count < capacity, "NodeColumns: more nodes than reserved")
        xPX[count] = Float(x); yPX[count] = Float(y)
        xMM[count] = Float(x * px); yMM[count] = Float(y * px)
        sector[count] = Int32(grid.sector(x: x, y: y))
        quadrant[count] = Int32(grid.quadrant(x: x, y: y))
        footprints.append(footprint)
        count += 1
    }

    /// The node set of the placed nodes; frees the buffers (call once).
    func nodeSet(featureNames: [String]) -> NodeSet {
        precondition(featureNames.count == width)
        func array<T>(_ p: UnsafeMutablePointer<T>, _ n: Int) -> [T] { Array(UnsafeBufferPointer(start: p, count: n)) }
        var set = NodeSet(featureNames: featureNames)
        set.count = count
        set.features = array(features, count * width)
        set.xPX = array(xPX, count); set.yPX = array(yPX, count)
        set.xMM = array(xMM, count); set.yMM = array(yMM, count)
        set.sector = array(sector, count); set.quadrant = array(quadrant, count)
        set.footprints = footprints
        features.deallocate(); xPX.deallocate(); yPX.deallocate(); xMM.deallocate(); yMM.deallocate()
        sector.deallocate(); quadrant.deallocate()
        return set
    }
}
