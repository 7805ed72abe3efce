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
        let withRing = config.perifovealRing ?? true
        let cx = F / 2 + anatomyRNG.normal() * 0.06 * fieldScale
        let cy = F / 2 + anatomyRNG.normal() * 0.06 * fieldScale
        let healthyArea = min(0.55, max(0.10, anatomyRNG.normal(mean: path.healthyFAZAreaMM2, sd: path.healthyFAZAreaSDMM2)))
        let fazArea = healthyArea * (1 + (path.fazEnlargementAtMax - 1) * Foundation.pow(load, 1.3) * pathologyRNG.uniform(0.6, 1.3))
        let faz = StarShape(centreX: cx, centreY: cy, areaMM2: fazArea,
                            irregularity: min(1, load * pathologyRNG.uniform(0.6, 1.4) + anatomyRNG.uniform(0, 0.15)),
                            ovality: anatomyRNG.uniform(0.02, 0.10),
                            capillaryLoops: withRing ? .init(lengthMM: 0.05...0.11, depthMM: 0.012) : nil, rng: &anatomyRNG)

        // Eye-level healthy variation.
        let densityScale = anatomyRNG.uniform(0.85, 1.15)
        let capRadiusUM = config.superficial.capillaryRadiusUM * anatomyRNG.uniform(0.9, 1.1)
        let discLeft = anatomyRNG.uniform() < 0.5

        // Superficial plexus: arterial tree, then venous tree. Each grows in two stages: arterioles (venules)
        // branching from the arcade trunks and from a few papillomacular vessels entering from the disc
        // side, then its capillary bed sprouting from them and from the perifoveal capillary ring, filling
        // the whole field, so arterial and venous capillaries interleave as in the real macula.
        var tree = VascularTree()
        var cap = config.superficial
        cap.sinkDensityPerMM2 *= densityScale
        // Large vessels grow in a domain around the field big enough to hold the arcades (1.7-2.8 mm from
        // the fovea), so trunks outside a 3 mm field still send their macular branches into it.
        let domainHalf = max(F / 2 + 0.3, 3.0)
        var large = SpaceColonization(growth: config.largeVessels, fieldMM: 2 * domainHalf)
        large.originMM = F / 2 - domainHalf
        large.jitterRad = 0.06
        large.focus = (cx, cy, 0.25)
        var capGrower = SpaceColonization(growth: cap, fieldMM: F)
        capGrower.jitterRad = 0.35   // capillaries meander; without it they comb out in parallel rows
        // Perifoveal capillaries run radially towards the FAZ (the sunburst around OCTA-500's FAZs): within
        // 0.35 mm outside the FAZ's equivalent radius, growth is pulled along the radial line.
        capGrower.radial = (cx, cy, (fazArea / Double.pi).squareRoot() + 0.35, 1.0)
        let nasalSign = discLeft ? -1.0 : 1.0
        let arcades = MacularArcades(foveaX: cx, foveaY: cy, nasalSign: nasalSign, stepMM: config.largeVessels.stepMM, rng: &anatomyRNG)
        let nasalRoots = Self.papillomacularRoots(F: F, domainHalf: domainHalf, foveaY: cy, nasalSign: nasalSign, rng: &anatomyRNG)
        let ring = withRing ? Self.perifovealRing(faz: faz, offsetMM: Self.ringOffsetMM, rng: &anatomyRNG) : PerifovealRing(arcs: [])
        let blockedSVC: (Double, Double) -> Bool = { x, y in faz.contains(x, y) }
        let trunkRadiusMM = anatomyRNG.uniform(config.trunkRadiusUM.lowerBound, config.trunkRadiusUM.upperBound)
            / 1000 * Foundation.pow(fieldScale, 0.2)   // wider fields reach thicker trunks, but only a little (OCTA-500 6 mm)
        var coarseRanges: [Range<Int>] = [], capillaryRanges: [Range<Int>] = []
        var ringArcs: [[Int]] = []   // node ids of each ring arc, in ring order
        var trunkNodes: [Int] = []   // the arcade trunks (first-order arterioles/venules)
        var ringArcOrder: [(kind: VesselKind, index: Int)] = []
        for kind in [VesselKind.artery, .vein] {
            // Arteriole/venule sinks: the configured density far out, up to 3x towards the fovea, so branches
            // converge on the FAZ the way the perifoveal arcade is fed centripetally.
            var thinning = SeededGenerator(seed: anatomyRNG.next())
            let coarseSinks = Self.sinks(count: Int(config.largeVessels.sinkDensityPerMM2 * 4 * domainHalf * domainHalf * 3),
                                         originMM: F / 2 - domainHalf, sizeMM: 2 * domainHalf, avoid: { x, y in
                if faz.contains(x, y, marginMM: 0.15) { return true }
                let dx = x - faz.centreX, dy = y - faz.centreY
                let keep = (1 + 2 * Foundation.exp(-(dx * dx + dy * dy).squareRoot() / 0.8)) / 3
                return thinning.uniform() > keep
            }, rng: &anatomyRNG)
            let coarseStart = tree.count
            let chains = arcades.append(to: &tree, kind: kind)
            for c in chains { trunkNodes += c }
            let grownStart = tree.count
            // Macular branches leave the trunks every 0.18-0.40 mm (fewer, so each grows into a visible tree), mostly on the foveal side and at
            // 55-80 deg to the trunk (pointing downstream): their first growth direction sets the cone.
            var branchSeeds: [Int] = []
            var savedDir: [(Int, Double, Double)] = []
            for chain in chains {
                var k = Int(anatomyRNG.uniform(0.05, 0.3) / config.largeVessels.stepMM)
                while k < chain.count {
                    let n = chain[k]
                    if abs(tree.x[n] - F / 2) < domainHalf && abs(tree.y[n] - F / 2) < domainHalf {
                        let tx = tree.dirX[n], ty = tree.dirY[n]
                        var nx = -ty, ny = tx
                        if nx * (cx - tree.x[n]) + ny * (cy - tree.y[n]) < 0 { nx = -nx; ny = -ny }
                        if anatomyRNG.uniform() < 0.25 { nx = -nx; ny = -ny }   // some branches leave outwards
                        let tilt = anatomyRNG.uniform(10, 35) * Double.pi / 180
                        savedDir.append((n, tx, ty))
                        tree.dirX[n] = nx * Foundation.cos(tilt) + tx * Foundation.sin(tilt)
                        tree.dirY[n] = ny * Foundation.cos(tilt) + ty * Foundation.sin(tilt)
                        branchSeeds.append(n)
                    }
                    k += max(1, Int(anatomyRNG.uniform(0.18, 0.40) / config.largeVessels.stepMM))
                }
            }
            _ = large.grow(into: &tree, roots: nasalRoots.filter { $0.kind == kind }.map { ($0.x, $0.y, $0.dx, $0.dy) },
                           seeds: branchSeeds, kind: kind, sinks: coarseSinks, rng: &anatomyRNG, blocked: blockedSVC)
            for (n, tx, ty) in savedDir { tree.dirX[n] = tx; tree.dirY[n] = ty }
            let coarse = coarseStart..<tree.count
            tree.smoothChains(range: grownStart..<tree.count, passes: 4)
            // Capillary-free zone: no sinks right beside arterioles/venules, so capillaries leave them as
            // side branches instead of lining them like fur. Capillary density thins out over the last
            // 250 um towards the FAZ (to 35% of the sinks at the ring), where the bed ends in the
            // perifoveal ring: the fuzzy parafoveal halo of real OCTA.
            let coarseGrid = PointGrid(xs: tree.x, ys: tree.y, fieldMM: F, cellMM: 0.05, include: { coarse.contains($0) })
            var taper = SeededGenerator(seed: anatomyRNG.next())
            let sinks = Self.sinks(count: Int(cap.sinkDensityPerMM2 * F * F / 2), originMM: 0, sizeMM: F, avoid: { x, y in
                let e = faz.radialExcess(x, y)
                if withRing {
                    if e < Self.ringOffsetMM + 0.02 { return true }
                    if e < 0.25 && taper.uniform() > 0.35 + 0.65 * e / 0.25 { return true }
                } else if e < 0.005 { return true }
                var near = false
                coarseGrid.forEach(near: x, y, radius: 0.035) { j in
                    let dx = tree.x[j] - x, dy = tree.y[j] - y
                    if dx * dx + dy * dy < 0.035 * 0.035 { near = true }
                }
                return near
            }, rng: &anatomyRNG)
            // The perifoveal ring arcs of this kind join the capillary bed as seeds.
            let ringStart = tree.count
            var ringSeeds: [Int] = []
            for (a, arc) in ring.arcs.enumerated() where arc.kind == kind {
                var ids: [Int] = []
                for k in 0..<arc.x.count {
                    let j = min(arc.x.count - 1, k + 1), i = max(0, j - 1)
                    var dx = arc.x[j] - arc.x[i], dy = arc.y[j] - arc.y[i]
                    let nrm = max(1e-12, (dx * dx + dy * dy).squareRoot()); dx /= nrm; dy /= nrm
                    ids.append(tree.append(x: arc.x[k], y: arc.y[k], parent: ids.last.map { Int32($0) } ?? -1, dx: dx, dy: dy, kind: kind))
                }
                ringSeeds += ids
                ringArcs.append(ids); ringArcOrder.append((kind, a))
            }
            _ = capGrower.grow(into: &tree, roots: [], seeds: Array(coarse) + ringSeeds, kind: kind, sinks: sinks,
                               rng: &anatomyRNG, blocked: blockedSVC)
            coarseRanges.append(coarse); capillaryRanges.append(ringStart..<tree.count)
        }
        // Radii, two levels: arterioles/venules by Murray's law over their own tree, whose tips are
        // precapillary vessels (a fixed terminal radius), scaled so that the largest vessel inside the
        // field gets this eye's trunk calibre; capillary subtrees by Murray's law from the capillary
        // radius, capped at 5 um.
        for r in coarseRanges { tree.assignMurrayRadii(range: r, leafRadiusMM: 1, exponent: config.largeVessels.murrayExponent) }
        var maxRaw = 0.0
        for r in coarseRanges { for i in r where tree.x[i] >= 0 && tree.y[i] >= 0 && tree.x[i] <= F && tree.y[i] <= F {
            maxRaw = max(maxRaw, tree.radiusMM[i])
        } }
        let murrayScale = trunkRadiusMM / max(1, maxRaw)
        for r in coarseRanges { for i in r { tree.radiusMM[i] = max(0.006, tree.radiusMM[i] * murrayScale) } }
        // The arcade trunks are the widest, brightest vessels of a 6 mm scan (OCTA-500: 5-6 px of 15 um):
        // 15% above what Murray's law over the grown branches gives them. (Widening every arteriole instead,
        // trunk radius 30-42 um, lowered VesselGraph's skeleton-length accuracy on 3 mm eyes from 9% to 11%.)
        for i in trunkNodes { tree.radiusMM[i] *= 1.15 }
        for r in capillaryRanges {
            tree.assignMurrayRadii(range: r, leafRadiusMM: capRadiusUM / 1000, exponent: cap.murrayExponent)
            for i in r { tree.radiusMM[i] = min(0.005, tree.radiusMM[i]) }
        }
        // Close the ring: the end of every arc joins the start of the next one.
        var arcByIndex = [Int: [Int]]()
        for (ids, o) in zip(ringArcs, ringArcOrder) { arcByIndex[o.index] = ids }
        for a in 0..<ring.arcs.count {
            guard let ids = arcByIndex[a], let last = ids.last, let next = arcByIndex[(a + 1) % ring.arcs.count]?.first else { continue }
            let c = tree.append(x: tree.x[next], y: tree.y[next], parent: Int32(last), dx: 0, dy: 0, kind: ring.arcs[a].kind)
            tree.radiusMM[c] = tree.radiusMM[last]
        }
        Self.addAnastomoses(&tree, F: F, reachMM: 0.07, capRadiusMM: capRadiusUM / 1000)
        let svcCount = tree.count

        // Deep plexus: fed by diving branches from superficial capillaries, larger avascular zone.
        var deepGrowth = config.deep
        deepGrowth.sinkDensityPerMM2 *= densityScale
        let deepRoots = Self.deepRoots(tree: tree, spacingMM: 0.25, F: F, rng: &anatomyRNG)
        let deepSinks = Self.sinks(count: Int(deepGrowth.sinkDensityPerMM2 * F * F), sizeMM: F,
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
            // Arterioles and venules (the coarse trees, r >= 6 um; capillaries are capped at 5 um) carry
            // fast, steady flow: they are uniformly bright, like OCTA-500's second-order branches.
            let coarse = tree.radiusMM[i] > 0.0055 && (tree.kind[i] == .artery || tree.kind[i] == .vein)
            tree.flow[i] = Float(coarse ? 0.97 + 0.04 * n : 0.82 + 0.15 * n)
            // The terminal perifoveal capillaries carry slow flow (weaker decorrelation): over the last
            // 100 um before the FAZ their signal fades to 45% at the ring, so the FAZ border is soft rather
            // than a bright rim. (With the star-outline truth, fading below 55% lost so many of these
            // capillaries in VesselGraph's segmentation that its skeleton length stopped ranking the eyes
            // like the truth; with the annotated truth and the deeper halo, 45% keeps 22 of 28 pairs.)
            let e = faz.radialExcess(tree.x[i], tree.y[i])
            if withRing && e < 0.1 && !coarse { tree.flow[i] *= Float(0.45 + 0.55 * max(0, e) / 0.1) }
        }

        // Pathology.
        var pathology = Pathology(tree: tree, svcCount: svcCount, faz: faz, F: F, load: load, severity: s,
                                  options: path, pixelSizeMM: config.pixelSizeMM)
        pathology.apply(rng: &pathologyRNG)

        // Rendering and ground truth.
        let renderer = OCTARenderer(config: config)
        var out = renderer.render(pathology: pathology, faz: faz, fazBoundMM: withRing ? Self.ringOffsetMM : nil, rng: &qualityRNG)

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

    /// Papillomacular vessels: 2-3 smaller arterioles/venules entering from the disc side between the
    /// arcades (at the nasal edge of the large-vessel domain, within 0.9 mm of the fovea's height), aimed
    /// at the fovea; arteries and veins alternate.
    static func papillomacularRoots(F: Double, domainHalf: Double, foveaY: Double, nasalSign: Double,
                                    rng: inout SeededGenerator) -> [Root] {
        let n = 2 + rng.int(below: 2)
        let firstIsArtery = rng.uniform() < 0.5
        var roots: [Root] = []
        for i in 0..<n {
            let v = (Double(i) + rng.uniform(0.2, 0.8)) / Double(n) * 1.8 - 0.9
            let x = F / 2 + nasalSign * (domainHalf - 0.01), y = foveaY + v
            let a = rng.normal() * 0.12 - v * 0.15
            let dx = -nasalSign * Foundation.cos(a), dy = Foundation.sin(a)
            roots.append(Root(x: x, y: y, dx: dx, dy: dy, kind: (i % 2 == 0) == firstIsArtery ? .artery : .vein))
        }
        return roots
    }

    /// Distance of the perifoveal capillary ring's centreline outside the FAZ outline, mm: the capillary
    /// wall (radius 3-5 um) then lies 15-17 um out and the half-maximum footprint of the PSF-widened ring
    /// starts within a pixel (< 10 um) of the outline, so the ring's visible inner edge is the FAZ border.
    /// (At 12 um, VesselGraph's smoothed-threshold FAZ detector stopped short: median area error 11-14%.)
    static let ringOffsetMM = 0.02

    /// The perifoveal capillary ring: the FAZ outline offset by `offsetMM`, sampled every ~12 um and cut
    /// into 4-7 arcs of alternating kind (arterial and venous capillary loops meet around the FAZ).
    struct PerifovealRing { var arcs: [(x: [Double], y: [Double], kind: VesselKind)] }

    static func perifovealRing(faz: StarShape, offsetMM: Double, rng: inout SeededGenerator) -> PerifovealRing {
        let count = 4 + rng.int(below: 4)
        let start = rng.uniform(0, 2 * Double.pi)
        // Arcs of similar length: evenly spaced cuts, each jittered by up to 30% of an arc.
        var cuts: [Double] = []
        for a in 0..<count {
            let jitter: Double = rng.uniform(-0.3, 0.3)
            cuts.append((Double(a) + jitter) / Double(count))
        }
        let firstArtery = rng.uniform() < 0.5
        var arcs: [(x: [Double], y: [Double], kind: VesselKind)] = []
        for a in 0..<count {
            let t0 = start + 2 * Double.pi * cuts[a]
            let t1 = start + 2 * Double.pi * (a + 1 < count ? cuts[a + 1] : cuts[0] + 1)
            var xs: [Double] = [], ys: [Double] = []
            var t = t0
            while t < t1 - 1e-9 {
                let r = faz.radius(atAngle: t) + offsetMM
                xs.append(faz.centreX + r * Foundation.cos(t)); ys.append(faz.centreY + r * Foundation.sin(t))
                t += 0.012 / max(0.02, r)
            }
            arcs.append((xs, ys, (a % 2 == 0) == firstArtery ? .artery : .vein))
        }
        return PerifovealRing(arcs: arcs)
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

    /// `count` sinks uniformly over the square [origin, origin + size]^2 (mm), avoiding a region.
    static func sinks(count: Int, originMM: Double = 0, sizeMM: Double, avoid: (Double, Double) -> Bool,
                      rng: inout SeededGenerator) -> [(x: Double, y: Double)] {
        var out: [(x: Double, y: Double)] = []
        out.reserveCapacity(count)
        for _ in 0..<count {
            let x = rng.uniform(originMM, originMM + sizeMM), y = rng.uniform(originMM, originMM + sizeMM)
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


