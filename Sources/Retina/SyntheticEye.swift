/// Diabetic-retinopathy stage, the label Capillary predicts.
public enum DRStage: String, Codable, Sendable, CaseIterable, Comparable {
    case healthy, npdr, pdr

    /// 0 healthy, 1 NPDR, 2 PDR (DRAC's "DR grade" numbering).
    public var index: Int { DRStage.allCases.firstIndex(of: self)! }

    /// The stage with DRAC index 0/1/2, nil otherwise.
    public init?(index: Int) {
        guard index >= 0 && index < DRStage.allCases.count else { return nil }
        self = DRStage.allCases[index]
    }

    /// Ordered by severity: healthy < NPDR < PDR.
    public static func < (a: DRStage, b: DRStage) -> Bool { a.index < b.index }
}

/// How severity s in [0, 1] maps to a stage and a 5-level grade.
///
/// Stage: healthy s < 0.30, NPDR 0.30 <= s < 0.70, PDR s >= 0.70. Grade (ICDR-like): 0 none (s < 0.30),
/// 1 mild NPDR [0.30, 0.43), 2 moderate NPDR [0.43, 0.57), 3 severe NPDR [0.57, 0.70), 4 PDR (s >= 0.70).
/// Pathology is driven by the disease load `clamp((s - 0.2) / 0.8, 0, 1)`, so healthy eyes near the NPDR
/// boundary already carry faint changes and the stages overlap as they do clinically.
public enum SeverityScale {
    /// Lower severity bound of NPDR.
    public static let npdrStart = 0.30
    /// Lower severity bound of PDR.
    public static let pdrStart = 0.70

    /// The stage of severity `s`.
    public static func stage(_ s: Double) -> DRStage {
        s >= pdrStart ? .pdr : (s >= npdrStart ? .npdr : .healthy)
    }

    /// The 5-level grade (0-4) of severity `s`.
    public static func grade(_ s: Double) -> Int {
        if s < npdrStart { return 0 }
        if s >= pdrStart { return 4 }
        let third = (pdrStart - npdrStart) / 3
        return 1 + min(2, Int((s - npdrStart) / third))
    }

    /// Severity interval [lo, hi) of a stage (PDR ends at 1, inclusive).
    public static func range(of stage: DRStage) -> (lo: Double, hi: Double) {
        switch stage {
        case .healthy: return (0, npdrStart)
        case .npdr: return (npdrStart, pdrStart)
        case .pdr: return (pdrStart, 1)
        }
    }

    /// Disease load that scales every pathology, 0-1.
    public static func diseaseLoad(_ s: Double) -> Double { min(1, max(0, (s - 0.2) / 0.8)) }
}

/// Kind of a focal lesion.
public enum LesionType: String, Codable, Sendable, CaseIterable {
    /// Saccular capillary dilation, 10-30 um, bright dot next to non-perfusion.
    case microaneurysm
    /// Tuft of fine, tortuous new vessels (PDR).
    case neovascularization
    /// Capillary non-perfusion (dropout) region; its pixels are in the dropout mask.
    case nonPerfusion = "non_perfusion"
}

/// A focal lesion with its position in pixels and mm and its size.
public struct Lesion: Codable, Sendable, Equatable {
    /// What it is.
    public var type: LesionType
    /// Centre, px (x right, y down; pixel (0,0)'s centre is (0.5, 0.5)).
    public var centerPX: [Double]
    /// Centre, mm from the image's top-left corner.
    public var centerMM: [Double]
    /// Radius, micrometres (for a dropout region: the radius of the circle of equal area).
    public var radiusUM: Double

    enum CodingKeys: String, CodingKey {
        case type
        case centerPX = "center_px"
        case centerMM = "center_mm"
        case radiusUM = "radius_um"
    }

    /// A lesion at `centerMM` on an image of pixel size `pixelSizeMM`.
    public init(type: LesionType, centerMM: (Double, Double), radiusUM: Double, pixelSizeMM: Double) {
        self.type = type
        self.centerMM = [centerMM.0, centerMM.1]
        self.centerPX = [centerMM.0 / pixelSizeMM, centerMM.1 / pixelSizeMM]
        self.radiusUM = radiusUM
    }
}

/// Per-eye anatomy and image-quality draws (so that an eye can be explained and regenerated).
public struct EyeParameters: Codable, Sendable, Equatable {
    /// "left" or "right": which image side the optic disc (and the large vessels' origin) lies on.
    public var discSide: String
    /// FAZ centre, mm.
    public var fazCenterMM: [Double]
    /// Scale applied to the sink density of this eye (healthy variation of capillary density).
    public var densityScale: Double
    /// Capillary radius of this eye, um.
    public var capillaryRadiusUM: Double
    /// Disease load that scaled the pathology, 0-1.
    public var diseaseLoad: Double
    /// Auto-gain target mean and standard deviation, and display gamma (quality, independent of severity).
    public var targetMean: Double
    /// Target intensity standard deviation.
    public var targetSD: Double
    /// Display gamma.
    public var gamma: Double
    /// Whether motion lines / a floater were added.
    public var motionLines: Int
    /// Number of floater shadows.
    public var floaters: Int

    enum CodingKeys: String, CodingKey {
        case discSide = "disc_side"
        case fazCenterMM = "faz_center_mm"
        case densityScale = "density_scale"
        case capillaryRadiusUM = "capillary_radius_um"
        case diseaseLoad = "disease_load"
        case targetMean = "target_mean"
        case targetSD = "target_sd"
        case gamma
        case motionLines = "motion_lines"
        case floaters
    }
}

/// Ground truth of one synthetic eye: label, parameters and the true biomarkers (see docs/COHORT.md for
/// the exact definitions the VesselGraph module measures against).
public struct GroundTruth: Codable, Sendable, Equatable {
    /// Stage label.
    public var stage: DRStage
    /// 5-level grade 0-4 (`SeverityScale.grade`).
    public var grade: Int
    /// Severity s in [0, 1].
    public var severity: Double
    /// Seed that regenerates this eye with `OCTASimulator.generate(seed:severity:)`.
    public var seed: UInt64
    /// Simulator configuration.
    public var config: SimulatorConfig
    /// Per-eye draws.
    public var eye: EyeParameters
    /// FAZ area: FAZ-mask pixels x pixel area, mm2.
    public var fazAreaMM2: Double
    /// FAZ circularity 4 pi A / P^2 of the true (continuous) FAZ outline, 0-1.
    public var fazCircularity: Double
    /// Fraction of image pixels inside the vessel mask, 0-1.
    public var perfusionDensity: Double
    /// Skeleton length of the true vessel mask (`vesselMask`), mm, per field area, mm2: the mask thinned
    /// (Zhang-Suen) and measured as an 8-neighbour chain, 1 px per axial and sqrt 2 px per diagonal link
    /// (`VesselMaskMorphometry`), with no spur pruning. This is what OCTA studies call vessel skeleton
    /// density (measured on the binarised image), and what an image of this eye can show (docs/COHORT.md).
    public var skeletonLengthDensityMMPerMM2: Double
    /// Length of the union of ALL visible simulated centrelines on the pixel grid (8-neighbour step weights,
    /// see `CentrelineRaster`), mm, per field area, mm2, including structure below the optical resolution
    /// (centrelines closer than the PSF-widened vessel width, twigs ending inside their parent's tube) that no
    /// image or mask shows; about 30% above `skeletonLengthDensityMMPerMM2` at 3 mm. `nil` when decoded from
    /// metadata written before this field existed (there, `skeleton_length_density_mm_per_mm2` held it).
    public var centrelineLengthDensityMMPerMM2: Double?
    /// Dropout-mask pixels x pixel area, mm2.
    public var nonPerfusionAreaMM2: Double
    /// Number of microaneurysms.
    public var microaneurysmCount: Int
    /// Number of neovascular tufts.
    public var neovascularizationCount: Int
    /// Number of dropout regions.
    public var nonPerfusionCount: Int
    /// Every lesion.
    public var lesions: [Lesion]

    enum CodingKeys: String, CodingKey {
        case stage, grade, severity, seed, config, eye, lesions
        case fazAreaMM2 = "faz_area_mm2"
        case fazCircularity = "faz_circularity"
        case perfusionDensity = "perfusion_density"
        case skeletonLengthDensityMMPerMM2 = "skeleton_length_density_mm_per_mm2"
        case centrelineLengthDensityMMPerMM2 = "centreline_length_density_mm_per_mm2"
        case nonPerfusionAreaMM2 = "non_perfusion_area_mm2"
        case microaneurysmCount = "microaneurysm_count"
        case neovascularizationCount = "neovascularization_count"
        case nonPerfusionCount = "non_perfusion_count"
    }
}

/// One simulated eye: the OCTA image and its pixel-exact ground truth.
public struct SyntheticEye: Sendable {
    /// En-face OCTA image, intensities 0-1, `pixelSizeMM` set.
    public var image: GrayImage
    /// Visible perfused vessels (incl. microaneurysms and neovascular tufts).
    public var vesselMask: BinaryMask
    /// Foveal avascular zone.
    public var fazMask: BinaryMask
    /// Capillary non-perfusion regions (outside the FAZ).
    public var dropoutMask: BinaryMask
    /// Focal lesions (same list as `truth.lesions`).
    public var lesions: [Lesion]
    /// Labels, parameters and true biomarkers.
    public var truth: GroundTruth
    /// Sum of the visible simulated centreline lengths clipped to the field, mm, with overlaps counted twice
    /// (the skeleton-length truth before it became the pixel-grid union; kept for checks, not in metadata).
    var geometricCentrelineLengthMM: Double = 0
}
