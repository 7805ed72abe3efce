import Common
import Foundation

/// Which vessel class a centreline node belongs to (sets rendering brightness and pathology targets).
enum VesselKind: UInt8, Codable, Sendable {
    case artery, vein, deepCapillary, neovascular
}

/// A forest of vessel centrelines in field coordinates (mm, origin at the top-left corner, y down).
///
/// Node `i` is joined to `parent[i]` by one straight segment (roots have parent -1). Radii follow
/// Murray's law from the leaves up; `perfused` is false for nodes removed by capillary dropout.
struct VascularTree {
    var x: [Double] = []
    var y: [Double] = []
    var parent: [Int32] = []
    var dirX: [Double] = []
    var dirY: [Double] = []
    var radiusMM: [Double] = []
    var kind: [VesselKind] = []
    var perfused: [Bool] = []
    /// Per-node brightness factor (flow heterogeneity along the vessel), about 1.
    var flow: [Float] = []

    var count: Int { x.count }

    @discardableResult
    mutating func append(x px: Double, y py: Double, parent p: Int32, dx: Double, dy: Double, kind k: VesselKind) -> Int {
        x.append(px); y.append(py); parent.append(p); dirX.append(dx); dirY.append(dy)
        radiusMM.append(0); kind.append(k); perfused.append(true); flow.append(1)
        return x.count - 1
    }

    mutating func append(_ other: VascularTree) {
        let off = Int32(count)
        x += other.x; y += other.y; dirX += other.dirX; dirY += other.dirY
        parent += other.parent.map { $0 < 0 ? $0 : $0 + off }
        radiusMM += other.radiusMM; kind += other.kind; perfused += other.perfused; flow += other.flow
    }

    /// Children lists (CSR layout): children of node i are `childIndex[childStart[i]..<childStart[i+1]]`.
    func children() -> (childStart: [Int], childIndex: [Int]) {
        var start = [Int](repeating: 0, count: count + 1)
        for p in parent where p >= 0 { start[Int(p) + 1] += 1 }
        for i in 0..<count { start[i + 1] += start[i] }
        var fill = start
        var idx = [Int](repeating: 0, count: start[count])
        for i in 0..<count where parent[i] >= 0 {
            let p = Int(parent[i]); idx[fill[p]] = i; fill[p] += 1
        }
        return (start, idx)
    }

    /// Smooths centrelines in `range`: a node with one child moves towards the mean of its parent and
    /// child (Laplacian smoothing), so grown vessels curve gently instead of zig-zagging at each step.
    mutating func smoothChains(range: Range<Int>, passes: Int) {
        var childCount = [Int](repeating: 0, count: count)
        var onlyChild = [Int](repeating: -1, count: count)
        for i in range where parent[i] >= 0 { let p = Int(parent[i]); childCount[p] += 1; onlyChild[p] = i }
        for _ in 0..<passes {
            var nx = x, ny = y
            for i in range where parent[i] >= 0 && childCount[i] == 1 {
                let p = Int(parent[i]), c = onlyChild[i]
                nx[i] = 0.5 * x[i] + 0.25 * (x[p] + x[c])
                ny[i] = 0.5 * y[i] + 0.25 * (y[p] + y[c])
            }
            x = nx; y = ny
        }
    }

    /// Assigns radii by Murray's law: leaves get `leafRadiusMM`, a parent r = (sum r_child^k)^(1/k).
    /// Nodes are appended after their parents, so one backward sweep visits children first.
    mutating func assignMurrayRadii(range: Range<Int>, leafRadiusMM: Double, exponent k: Double) {
        var sumK = [Double](repeating: 0, count: count)
        for i in range.reversed() {
            let r = sumK[i] > 0 ? Foundation.pow(sumK[i], 1 / k) : leafRadiusMM
            radiusMM[i] = r
            let p = Int(parent[i])
            if p >= 0 && range.contains(p) { sumK[p] += Foundation.pow(r, k) }
        }
    }
}

/// Space colonization (Runions et al. 2005): sinks attract the nearest node within the perception distance
/// and inside its growth cone; every attracted node grows one step towards the mean direction of its sinks;
/// sinks closer than the kill distance to any node are satisfied and removed.
///
/// Nearest-node bookkeeping is incremental: each sink remembers its nearest node and only nodes added in the
/// last iteration are tested, through a uniform grid of sinks with cell size = perception distance, so the
/// cost is O(new nodes x sinks in reach) per iteration instead of O(nodes x sinks).
struct SpaceColonization {
    let growth: PlexusGrowth
    /// Side of the square growth domain, mm.
    let fieldMM: Double
    /// Lower-left (top-left) corner of the growth domain, mm (both axes): the domain is
    /// [origin, origin + fieldMM]^2. Large vessels grow in a domain larger than the image, so that arcade
    /// trunks outside the field still send branches into it.
    var originMM = 0.0
    /// Standard deviation of the random turn added to every step, radians.
    var jitterRad = 0.12
    /// Optional point (mm) that pulls every step towards it with the given weight (0: none; 1: as much as
    /// the sinks). Macular arterioles and venules converge on the fovea while they branch, so their
    /// paths bend towards it instead of running straight.
    var focus: (x: Double, y: Double, weight: Double)? = nil
    /// Optional radial alignment around a point (mm): within `reachMM` of it every step is pulled along the
    /// radial line through it (towards or away, whichever is nearer the step's direction), with a weight
    /// falling linearly from `weight` at the point to 0 at the reach. Perifoveal capillaries run radially
    /// towards the FAZ (the "sunburst" of real OCTA) instead of forming a random mesh right up to it.
    var radial: (x: Double, y: Double, reachMM: Double, weight: Double)? = nil

    /// Grows `roots` (position, unit direction) into `tree` towards `sinks`; nodes for which `blocked`
    /// returns true are never created (e.g. inside the FAZ). Returns the index range of the new nodes.
    /// `seeds` are existing nodes that may sprout too (a second, finer growth stage continues a tree).
    func grow(into tree: inout VascularTree, roots: [(x: Double, y: Double, dx: Double, dy: Double)],
              seeds: [Int] = [], kind: VesselKind, sinks: [(x: Double, y: Double)], rng: inout SeededGenerator,
              blocked: (Double, Double) -> Bool) -> Range<Int> {
        let first = tree.count
        let dp = growth.perceptionDistanceMM, dk = growth.killDistanceMM, step = growth.stepMM
        let dp2 = dp * dp, dk2 = dk * dk
        let cosCone = Foundation.cos(growth.coneHalfAngleDeg * Double.pi / 180)
        // Grid of sinks.
        let cells = max(1, Int((fieldMM / dp).rounded(.up)))
        let cellSize = fieldMM / Double(cells)
        let origin = originMM
        func cell(_ v: Double) -> Int { min(cells - 1, max(0, Int((v - origin) / cellSize))) }
        var bucketStart = [Int](repeating: 0, count: cells * cells + 1)
        for s in sinks { bucketStart[cell(s.y) * cells + cell(s.x) + 1] += 1 }
        for i in 0..<(cells * cells) { bucketStart[i + 1] += bucketStart[i] }
        var fill = bucketStart
        var bucket = [Int](repeating: 0, count: sinks.count)
        for (i, s) in sinks.enumerated() {
            let c = cell(s.y) * cells + cell(s.x); bucket[fill[c]] = i; fill[c] += 1
        }
        var alive = [Bool](repeating: true, count: sinks.count)
        var nearest = [Int32](repeating: -1, count: sinks.count)
        var nearestD2 = [Double](repeating: .infinity, count: sinks.count)
        var aliveCount = sinks.count

        var newNodes: [Int] = seeds
        for r in roots {
            newNodes.append(tree.append(x: r.x, y: r.y, parent: -1, dx: r.dx, dy: r.dy, kind: kind))
        }
        // Per-node accumulators for the mean direction (indexed by node - base; seeds precede `first`).
        let base = min(first, seeds.min() ?? first)
        var accX: [Double] = [], accY: [Double] = [], accN: [Int32] = []
        var touched: [Int] = []
        var stuck: [Int] = []
        var lastChildX: [Double] = [], lastChildY: [Double] = []
        var iteration = 0
        while !newNodes.isEmpty && aliveCount > 0 && iteration < growth.maxIterations {
            iteration += 1
            // 1. Update sinks against the nodes added last iteration.
            for n in newNodes {
                let nx = tree.x[n], ny = tree.y[n], ddx = tree.dirX[n], ddy = tree.dirY[n]
                let cx = cell(nx), cy = cell(ny)
                for gy in max(0, cy - 1)...min(cells - 1, cy + 1) {
                    for gx in max(0, cx - 1)...min(cells - 1, cx + 1) {
                        let c = gy * cells + gx
                        for k in bucketStart[c]..<bucketStart[c + 1] {
                            let s = bucket[k]
                            guard alive[s] else { continue }
                            let vx = sinks[s].x - nx, vy = sinks[s].y - ny
                            let d2 = vx * vx + vy * vy
                            if d2 < dk2 { alive[s] = false; aliveCount -= 1; continue }
                            if d2 < dp2 && d2 < nearestD2[s] && (vx * ddx + vy * ddy) >= cosCone * d2.squareRoot() {
                                nearestD2[s] = d2; nearest[s] = Int32(n)
                            }
                        }
                    }
                }
            }
            // 2. Accumulate directions per attracted node.
            let nodeCount = tree.count - base
            if accX.count < nodeCount {
                let extra = nodeCount - accX.count
                accX += [Double](repeating: 0, count: extra); accY += [Double](repeating: 0, count: extra)
                accN += [Int32](repeating: 0, count: extra)
                lastChildX += [Double](repeating: 0, count: extra); lastChildY += [Double](repeating: 0, count: extra)
            }
            touched.removeAll(keepingCapacity: true)
            for s in 0..<sinks.count where alive[s] && nearest[s] >= 0 {
                let n = Int(nearest[s]), j = n - base
                let vx = sinks[s].x - tree.x[n], vy = sinks[s].y - tree.y[n]
                let inv = 1 / max(1e-12, nearestD2[s].squareRoot())
                if accN[j] == 0 { touched.append(n) }
                accX[j] += vx * inv; accY[j] += vy * inv; accN[j] += 1
            }
            // 3. Grow one step from each attracted node (a little angular jitter keeps trees from looking ruled).
            newNodes.removeAll(keepingCapacity: true)
            stuck.removeAll(keepingCapacity: true)
            for n in touched {
                let j = n - base
                var gx = accX[j], gy = accY[j]
                let norm = (gx * gx + gy * gy).squareRoot()
                accX[j] = 0; accY[j] = 0; accN[j] = 0
                if norm < 1e-6 { continue }
                gx /= norm; gy /= norm
                if let f = focus {
                    let fx = f.x - tree.x[n], fy = f.y - tree.y[n]
                    let fd = (fx * fx + fy * fy).squareRoot()
                    if fd > 1e-9 {
                        gx += f.weight * fx / fd; gy += f.weight * fy / fd
                        let m = (gx * gx + gy * gy).squareRoot()
                        if m < 1e-6 { continue }
                        gx /= m; gy /= m
                    }
                }
                if let q = radial {
                    let rx = tree.x[n] - q.x, ry = tree.y[n] - q.y
                    let rd = (rx * rx + ry * ry).squareRoot()
                    if rd > 1e-9 && rd < q.reachMM {
                        let w = q.weight * (1 - rd / q.reachMM) * (gx * rx + gy * ry >= 0 ? 1 : -1) / rd
                        gx += w * rx; gy += w * ry
                        let m = (gx * gx + gy * gy).squareRoot()
                        if m < 1e-6 { continue }
                        gx /= m; gy /= m
                    }
                }
                let a = rng.normal() * jitterRad
                let ca = Foundation.cos(a), sa = Foundation.sin(a)
                let ux = gx * ca - gy * sa, uy = gx * sa + gy * ca
                let px = tree.x[n] + step * ux, py = tree.y[n] + step * uy
                if px < origin - step || py < origin - step || px > origin + fieldMM + step || py > origin + fieldMM + step { continue }
                // A step into a forbidden region, or a repeat of this node's previous step, would stall
                // growth: the sinks that only this node sees are given up instead of retried forever.
                if blocked(px, py) || ux * lastChildX[j] + uy * lastChildY[j] > 0.97 {
                    stuck.append(n)
                    continue
                }
                lastChildX[j] = ux; lastChildY[j] = uy
                newNodes.append(tree.append(x: px, y: py, parent: Int32(n), dx: ux, dy: uy, kind: kind))
            }
            if !stuck.isEmpty {
                var isStuck = Set<Int32>()
                for n in stuck { isStuck.insert(Int32(n)) }
                for s in 0..<sinks.count where alive[s] && nearest[s] >= 0 && isStuck.contains(nearest[s]) {
                    alive[s] = false; aliveCount -= 1
                }
            }
        }
        return first..<tree.count
    }
}

/// A uniform grid over points for fixed-radius neighbour queries (used by pathology placement).
struct PointGrid {
    let cellMM: Double
    let cells: Int
    var start: [Int]
    var index: [Int]

    init(xs: [Double], ys: [Double], fieldMM: Double, cellMM: Double, include: (Int) -> Bool = { _ in true }) {
        self.cellMM = cellMM
        cells = max(1, Int((fieldMM / cellMM).rounded(.up)))
        start = [Int](repeating: 0, count: cells * cells + 1)
        var ids: [Int] = []
        for i in 0..<xs.count where include(i) { ids.append(i) }
        let c = cells, cs = cellMM
        func cellOf(_ i: Int) -> Int {
            min(c - 1, max(0, Int(ys[i] / cs))) * c + min(c - 1, max(0, Int(xs[i] / cs)))
        }
        for i in ids { start[cellOf(i) + 1] += 1 }
        for k in 0..<(cells * cells) { start[k + 1] += start[k] }
        var fill = start
        index = [Int](repeating: 0, count: ids.count)
        for i in ids { let k = cellOf(i); index[fill[k]] = i; fill[k] += 1 }
    }

    /// Calls `body` with every indexed point in the cells overlapping the disc (x, y, radius).
    func forEach(near x: Double, _ y: Double, radius: Double, _ body: (Int) -> Void) {
        let x0 = max(0, Int((x - radius) / cellMM)), x1 = min(cells - 1, Int((x + radius) / cellMM))
        let y0 = max(0, Int((y - radius) / cellMM)), y1 = min(cells - 1, Int((y + radius) / cellMM))
        guard x0 <= x1, y0 <= y1 else { return }
        for gy in y0...y1 { for gx in x0...x1 {
            let c = gy * cells + gx
            for k in start[c]..<start[c + 1] { body(index[k]) }
        } }
    }
}
