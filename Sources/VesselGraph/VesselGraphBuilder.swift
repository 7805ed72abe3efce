import Foundation
import Retina

/// Everything the pipeline computed for one image: the graph plus the intermediate masks (for overlays,
/// tests and evaluation).
public struct VesselAnalysis: Sendable {
    /// The heterogeneous graph with features and biomarkers.
    public var graph: OCTAGraph
    /// Vessel mask after FAZ clean-up (vessel pixels inside the FAZ are removed: it is avascular by definition).
    public var vesselMask: BinaryMask
    /// One-pixel-wide centreline after spur pruning.
    public var skeleton: BinaryMask
    /// FAZ region (empty when none was found).
    public var fazMask: BinaryMask
    /// Branch-point pixels (clusters of skeleton pixels with 3+ neighbours).
    public var bifurcationPixels: [Int32]
    /// Wall-clock time per stage, ms (segment, faz, skeleton, footprints, regions, features, biomarkers).
    public var stageMS: [String: Double]
}

/// Turns an OCTA en-face image into an `OCTAGraph`: segmentation, FAZ, skeleton, vessel/ICA/FAZ nodes with
/// features, relations, ETDRS sectors and biomarkers. All parameters are physical (`VesselGraphConfig`).
public struct VesselGraphBuilder: Codable, Sendable {
    /// Pipeline parameters.
    public var config: VesselGraphConfig
    /// Smallest accepted image side, px.
    public static let minimumSidePX = 8

    /// Vessel feature columns (units in the names).
    public static let vesselFeatureNames = [
        "length_um", "chord_um", "curveness", "radius_mean_um", "radius_std_um", "radius_min_um", "radius_max_um",
        "area_um2", "orientation_deg", "degree_start", "degree_end", "mean_intensity", "distance_to_faz_centre_um",
    ]
    /// Intercapillary-area feature columns.
    public static let icaFeatureNames = [
        "area_um2", "perimeter_um", "eccentricity", "solidity", "equivalent_diameter_um", "major_axis_um",
        "minor_axis_um", "max_feret_um", "mean_intensity", "distance_to_faz_centre_um",
    ]
    /// FAZ feature columns.
    public static let fazFeatureNames = [
        "area_mm2", "perimeter_mm", "circularity", "eccentricity", "solidity", "max_feret_mm", "mean_intensity",
    ]

    /// A builder with `config` (defaults: see `VesselGraphConfig`).
    public init(config: VesselGraphConfig = VesselGraphConfig()) { self.config = config }

    /// The graph of `image` (intensities 0-1, `pixelSizeMM` set).
    /// - Throws: `VesselGraphError` for images too small, without a valid pixel size, or with NaN pixels.
    public func build(_ image: GrayImage) throws -> OCTAGraph { try analyze(image).graph }

    /// The graph and all intermediate masks of `image`; segments the vessels itself.
    /// - Throws: `VesselGraphError` (see `build`).
    public func analyze(_ image: GrayImage) throws -> VesselAnalysis {
        try validate(image)
        let t0 = DispatchTime.now().uptimeNanoseconds
        let seg = VesselSegmenter(config: config).segment(image)
        let t1 = DispatchTime.now().uptimeNanoseconds
        var a = assemble(image, mask: seg.mask)
        a.stageMS["segment"] = Double(t1 - t0) / 1e6
        return a
    }

    /// The graph of `image` using a given vessel mask (e.g. a manual annotation or an exact geometric shape)
    /// instead of segmenting; the FAZ is still found from the image.
    /// - Throws: `VesselGraphError` (see `build`), `.maskSizeMismatch`.
    public func analyze(_ image: GrayImage, vesselMask: BinaryMask) throws -> VesselAnalysis {
        try validate(image)
        guard vesselMask.width == image.width, vesselMask.height == image.height else {
            throw VesselGraphError.maskSizeMismatch(imageWidth: image.width, imageHeight: image.height,
                                                    maskWidth: vesselMask.width, maskHeight: vesselMask.height)
        }
        return assemble(image, mask: vesselMask.bits)
    }

    private func validate(_ image: GrayImage) throws {
        guard image.width >= Self.minimumSidePX, image.height >= Self.minimumSidePX else {
            throw VesselGraphError.imageTooSmall(width: image.width, height: image.height, minimumSidePX: Self.minimumSidePX)
        }
        guard image.pixelSizeMM.isFinite, image.pixelSizeMM > 0 else {
            throw VesselGraphError.invalidPixelSize(image.pixelSizeMM)
        }
        let bad = image.pixels.reduce(0) { $0 + ($1.isFinite ? 0 : 1) }
        if bad > 0 { throw VesselGraphError.nonFinitePixels(count: bad) }
    }

    // MARK: - Pipeline after segmentation

    private func assemble(_ image: GrayImage, mask inMask: [UInt8]) -> VesselAnalysis {
        let w = image.width, h = image.height, n = w * h
        let px = image.pixelSizeMM, umPerPX = px * 1000
        var stage: [String: Double] = [:]
        var clock = DispatchTime.now().uptimeNanoseconds
        func lap(_ name: String) {
            let t = DispatchTime.now().uptimeNanoseconds
            stage[name] = Double(t - clock) / 1e6
            clock = t
        }

        // FAZ, then clear vessel specks inside it.
        let fazBits = FAZDetector(config: config).detect(image, vesselMask: inMask) ?? [UInt8](repeating: 0, count: n)
        var mask = inMask
        mask.withUnsafeMutableBufferPointer { m in
            fazBits.withUnsafeBufferPointer { fz in for i in 0..<n where fz[i] != 0 { m[i] = 0 } }
        }
        lap("faz")

        // Skeleton and segments.
        let thin = Skeletonizer.thin(mask, width: w, height: h)
        let traced = SkeletonTracer.trace(thin, width: w, height: h, spurLengthPX: config.spurLengthUM / umPerPX)
        // Radius along the centrelines only (capped at 200 um: wider blobs are not vessels).
        let pathPixels = traced.pathPixels   // every segment's path, in segment order
        let pathR2 = DistanceTransform.squaredToBackground(at: pathPixels, mask: mask, width: w, height: h,
                                                           maxPX: max(2, Int((200 / umPerPX).rounded(.up))))
        lap("skeleton")

        // Vessel footprints: each vessel pixel goes to the segment whose centreline reaches it first (BFS).
        let segs = traced.segments
        var owner = [Int32](repeating: -1, count: n)
        var queue: [Int32] = []
        queue.reserveCapacity(n / 2)
        // Seeds: each path's interior (the whole path when it has no interior), read from the flat list of
        // paths in segment order (slicing each path cost more than the loop).
        owner.withUnsafeMutableBufferPointer { ow in
            var offset = 0
            for s in 0..<segs.count {
                let count = segs[s].path.count
                let range = count > 2 ? (offset + 1)..<(offset + count - 1) : offset..<(offset + count)
                for j in range {
                    let p = pathPixels[j]
                    if ow[Int(p)] < 0 { ow[Int(p)] = Int32(s); queue.append(p) }
                }
                offset += count
            }
        }
        // Growth stays on vessel and skeleton pixels: the others become walls (-2; every later use of owner
        // tests >= 0). Seeds lie on the skeleton, so no seed is walled.
        owner.withUnsafeMutableBufferPointer { ow in
            mask.withUnsafeBufferPointer { m in
                traced.skeleton.withUnsafeBufferPointer { sk in
                    for i in 0..<n where m[i] | sk[i] == 0 && ow[i] == -1 { ow[i] = -2 }
                }
            }
        }
        Self.growLabels(&owner, from: &queue, width: w, height: h, eightConnected: true)
        lap("footprints")

        // ICA regions: 4-connected avascular components outside the FAZ, large enough, not touching the border.
        var avascular = [UInt8](repeating: 0, count: n)
        // Per-pixel loops write through raw buffers: an array write next to other arrays' reads paid a
        // uniqueness check per pixel.
        avascular.withUnsafeMutableBufferPointer { av in
            mask.withUnsafeBufferPointer { m in
                fazBits.withUnsafeBufferPointer { fz in for i in 0..<n { av[i] = (m[i] | fz[i]) == 0 ? 1 : 0 } }
            }
        }
        let cc = ComponentLabeling(avascular, width: w, height: h, eightConnected: false)
        let minICAPX = max(1, Int((config.minICAAreaUM2 / (umPerPX * umPerPX)).rounded(.up)))
        var icaIndex = [Int32](repeating: -1, count: cc.count)
        var icaCount = 0
        // Regions cut by the field edge have no measurable true shape (and an empty image is one such region),
        // so only regions enclosed inside the field become nodes.
        let border = cc.touchesBorder(width: w, height: h)
        for c in 0..<cc.count where cc.sizes[c] >= minICAPX && !border[c] { icaIndex[c] = Int32(icaCount); icaCount += 1 }
        // region[i]: ICA id, icaCount for the FAZ, -1 elsewhere.
        var region = [Int32](repeating: -1, count: n)
        region.withUnsafeMutableBufferPointer { rg in
            fazBits.withUnsafeBufferPointer { fz in
                cc.labels.withUnsafeBufferPointer { lab in
                    icaIndex.withUnsafeBufferPointer { ica in
                        for i in 0..<n {
                            if fz[i] != 0 { rg[i] = Int32(icaCount); continue }
                            let c = lab[i]
                            if c >= 0 { rg[i] = ica[Int(c)] }
                        }
                    }
                }
            }
        }
        // Pixel lists per region (the last one is the FAZ), in raster order.
        var regionPixels = Self.group(region, count: icaCount + 1)
        let fazPixels = regionPixels.removeLast()
        let icaPixels = regionPixels
        let hasFAZ = !fazPixels.isEmpty

        // Vessel-ICA and FAZ-vessel: a vessel footprint pixel 4-adjacent to the region.
        var vesselICA = PairCounter(count: segs.count)
        var fazVessel = Set<Int32>()
        let fazRegion = Int32(icaCount)
        // Raster order by rows and columns (an integer division per pixel cost more than the test itself).
        owner.withUnsafeBufferPointer { ow in
            region.withUnsafeBufferPointer { rg in
                for y in 0..<h {
                    let row = y * w
                    for x in 0..<w where ow[row + x] >= 0 {
                        let p = row + x, o = Int(ow[p])
                        // The four 4-neighbours' regions (-1 outside the image or outside every region).
                        let r0 = x > 0 ? rg[p - 1] : -1, r1 = x + 1 < w ? rg[p + 1] : -1
                        let r2 = p >= w ? rg[p - w] : -1, r3 = p + w < n ? rg[p + w] : -1
                        if r0 >= 0 { Self.touch(o, r0, fazRegion, &vesselICA, &fazVessel) }
                        if r1 >= 0 { Self.touch(o, r1, fazRegion, &vesselICA, &fazVessel) }
                        if r2 >= 0 { Self.touch(o, r2, fazRegion, &vesselICA, &fazVessel) }
                        if r3 >= 0 { Self.touch(o, r3, fazRegion, &vesselICA, &fazVessel) }
                    }
                }
            }
        }

        // ICA-ICA and FAZ-ICA: grow the regions over the vessels (geodesic Voronoi); regions whose grown
        // territories meet are separated by one vessel centreline (or touch directly).
        var grown = region
        // Growth crosses vessels and avascular specks too small to be regions, never the avascular area cut by
        // the border (two regions meeting across it are not separated by a vessel): unlabelled pixels it may
        // not cross become walls (-2; the contact count below only looks at labels >= 0). Seeds and walls in
        // one pass.
        queue = [Int32](unsafeUninitializedCapacity: n) { q, filled in
            var c = 0
            grown.withUnsafeMutableBufferPointer { gr in
                cc.labels.withUnsafeBufferPointer { lab in
                    fazBits.withUnsafeBufferPointer { fz in
                        for i in 0..<n {
                            if gr[i] >= 0 { q[c] = Int32(i); c += 1; continue }
                            let l = lab[i]
                            let crossable = l < 0 ? fz[i] == 0 : (icaIndex[Int(l)] < 0 && !border[Int(l)])
                            if !crossable { gr[i] = -2 }
                        }
                    }
                }
            }
            filled = c
        }
        Self.growLabels(&grown, from: &queue, width: w, height: h, eightConnected: false)
        var contacts = PairCounter(count: icaCount + 1)
        grown.withUnsafeBufferPointer { g in
            for y in 0..<h {
                let row = y * w
                for x in 0..<w {
                    let p = row + x, a = g[p]
                    if a < 0 { continue }
                    if x + 1 < w { let b = g[p + 1]; if b >= 0 && b != a { contacts.add(Int(min(a, b)), Int(max(a, b))) } }
                    if y + 1 < h { let b = g[p + w]; if b >= 0 && b != a { contacts.add(Int(min(a, b)), Int(max(a, b))) } }
                }
            }
        }

        // The FAZ's neighbours: every vessel and region within `fazNeighbourDistanceUM` of its border (a dark
        // core is often ringed by a thin capillary-free margin, so strict contact would miss them).
        var fazICA = Set<Int32>()
        if hasFAZ && config.fazNeighbourDistanceUM > 0 {
            let near = Morphology.dilate(fazBits, width: w, height: h, radiusPX: config.fazNeighbourDistanceUM / umPerPX)
            for i in 0..<n where near[i] != 0 && fazBits[i] == 0 {
                if owner[i] >= 0 { fazVessel.insert(owner[i]) }
                if region[i] >= 0 && region[i] < Int32(icaCount) { fazICA.insert(region[i]) }
            }
        }
        lap("regions")

        // ETDRS grid centred on the FAZ centroid (fovea) when found.
        var gcx = Double(w - 1) / 2, gcy = Double(h - 1) / 2
        var fazShape: RegionShape?
        if hasFAZ {
            let s = RegionShape(pixels: fazPixels, width: w, height: h, labels: region, id: Int32(icaCount))
            gcx = s.centroidX; gcy = s.centroidY; fazShape = s
        }
        let grid = ETDRSGrid(centreX: gcx, centreY: gcy, pixelSizeMM: px, laterality: config.laterality)
        func distUM(_ x: Double, _ y: Double) -> Float {
            Float(((x - gcx) * (x - gcx) + (y - gcy) * (y - gcy)).squareRoot() * umPerPX)
        }
        func meanIntensity(_ pixels: [Int32]) -> Float {
            guard !pixels.isEmpty else { return 0 }
            var s: Float = 0
            image.pixels.withUnsafeBufferPointer { ip in for p in pixels { s += ip[Int(p)] } }
            return s / Float(pixels.count)
        }

        // Vessel nodes.
        let vesselFootprints = Self.group(owner, count: segs.count)
        var vessel = NodeColumns(width: Self.vesselFeatureNames.count, capacity: segs.count)
        var pathOffset = 0
        // Radii along one segment, px: one raw buffer for all segments (an Array append per path pixel paid a
        // uniqueness and capacity check).
        let rs = UnsafeMutablePointer<Double>.allocate(capacity: max(1, pathPixels.count))
        defer { rs.deallocate() }
        // Segments by index with their fields read in place (iterating copies retained each path slice).
        for s in 0..<segs.count {
            let pathCount = segs[s].path.count
            assert(segs[s].path.startIndex == pathOffset, "paths are consecutive slices of pathPixels")
            let a = Int(pathPixels[pathOffset]), b = Int(pathPixels[pathOffset + pathCount - 1])
            let dx = Double(b % w - a % w), dy = Double(b / w - a / w)
            let chord = (dx * dx + dy * dy).squareRoot()
            // Sums in path order, as reduce(0, +) did; min and max as Sequence.min()/max().
            var sum = 0.0, rMin = 0.0, rMax = 0.0
            for k in 0..<pathCount {
                let r = max(0.5, Double(pathR2[pathOffset + k]).squareRoot() - 0.5)
                rs[k] = r; sum += r
                if k == 0 { rMin = r; rMax = r } else { if r < rMin { rMin = r }; if r > rMax { rMax = r } }
            }
            let mid = Int(pathPixels[pathOffset + pathCount / 2])
            pathOffset += pathCount
            let mean = sum / Double(pathCount)
            var squares = 0.0
            for k in 0..<pathCount { squares += (rs[k] - mean) * (rs[k] - mean) }
            let sd = (squares / Double(pathCount)).squareRoot()
            var angle = atan2(-dy, dx) * 180 / Double.pi
            if angle < 0 { angle += 180 }
            if angle >= 180 { angle -= 180 }
            let mx = Double(mid % w), my = Double(mid / w)
            let lengthPX = segs[s].lengthPX
            // The columns of `vesselFeatureNames`, in order.
            vessel.set(0, Float(lengthPX * umPerPX)); vessel.set(1, Float(chord * umPerPX))
            vessel.set(2, Float(lengthPX / max(chord, 1))); vessel.set(3, Float(mean * umPerPX))
            vessel.set(4, Float(sd * umPerPX)); vessel.set(5, Float(rMin * umPerPX)); vessel.set(6, Float(rMax * umPerPX))
            vessel.set(7, Float(Double(vesselFootprints[s].count) * umPerPX * umPerPX))
            vessel.set(8, Float(angle))
            vessel.set(9, Float(traced.nodes[segs[s].startNode].degree))
            vessel.set(10, Float(traced.nodes[segs[s].endNode].degree))
            vessel.set(11, meanIntensity(vesselFootprints[s])); vessel.set(12, distUM(mx, my))
            vessel.place(x: mx, y: my, pixelSizeMM: px, grid: grid, footprint: vesselFootprints[s])
        }

        // ICA nodes.
        var icaColumns = NodeColumns(width: Self.icaFeatureNames.count, capacity: icaCount)
        for r in 0..<icaCount {
            let s = RegionShape(pixels: icaPixels[r], width: w, height: h, labels: region, id: Int32(r))
            // The columns of `icaFeatureNames`, in order.
            icaColumns.set(0, Float(s.areaPX * umPerPX * umPerPX)); icaColumns.set(1, Float(s.perimeterPX * umPerPX))
            icaColumns.set(2, Float(s.eccentricity)); icaColumns.set(3, Float(s.solidity))
            icaColumns.set(4, Float(s.equivalentDiameterPX * umPerPX)); icaColumns.set(5, Float(s.majorAxisPX * umPerPX))
            icaColumns.set(6, Float(s.minorAxisPX * umPerPX)); icaColumns.set(7, Float(s.maxFeretPX * umPerPX))
            icaColumns.set(8, meanIntensity(icaPixels[r])); icaColumns.set(9, distUM(s.centroidX, s.centroidY))
            icaColumns.place(x: s.centroidX, y: s.centroidY, pixelSizeMM: px, grid: grid, footprint: icaPixels[r])
        }
        let ica = icaColumns.nodeSet(featureNames: Self.icaFeatureNames)

        // FAZ node.
        var fazColumns = NodeColumns(width: Self.fazFeatureNames.count, capacity: 1)
        if let s = fazShape {
            for (j, v) in [Float(s.areaPX * px * px), Float(s.perimeterPX * px), Float(s.circularity), Float(s.eccentricity),
                           Float(s.solidity), Float(s.maxFeretPX * px), meanIntensity(fazPixels)].enumerated() { fazColumns.set(j, v) }
            fazColumns.place(x: s.centroidX, y: s.centroidY, pixelSizeMM: px, grid: grid, footprint: fazPixels)
        }
        let faz = fazColumns.nodeSet(featureNames: Self.fazFeatureNames)
        let vesselNodes = vessel.nodeSet(featureNames: Self.vesselFeatureNames)

        // Relations.
        var vv = Relation(name: "vessel-vessel", sourceType: "vessel", targetType: "vessel", source: [], target: [])
        // Segments at each node in segment order, as one flat list by counting sort (one growable array per
        // node cost an allocation and regrowths per node): node k's are atNode[atStart[k]..<atStart[k + 1]].
        let nodeCount = traced.nodes.count
        var segStart = [Int](repeating: 0, count: segs.count), segEnd = segStart
        for s in 0..<segs.count { segStart[s] = segs[s].startNode; segEnd[s] = segs[s].endNode }
        var atStart = [Int](repeating: 0, count: nodeCount + 1)
        for s in 0..<segs.count {
            atStart[segStart[s] + 1] += 1
            if segEnd[s] != segStart[s] { atStart[segEnd[s] + 1] += 1 }
        }
        for k in 0..<nodeCount { atStart[k + 1] += atStart[k] }
        var atNode = [Int32](repeating: 0, count: atStart[nodeCount])
        var atFill = atStart
        for s in 0..<segs.count {
            atNode[atFill[segStart[s]]] = Int32(s); atFill[segStart[s]] += 1
            if segEnd[s] != segStart[s] { atNode[atFill[segEnd[s]]] = Int32(s); atFill[segEnd[s]] += 1 }
        }
        // Each ordered pair once. Entries of one node's list are distinct, so a pair repeats only when both
        // segments join the same two nodes; it is then listed at the lower-numbered node (visited first).
        // (A hash set of pairs did the same at 3% of the whole pipeline's instructions.)
        for node in 0..<nodeCount where atStart[node + 1] - atStart[node] > 1 {
            for i in atStart[node]..<atStart[node + 1] {
                let a = Int(atNode[i])
                let otherA = segStart[a] == node ? segEnd[a] : segStart[a]
                for j in atStart[node]..<atStart[node + 1] where i != j {
                    let b = Int(atNode[j])
                    let otherB = segStart[b] == node ? segEnd[b] : segStart[b]
                    if otherA == otherB && otherA != node && otherA < node { continue }
                    vv.source.append(atNode[i]); vv.target.append(atNode[j])
                }
            }
        }
        var ii = Relation(name: "ica-ica", sourceType: "ica", targetType: "ica", source: [], target: [])
        var fi = Relation(name: "faz-ica", sourceType: "faz", targetType: "ica", source: [], target: [])
        contacts.sortPartners()
        for a in 0..<(icaCount + 1) {
            for (b32, touches) in contacts.pairs(of: a) {
                let b = Int(b32)
                if b == icaCount { fazICA.insert(Int32(a)); continue }
                // Two regions meeting at a single pixel corner (diagonally across a branch point) are not neighbours.
                guard touches >= 2 else { continue }
                ii.source.append(Int32(a)); ii.target.append(Int32(b))
                ii.source.append(Int32(b)); ii.target.append(Int32(a))
            }
        }
        for r in fazICA.sorted() { fi.source.append(0); fi.target.append(r) }
        var vi = Relation(name: "vessel-ica", sourceType: "vessel", targetType: "ica", source: [], target: [])
        vesselICA.sortPartners()
        for s in 0..<segs.count { for (r, _) in vesselICA.pairs(of: s) { vi.source.append(Int32(s)); vi.target.append(r) } }
        var fv = Relation(name: "faz-vessel", sourceType: "faz", targetType: "vessel", source: [], target: [])
        for s in fazVessel.sorted() { fv.source.append(0); fv.target.append(s) }
        lap("features")

        // Biomarkers.
        let skeletonPixels = [Int32](unsafeUninitializedCapacity: n) { q, filled in
            var c = 0
            for i in 0..<n where traced.skeleton[i] != 0 { q[c] = Int32(i); c += 1 }
            filled = c
        }
        let fieldMM2 = Double(n) * px * px
        let vesselCount = mask.reduce(0) { $0 + Int($1) }
        var bio: [String: Double] = [
            "perfusion_density": Double(vesselCount) / Double(n),
            "skeleton_length_density_mm_per_mm2": Biomarkers.chainLengthPX(traced.skeleton, pixels: skeletonPixels, width: w, height: h) * px / fieldMM2,
            "fractal_dimension": Biomarkers.boxCountingDimension(skeletonPixels, width: w, height: h),
            "faz_found": hasFAZ ? 1 : 0,
            "faz_area_mm2": fazShape.map { $0.areaPX * px * px } ?? 0,
            "faz_perimeter_mm": fazShape.map { $0.perimeterPX * px } ?? 0,
            "faz_circularity": fazShape?.circularity ?? 0,
            "vessel_segment_count": Double(segs.count),
            "bifurcation_count": Double(traced.nodes.filter { $0.degree >= 3 }.count),
            "endpoint_count": Double(traced.nodes.filter { $0.degree == 1 }.count),
            "ica_count": Double(icaCount),
            "field_area_mm2": fieldMM2,
        ]
        let lengths = vesselNodes.column("length_um"), curv = vesselNodes.column("curveness"), radii = vesselNodes.column("radius_mean_um")
        let totalLen = lengths.reduce(0, +)
        // Length-weighted, so short fragments do not dominate.
        bio["vessel_curveness_mean"] = totalLen > 0 ? Double(zip(lengths, curv).reduce(0) { $0 + $1.0 * $1.1 } / totalLen) : 0
        bio["vessel_radius_mean_um"] = totalLen > 0 ? Double(zip(lengths, radii).reduce(0) { $0 + $1.0 * $1.1 } / totalLen) : 0
        bio["ica_area_mean_um2"] = icaCount > 0 ? Double(ica.column("area_um2").reduce(0, +)) / Double(icaCount) : 0
        for (k, v) in Biomarkers.sectorDensities(mask: mask, width: w, height: h, grid: grid) { bio[k] = v }
        lap("biomarkers")

        var bifurcations: [Int32] = []
        for node in traced.nodes where node.degree >= 3 { bifurcations.append(contentsOf: node.pixels) }
        let graph = OCTAGraph(
            format: "capillary-octa-graph/1", widthPX: w, heightPX: h, pixelSizeMM: px, gridCentrePX: [gcx, gcy],
            sectorNames: ETDRSGrid.sectorNames, quadrantNames: ETDRSGrid.quadrantNames,
            vessel: vesselNodes, ica: ica, faz: faz, relations: [vv, ii, vi, fi, fv], biomarkers: bio)
        return VesselAnalysis(
            graph: graph, vesselMask: Self.mask(mask, w, h), skeleton: Self.mask(traced.skeleton, w, h),
            fazMask: Self.mask(fazBits, w, h), bifurcationPixels: bifurcations, stageMS: stage)
    }

    @inline(__always)
    private static func touch(_ vessel: Int, _ r: Int32, _ fazRegion: Int32, _ vesselICA: inout PairCounter,
                              _ fazVessel: inout Set<Int32>) {
        if r == fazRegion { fazVessel.insert(Int32(vessel)) } else { vesselICA.add(vessel, Int(r)) }
    }

    /// A mask from bits that are already 0/1 (skips BinaryMask's normalising copy).
    private static func mask(_ bits: [UInt8], _ w: Int, _ h: Int) -> BinaryMask {
        var m = BinaryMask(width: w, height: h)
        m.bits = bits
        return m
    }

    /// Pixel indices per label 0..<count (raster order), one exact-size array per label.
    private static func group(_ labels: [Int32], count: Int) -> [[Int32]] {
        // Counting sort through raw buffers, then each label's pixels copied straight into its exact-size array.
        let start = UnsafeMutablePointer<Int>.allocate(capacity: count + 1)
        defer { start.deallocate() }
        start.initialize(repeating: 0, count: count + 1)
        let n = labels.count
        return labels.withUnsafeBufferPointer { lb in
            for p in 0..<n { let l = Int(lb[p]); if l >= 0 { start[l + 1] += 1 } }
            for k in 0..<count { start[k + 1] += start[k] }
            let total = start[count]
            let flat = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, total))
            defer { flat.deallocate() }
            let fill = UnsafeMutablePointer<Int>.allocate(capacity: max(1, count))
            defer { fill.deallocate() }
            fill.initialize(from: start, count: count)
            for p in 0..<n {
                let l = Int(lb[p])
                if l >= 0 { flat[fill[l]] = Int32(p); fill[l] += 1 }
            }
            // Array(UnsafeBufferPointer) is specialised for Int32; Array(unsafeUninitializedCapacity:) went
            // through the runtime's generic allocation path (about 700 instructions per array).
            return (0..<count).map { k in Array(UnsafeBufferPointer(start: flat + start[k], count: start[k + 1] - start[k])) }
        }
    }

    /// Multi-source breadth-first growth of labels (>= 0) into unlabelled pixels (-1); pixels below -1 are walls
    /// that stay as they are (one label read per neighbour instead of a label and a permission plane).
    private static func growLabels(_ labels: inout [Int32], from queue: inout [Int32], width w: Int, height h: Int,
                                   eightConnected: Bool) {
        // Every pixel enters the queue at most once: a fixed buffer with head/tail indices, no appends. Each
        // entry carries its column, so the border tests need no division (one per pixel was a tenth of this
        // function's time; the seeds pay it once here).
        let n = w * h
        let cap = n + queue.count
        let q = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, cap))
        let col = UnsafeMutablePointer<Int32>.allocate(capacity: max(1, cap))
        defer { q.deallocate(); col.deallocate() }
        var tail = queue.count
        // Seeds are in raster order: one division per row.
        var rowStart = 0, rowEnd = 0
        for (i, p) in queue.enumerated() {
            let pi = Int(p)
            if pi >= rowEnd || pi < rowStart { rowStart = pi - pi % w; rowEnd = rowStart + w }
            q[i] = p; col[i] = Int32(pi - rowStart)
        }
        var head = 0
        labels.withUnsafeMutableBufferPointer { lab in
            @inline(__always) func push(_ c: Int, _ x: Int, _ o: Int32) {
                lab[c] = o; q[tail] = Int32(c); col[tail] = Int32(x); tail += 1
            }
            while head < tail {
                let p = Int(q[head]), x = Int(col[head]); head += 1
                let o = lab[p]
                let left = x > 0, right = x + 1 < w, up = p >= w, down = p + w < n
                // Same neighbour order as before: W, E, N, S, then NW, NE, SW, SE.
                if left && lab[p - 1] == -1 { push(p - 1, x - 1, o) }
                if right && lab[p + 1] == -1 { push(p + 1, x + 1, o) }
                if up && lab[p - w] == -1 { push(p - w, x, o) }
                if down && lab[p + w] == -1 { push(p + w, x, o) }
                if eightConnected {
                    if up && left && lab[p - w - 1] == -1 { push(p - w - 1, x - 1, o) }
                    if up && right && lab[p - w + 1] == -1 { push(p - w + 1, x + 1, o) }
                    if down && left && lab[p + w - 1] == -1 { push(p + w - 1, x - 1, o) }
                    if down && right && lab[p + w + 1] == -1 { push(p + w + 1, x + 1, o) }
                }
            }
        }
    }
}
