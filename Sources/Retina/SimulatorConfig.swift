/// Which retinal slab the simulated en-face image shows.
public enum Plexus: String, Codable, Sendable, CaseIterable {
    /// Superficial vascular complex (SVC) in full; the deep plexus only bleeds through faintly (default).
    case superficial
    /// Deep vascular complex (DVC) in full; large superficial vessels appear as projection artefacts.
    case deep
    /// Both plexuses at full strength (a whole inner-retina projection, like OCTA-500 ILM-OPL).
    case combined
}

/// Space-colonization growth parameters of one plexus (Runions 2005; Kreitner et al. 2024).
public struct PlexusGrowth: Codable, Sendable, Equatable {
    /// Oxygen sinks (attractors) per mm2 of field: sets how densely the tree fills the plane.
    public var sinkDensityPerMM2: Double
    /// A sink steers the nearest tree node within this distance, mm.
    public var perceptionDistanceMM: Double
    /// A sink is satisfied (removed) once a node is this close, mm; sets the intercapillary spacing.
    public var killDistanceMM: Double
    /// Length of one growth step (one centreline segment), mm.
    public var stepMM: Double
    /// Half-angle of the cone ahead of a node in which it perceives sinks, degrees.
    public var coneHalfAngleDeg: Double
    /// Murray's-law exponent k in r_parent^k = sum r_child^k.
    public var murrayExponent: Double
    /// Radius of terminal capillaries, micrometres.
    public var capillaryRadiusUM: Double
    /// Upper bound on growth iterations (growth normally stops earlier, when no sink is left in reach).
    public var maxIterations: Int

    enum CodingKeys: String, CodingKey {
        case sinkDensityPerMM2 = "sink_density_per_mm2"
        case perceptionDistanceMM = "perception_distance_mm"
        case killDistanceMM = "kill_distance_mm"
        case stepMM = "step_mm"
        case coneHalfAngleDeg = "cone_half_angle_deg"
        case murrayExponent = "murray_exponent"
        case capillaryRadiusUM = "capillary_radius_um"
        case maxIterations = "max_iterations"
    }

    /// Superficial arterioles and venules: sparse sinks, long reach, narrow cone. Radius exponent 3.8: an
    /// effective taper, not a flow law (above Kreitner's SVC k = 2.55 and Murray's 3): with k = 2.55 and
    /// one sink per terminal, second-order branches came out 6-10 um, as thin as capillaries; with a larger
    /// k the radius falls more slowly from the trunk, so they start clearly wider and taper, as OCTA-500's
    /// do (docs/COHORT.md).
    public static let largeVessels = PlexusGrowth(
        sinkDensityPerMM2: 7, perceptionDistanceMM: 0.6, killDistanceMM: 0.12, stepMM: 0.02,
        coneHalfAngleDeg: 50, murrayExponent: 3.8, capillaryRadiusUM: 3.0, maxIterations: 400)

    /// Superficial capillary bed grown from the arterioles and venules: dense sinks, short reach, wide cone
    /// (capillaries leave their feeders at large angles).
    public static let superficial = PlexusGrowth(
        sinkDensityPerMM2: 580, perceptionDistanceMM: 0.13, killDistanceMM: 0.045, stepMM: 0.015,
        coneHalfAngleDeg: 90, murrayExponent: 2.55, capillaryRadiusUM: 3.0, maxIterations: 300)

    /// Deep plexus: a finer, polygonal capillary net fed from the superficial one (Murray k = 2.9, wide cone).
    public static let deep = PlexusGrowth(
        sinkDensityPerMM2: 1400, perceptionDistanceMM: 0.146, killDistanceMM: 0.035, stepMM: 0.02,
        coneHalfAngleDeg: 90, murrayExponent: 2.9, capillaryRadiusUM: 2.5, maxIterations: 300)
}

/// Image-formation and artefact options. Every per-image draw from these ranges is independent of severity.
public struct RenderOptions: Codable, Sendable, Equatable {
    /// Lateral resolution of the OCTA device (full width at half maximum of the point-spread), micrometres;
    /// a capillary narrower than this still looks this wide.
    public var psfFWHMUM: Double
    /// Multiplicative speckle strength (standard deviation of the per-pixel gain), 0-1.
    public var speckle: Double
    /// Additive quantum (shot) noise standard deviation, intensity units.
    public var quantumNoiseSD: Double
    /// Control grid size of the smooth multiplicative background field (n x n).
    public var backgroundGrid: Int
    /// Standard deviation of the background field's log-gain.
    public var backgroundFieldSD: Double
    /// Intensity with which the non-imaged plexus bleeds through (projection), 0-1.
    public var bleedThrough: Double
    /// Probability that an image has horizontal motion lines.
    public var motionLineProbability: Double
    /// Probability that an image has a vitreous floater shadow.
    public var floaterProbability: Double
    /// Range of the image's target mean intensity after auto-gain (device brightness), 0-1.
    public var meanIntensityRange: ClosedRange<Double>
    /// Range of the image's target intensity standard deviation relative to its target mean (device
    /// contrast); tying it to the mean keeps the FAZ above black, as in real scans.
    public var contrastSDRange: ClosedRange<Double>
    /// Range of the display gamma.
    public var gammaRange: ClosedRange<Double>

    enum CodingKeys: String, CodingKey {
        case psfFWHMUM = "psf_fwhm_um"
        case speckle
        case quantumNoiseSD = "quantum_noise_sd"
        case backgroundGrid = "background_grid"
        case backgroundFieldSD = "background_field_sd"
        case bleedThrough = "bleed_through"
        case motionLineProbability = "motion_line_probability"
        case floaterProbability = "floater_probability"
        case meanIntensityRange = "mean_intensity_range"
        case contrastSDRange = "contrast_sd_range"
        case gammaRange = "gamma_range"
    }

    /// Defaults matched to OCTA-500 projections (mean 0.27-0.39, std about 0.19; see docs/COHORT.md).
    public static let standard = RenderOptions(
        psfFWHMUM: 22, speckle: 0.32, quantumNoiseSD: 0.02, backgroundGrid: 9, backgroundFieldSD: 0.18,
        bleedThrough: 0.18, motionLineProbability: 0.15, floaterProbability: 0.10,
        meanIntensityRange: 0.27...0.40, contrastSDRange: 0.55...0.72, gammaRange: 0.8...1.25)
}

/// How strongly severity drives each pathology (all effects scale with severity s in [0, 1]).
public struct PathologyOptions: Codable, Sendable, Equatable {
    /// Mean healthy FAZ area, mm2, and its between-eye standard deviation.
    public var healthyFAZAreaMM2: Double
    /// Between-eye standard deviation of the healthy FAZ area, mm2.
    public var healthyFAZAreaSDMM2: Double
    /// FAZ area multiplier at s = 1 (linear in the disease part of s).
    public var fazEnlargementAtMax: Double
    /// Largest number of capillary-dropout blobs (at s = 1).
    public var maxDropoutBlobs: Int
    /// Fraction of capillaries removed inside a dropout blob (OCTA-SVR: 0.90-0.99).
    public var dropoutStrength: ClosedRange<Double>
    /// Expected number of microaneurysms at s = 1.
    public var microaneurysmsAtMax: Double
    /// Neovascular tufts in PDR (min...max).
    public var neovascularTufts: ClosedRange<Int>

    enum CodingKeys: String, CodingKey {
        case healthyFAZAreaMM2 = "healthy_faz_area_mm2"
        case healthyFAZAreaSDMM2 = "healthy_faz_area_sd_mm2"
        case fazEnlargementAtMax = "faz_enlargement_at_max"
        case maxDropoutBlobs = "max_dropout_blobs"
        case dropoutStrength = "dropout_strength"
        case microaneurysmsAtMax = "microaneurysms_at_max"
        case neovascularTufts = "neovascular_tufts"
    }

    /// Literature-based defaults (DOMAIN.md: healthy FAZ 0.25-0.35 mm2; OCTA-SVR dropout 1-6 blobs, 0.90-0.99).
    public static let standard = PathologyOptions(
        healthyFAZAreaMM2: 0.29, healthyFAZAreaSDMM2: 0.07, fazEnlargementAtMax: 1.9, maxDropoutBlobs: 6,
        dropoutStrength: 0.90...0.99, microaneurysmsAtMax: 22, neovascularTufts: 1...3)
}

/// Everything that defines the synthetic OCTA simulator (image size, field of view, growth, rendering,
/// pathology). Codable: it is stored in every eye's ground truth so that an image can be regenerated.
public struct SimulatorConfig: Codable, Sendable, Equatable {
    /// Image width and height, px (square images).
    public var sizePX: Int
    /// Field of view (side of the square scan), mm: 3 for a 3x3 mm macular scan, 6 for 6x6 mm.
    public var fovMM: Double
    /// Which slab the image shows.
    public var plexus: Plexus
    /// Superficial arteriole/venule growth (first stage).
    public var largeVessels: PlexusGrowth
    /// Radius of the largest superficial trunk entering a 3 mm field, um (scaled by (fov / 3)^0.2);
    /// Murray's law sets every other radius relative to it.
    public var trunkRadiusUM: ClosedRange<Double>
    /// Superficial capillary growth (second stage, continuing the same trees).
    public var superficial: PlexusGrowth
    /// Deep-plexus growth.
    public var deep: PlexusGrowth
    /// Image formation and artefacts.
    public var render: RenderOptions
    /// Severity-driven pathology.
    public var pathology: PathologyOptions
    /// Perifoveal capillary ring (nil or true: on, the default; false: off): the FAZ border is a closed
    /// ring of capillary loops 20 um outside a capillary-scale scalloped outline, capillary density and
    /// signal taper towards it, and the FAZ truth mask is the vessel-free region bounded by the innermost
    /// perfused capillaries (what an annotator draws on the image). Off: no ring, and the truth is the
    /// drawn outline (pixel centres inside it), whose vessel-free notches the image cannot show.
    public var perifovealRing: Bool?

    enum CodingKeys: String, CodingKey {
        case sizePX = "size_px"
        case fovMM = "fov_mm"
        case plexus, superficial, deep, render, pathology
        case largeVessels = "large_vessels"
        case trunkRadiusUM = "trunk_radius_um"
        case perifovealRing = "perifoveal_ring"
    }

    /// A configuration; defaults are a 304 px, 3x3 mm superficial-plexus scan.
    public init(sizePX: Int = 304, fovMM: Double = 3, plexus: Plexus = .superficial,
                largeVessels: PlexusGrowth = .largeVessels, trunkRadiusUM: ClosedRange<Double> = 24...34,
                superficial: PlexusGrowth = .superficial, deep: PlexusGrowth = .deep,
                render: RenderOptions = .standard, pathology: PathologyOptions = .standard,
                perifovealRing: Bool? = true) {
        self.sizePX = sizePX
        self.fovMM = fovMM
        self.plexus = plexus
        self.largeVessels = largeVessels
        self.trunkRadiusUM = trunkRadiusUM
        self.superficial = superficial
        self.deep = deep
        self.render = render
        self.pathology = pathology
        self.perifovealRing = perifovealRing
    }

    /// Side of one pixel, mm.
    public var pixelSizeMM: Double { fovMM / Double(sizePX) }

    /// Checks user-supplied values; returns a message naming the bad parameter, or nil when valid.
    public func validationError() -> String? {
        if sizePX < 16 || sizePX > ImageIO.maxDimension { return "size_px must be 16...\(ImageIO.maxDimension), got \(sizePX)" }
        if !(fovMM >= 2 && fovMM <= 24) { return "fov_mm must be in [2, 24] (macular scans are 3-12 mm; below 2 mm the FAZ fills the field), got \(fovMM)" }
        for (name, g) in [("large_vessels", largeVessels), ("superficial", superficial), ("deep", deep)] {
            if !(g.stepMM > 0 && g.killDistanceMM > 0 && g.perceptionDistanceMM > g.killDistanceMM) {
                return "\(name): need step_mm > 0 and perception_distance_mm > kill_distance_mm > 0"
            }
            if !(g.sinkDensityPerMM2 > 0 && g.sinkDensityPerMM2 <= 20000) { return "\(name).sink_density_per_mm2 must be in (0, 20000]" }
            if !(g.murrayExponent >= 1 && g.murrayExponent <= 4) { return "\(name).murray_exponent must be in [1, 4]" }
        }
        return nil
    }
}
