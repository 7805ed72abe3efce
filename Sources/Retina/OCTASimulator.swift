import Common
import Foundation

/// Synthetic OCTA of the macula with diabetic-retinopathy pathology and pixel-exact ground truth.
///
/// Pipeline (docs/COHORT.md): FAZ outline -> arterial then venous superficial trees by space colonization
/// from roots on the optic-disc side -> Murray radii -> deep plexus grown from superficial capillaries ->
/// pathology driven by severity (FAZ enlargement, capillary dropout, tortuosity, venous beading,
/// microaneurysms, neovascular tufts) -> rendering with device artefacts drawn independently of severity.
public struct OCTASimulator: Sendable {
    /// The configuration every eye is generated with.
    public let config: SimulatorConfig

    /// A simulator; `config` must pass `config.validationError() == nil` (checked by callers that take
    /// user input; an invalid config is a programmer error here).
    public init(config: SimulatorConfig = SimulatorConfig()) {
        precondition(config.validationError() == nil, "OCTASimulator: \(config.validationError()!)")
        self.config = config
    }

    /// Generates one eye. Deterministic: the same (config, seed, severity) gives bit-identical output.
    /// - Parameters:
    ///   - seed: selects the anatomy, the pathology placement and the image quality.
    ///   - severity: DR severity in [0, 1] (clamped); see `SeverityScale` for stage and grade.
    public func generate(seed: UInt64, severity: Double) -> SyntheticEye {
        let s = min(1, max(0, severity.isNaN ? 0 : severity))
        let load = SeverityScale.diseaseLoad(s)
        // Independent streams: anatomy, pathology and image quality never share draws, so image quality is
        // statistically independent of severity and anatomy does not shift when pathology options change.
        var anatomyRNG = SeededGenerator(seed: seed, stream: 1)
        var pathologyRNG = SeededGenerator(seed: seed, stream: 2)
        var qualityRNG = SeededGenerator(seed: seed, stream: 3)
        let F = config.fovMM
        let fieldScale = F / 3

        // FAZ.
        let path = config.pathology
        let cx = F / 2 + anatomyRNG.normal() * 0.06 * fieldScale
        let cy = F / 2 + anatomyRNG.normal() * 0.06 * fieldScale
        let healthyArea = min(0.55, max(0.10, anatomyRNG.normal(mean: path.healthyFAZAreaMM2, sd: path.healthyFAZAreaSDMM2)))
        let fazArea = healthyArea * (1 + (path.fazEnlargementAtMax - 1) * Foundation.pow(load, 1.3) * pathologyRNG.uniform(0.6, 1.3))
        let faz = StarShape(centreX: cx, centreY: cy, areaMM2: fazArea,
                            irregularity: min(1, load * pathologyRNG.uniform(0.6, 1.4) + anatomyRNG.uniform(0, 0.15)),
                            ovality: anatomyRNG.uniform(0.02, 0.10), rng: &anatomyRNG)

        // Eye-level healthy variation.
        let densityScale = anatomyRNG.uniform(0.85, 1.15)
        let capRadiusUM = config.superficial.capillaryRadiusUM * anatomyRNG.uniform(0.9, 1.1)
        let discLeft = anatomyRNG.uniform() < 0.5

        // Superficial plexus: arterial tree, then venous tree. Each grows in two stages, arterioles (venules)
        // from roots on the disc side, then its capillary bed sprouting from them, and fills the whole field,
        // so arterial and venous capillaries interleave as in the real macula.
        var tree = VascularTree()
        var cap = config.superficial
        cap.sinkDensityPerMM2 *= densityScale
        var large = SpaceColonization(growth: config.largeVessels, fieldMM: F)
        large.jitterRad = 0.06
        var capGrower = SpaceColonization(growth: cap, fieldMM: F)
        capGrower.jitterRad = 0.35   // capillaries meander; without it they comb out in parallel rows
        let roots = Self.rootPositions(F: F, faz: faz, discLeft: discLeft, rng: &anatomyRNG)
        let blockedSVC: (Double, Double) -> Bool = { x, y in faz.contains(x, y) }
        let trunkRadiusMM = anatomyRNG.uniform(config.trunkRadiusUM.lowerBound, config.trunkRadiusUM.upperBound)
            / 1000 * Foundation.pow(fieldScale, 0.2)   // wider fields reach thicker trunks, but only a little (OCTA-500 6 mm)
        var coarseRanges: [Range<Int>] = [], capillaryRanges: [Range<Int>] = []
        for kind in [VesselKind.artery, .vein] {
            // Arteriole/venule sinks: the configured density far out, up to 3x towards the fovea, so branches converge on the FAZ
            // the way the perifoveal arcade is fed centripetally.
            var thinning = SeededGenerator(seed: anatomyRNG.next())
            let coarseSinks = Self.sinks(count: Int(config.largeVessels.sinkDensityPerMM2 * F * F * 3), F: F, avoid: { x, y in
                if faz.contains(x, y, marginMM: 0.15) { return true }
                let dx = x - faz.centreX, dy = y - faz.centreY
                let keep = (1 + 2 * Foundation.exp(-(dx * dx + dy * dy).squareRoot() / 0.8)) / 3
                return thinning.uniform() > keep
            }, rng: &anatomyRNG)
            let coarse = large.grow(into: &tree, roots: roots.filter { $0.kind == kind }.map { ($0.x, $0.y, $0.dx, $0.dy) },
                                    kind: kind, sinks: coarseSinks, rng: &anatomyRNG, blocked: blockedSVC)
            tree.smoothChains(range: coarse, passes: 4)
            // Capillary-free zone: no sinks right beside arterioles/venules, so capillaries leave them as
            // side branches instead of lining them like fur.
            let coarseGrid = PointGrid(xs: tree.x, ys: tree.y, fieldMM: F, cellMM: 0.05, include: { coarse.contains($0) })
            let sinks = Self.sinks(count: Int(cap.sinkDensityPerMM2 * F * F / 2), F: F, avoid: { x, y in
                if faz.contains(x, y, marginMM: 0.005) { return true }
                var near = false
                coarseGrid.forEach(near: x, y, radius: 0.035) { j in
                    let dx = tree.x[j] - x, dy = tree.y[j] - y
                    if dx * dx + dy * dy < 0.035 * 0.035 { near = true }
                }
                return near
            }, rng: &anatomyRNG)
            let fine = capGrower.grow(into: &tree, roots: [], seeds: Array(coarse), kind: kind, sinks: sinks,
                                      rng: &anatomyRNG, blocked: blockedSVC)
            coarseRanges.append(coarse); capillaryRanges.append(fine)
        }
        // Radii, two levels: arterioles/venules by Murray's law over their own tree, whose tips are
        // precapillary vessels (a fixed terminal radius), scaled so the largest trunk gets this eye's trunk
        // calibre; capillary subtrees by Murray's law from the capillary radius, capped at 5 um.
        for r in coarseRanges { tree.assignMurrayRadii(range: r, leafRadiusMM: 1, exponent: config.largeVessels.murrayExponent) }
        var maxRaw = 0.0
        for r in coarseRanges { for i in r where tree.parent[i] < 0 { maxRaw = max(maxRaw, tree.radiusMM[i]) } }
        let murrayScale = trunkRadiusMM / max(1, maxRaw)
        for r in coarseRanges { for i in r { tree.radiusMM[i] = max(0.006, tree.radiusMM[i] * murrayScale) } }
        for r in capillaryRanges {
            tree.assignMurrayRadii(range: r, leafRadiusMM: capRadiusUM / 1000, exponent: cap.murrayExponent)
            for i in r { tree.radiusMM[i] = min(0.005, tree.radiusMM[i]) }
        }
        Self.addAnastomoses(&tree, F: F, reachMM: 0.07, capRadiusMM: capRadiusUM / 1000)
        let svcCount = tree.count

        // Deep plexus: fed by diving branches from superficial capillaries, larger avascular zone.
        var deepGrowth = config.deep
        deepGrowth.sinkDensityPerMM2 *= densityScale
        let deepRoots = Self.deepRoots(tree: tree, spacingMM: 0.25, F: F, rng: &anatomyRNG)
        let deepSinks = Self.sinks(count: Int(deepGrowth.sinkDensityPerMM2 * F * F), F: F,
                                   avoid: { faz.contains($0, $1, marginMM: 0.04) }, rng: &anatomyRNG)
        let dr = SpaceColonization(growth: deepGrowth, fieldMM: F).grow(
            into: &tree, roots: deepRoots, kind: .deepCapillary, sinks: deepSinks, rng: &anatomyRNG,
            blocked: { x, y in faz.contains(x, y, marginMM: 0.03) })
        tree.assignMurrayRadii(range: dr, leafRadiusMM: deepGrowth.capillaryRadiusUM / 1000, exponent: deepGrowth.murrayExponent)
        for i in dr { tree.radiusMM[i] = min(tree.radiusMM[i], 0.006) }
        // Flow heterogeneity: capillary flow (and so the decorrelation signal) differs between neighbouring
        // capillaries but changes slowly along each one, so it is a smooth field over the plane (100 um
        // wavelength) rather than a per-node draw: a per-node draw beads every capillary into dots.
        let flowNoise = ValueNoise(seed: anatomyRNG.next(), wavelengthMM: 0.10)
        let flowNoiseFine = ValueNoise(seed: anatomyRNG.next(), wavelengthMM: 0.045)
        for i in 0..<tree.count {
            let n = 0.7 * flowNoise.value(tree.x[i], tree.y[i], channel: 1) + 0.3 * flowNoiseFine.value(tree.x[i], tree.y[i], channel: 1)
            tree.flow[i] = Float(tree.radiusMM[i] > 0.008 ? 0.97 + 0.04 * n : 0.82 + 0.30 * n)
        }

        // Pathology.
        var pathology = Pathology(tree: tree, svcCount: svcCount, faz: faz, F: F, load: load, severity: s,
                                  options: path, pixelSizeMM: config.pixelSizeMM)
        pathology.apply(rng: &pathologyRNG)

        // Rendering and ground truth.
        let renderer = OCTARenderer(config: config)
        var out = renderer.render(pathology: pathology, faz: faz, rng: &qualityRNG)

        let pix = config.pixelSizeMM
        let eye = EyeParameters(
            discSide: discLeft ? "left" : "right", fazCenterMM: [cx, cy], densityScale: densityScale,
            capillaryRadiusUM: capRadiusUM, diseaseLoad: load, targetMean: out.quality.targetMean,
            targetSD: out.quality.targetSD, gamma: out.quality.gamma, motionLines: out.quality.motionLines,
            floaters: out.quality.floaters)
        let lesions = pathology.lesions
        let truth = GroundTruth(
            stage: SeverityScale.stage(s), grade: SeverityScale.grade(s), severity: s, seed: seed, config: config,
            eye: eye, fazAreaMM2: Double(out.fazMask.count) * pix * pix, fazCircularity: faz.circularity,
            perfusionDensity: out.vesselMask.fraction,
            skeletonLengthDensityMMPerMM2: VesselMaskMorphometry.measure(mask: out.vesselMask, faz: nil, pixelSizeMM: pix).skeletonLengthDensityMMPerMM2,
            centrelineLengthDensityMMPerMM2: out.visibleLengthMM / (F * F),
            nonPerfusionAreaMM2: Double(out.dropoutMask.count) * pix * pix,
            microaneurysmCount: lesions.filter { $0.type == .microaneurysm }.count,
            neovascularizationCount: lesions.filter { $0.type == .neovascularization }.count,
            nonPerfusionCount: lesions.filter { $0.type == .nonPerfusion }.count,
            lesions: lesions)
        out.image.pixelSizeMM = pix
        return SyntheticEye(image: out.image, vesselMask: out.vesselMask, fazMask: out.fazMask,
                            dropoutMask: out.dropoutMask, lesions: lesions, truth: truth,
                            geometricCentrelineLengthMM: out.geometricLengthMM)
    }

    struct Root { var x, y, dx, dy: Double; var kind: VesselKind }

    /// Large-vessel entry points: on the optic-disc side edge and on the top and bottom edges towards the
    /// disc (the temporal arcades curve around the fovea), arteries and veins alternating.
    static func rootPositions(F: Double, faz: StarShape, discLeft: Bool, rng: inout SeededGenerator) -> [Root] {
        var roots: [Root] = []
        let n = Int((Double(4 + rng.int(below: 3)) * (F / 3).squareRoot()).rounded())
        // Positions along a path: disc-side edge (top to bottom), then top and bottom edges.
        var slots: [(x: Double, y: Double)] = []
        for i in 0..<n {
            let u = (Double(i) + rng.uniform(0.2, 0.8)) / Double(n)
            // 0..0.25: top edge from the disc-side corner inward; 0.25..0.75: disc-side edge; 0.75..1: bottom.
            var x: Double, y: Double
            if u < 0.25 {
                x = (0.25 - u) / 0.25 * 0.75 * F; y = 0
            } else if u < 0.75 {
                x = 0; y = (u - 0.25) / 0.5 * F
            } else {
                x = (u - 0.75) / 0.25 * 0.75 * F; y = F
            }
            if !discLeft { x = F - x }
            slots.append((x, y))
        }
        let firstIsArtery = rng.uniform() < 0.5
        for (i, p) in slots.enumerated() {
            // Aim towards the fovea with a spread, so trunks enter obliquely like the arcades.
            var dx = faz.centreX - p.x, dy = faz.centreY - p.y
            let d = (dx * dx + dy * dy).squareRoot()
            dx /= d; dy /= d
            let a = rng.normal() * 0.35
            let ux = dx * Foundation.cos(a) - dy * Foundation.sin(a), uy = dx * Foundation.sin(a) + dy * Foundation.cos(a)
            let kind: VesselKind = (i % 2 == 0) == firstIsArtery ? .artery : .vein
            roots.append(Root(x: min(F - 1e-6, max(1e-6, p.x)), y: min(F - 1e-6, max(1e-6, p.y)), dx: ux, dy: uy, kind: kind))
        }
        return roots
    }

    /// Joins every capillary tip to the nearest capillary node within `reachMM` that is not one of its own
    /// recent ancestors (preferring the other, arterial <-> venous, tree), closing loops: the capillary bed
    /// becomes a mesh of enclosed intercapillary areas instead of a fern of free ends.
    static func addAnastomoses(_ tree: inout VascularTree, F: Double, reachMM: Double, capRadiusMM: Double) {
        let n = tree.count
        var hasChild = [Bool](repeating: false, count: n)
        for p in tree.parent where p >= 0 { hasChild[Int(p)] = true }
        let grid = PointGrid(xs: tree.x, ys: tree.y, fieldMM: F, cellMM: reachMM,
                             include: { tree.radiusMM[$0] < 0.006 })
        let r2 = reachMM * reachMM
        var ancestors = Set<Int>()
        for i in 0..<n where !hasChild[i] && tree.parent[i] >= 0 {
            ancestors.removeAll(keepingCapacity: true)
            var a = i
            for _ in 0..<12 { let p = Int(tree.parent[a]); if p < 0 { break }; ancestors.insert(p); a = p }
            var best = -1, bestScore = Double.infinity
            let x = tree.x[i], y = tree.y[i], k = tree.kind[i]
            grid.forEach(near: x, y, radius: reachMM) { j in
                guard j != i, !ancestors.contains(j) else { return }
                let dx = tree.x[j] - x, dy = tree.y[j] - y, d2 = dx * dx + dy * dy
                guard d2 < r2 else { return }
                // Other-tree partners count as 40% closer: capillaries run from arterioles to venules.
                let score = tree.kind[j] != k ? d2 * 0.36 : d2
                if score < bestScore { bestScore = score; best = j }
            }
            if best >= 0 {
                let c = tree.append(x: tree.x[best], y: tree.y[best], parent: Int32(i), dx: 0, dy: 0, kind: k)
                tree.radiusMM[c] = capRadiusMM
            }
        }
    }

    /// `count` sinks uniformly over the field, avoiding a region.
    static func sinks(count: Int, F: Double, avoid: (Double, Double) -> Bool, rng: inout SeededGenerator) -> [(x: Double, y: Double)] {
        var out: [(x: Double, y: Double)] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            let x = rng.uniform(0, F), y = rng.uniform(0, F)
            if !avoid(x, y) { out.append((x, y)) }
        }
        return out
    }

    /// Deep-plexus roots: superficial capillary nodes about `spacingMM` apart (diving branches).
    static func deepRoots(tree: VascularTree, spacingMM: Double, F: Double, rng: inout SeededGenerator)
        -> [(x: Double, y: Double, dx: Double, dy: Double)] {
        let cells = max(1, Int(F / spacingMM))
        var taken = [Bool](repeating: false, count: cells * cells)
        var out: [(x: Double, y: Double, dx: Double, dy: Double)] = []
        // Visit nodes in a seeded random order so roots are not biased towards the first-grown tree.
        var order = Array(0..<tree.count)
        for i in stride(from: order.count - 1, to: 0, by: -1) { order.swapAt(i, rng.int(below: i + 1)) }
        for i in order where tree.radiusMM[i] < 0.005 {
            let gx = min(cells - 1, max(0, Int(tree.x[i] / F * Double(cells))))
            let gy = min(cells - 1, max(0, Int(tree.y[i] / F * Double(cells))))
            if taken[gy * cells + gx] { continue }
            taken[gy * cells + gx] = true
            let a = rng.uniform(0, 2 * Double.pi)
            out.append((tree.x[i], tree.y[i], Foundation.cos(a), Foundation.sin(a)))
        }
        return out
    }
}
