/// Parameters of the image-to-graph pipeline, all in physical units so that one configuration serves
/// 3 mm / 304 px and 6 mm / 400 px scans alike (pixel sizes come from the image).
///
/// Encoded as JSON with these property names; when decoding, missing keys keep their default values, so a
/// configuration file need only name what it changes (e.g. `{"fazGrowToVesselsUM": 60}`).
public struct VesselGraphConfig: Codable, Sendable, Equatable {
    /// Standard deviation of the denoising Gaussian, um.
    public var noiseSigmaUM: Double = 6
    /// Standard deviation of the Gaussian that estimates the smooth local background, um. Vessels are the
    /// pixels brighter than this background by more than an Otsu threshold.
    public var backgroundSigmaUM: Double = 60
    /// The vessel threshold is this factor times Otsu's level of the local contrast (Otsu splits bright large
    /// vessels from everything else; faint capillaries sit below it).
    public var thresholdFactor: Double = 0.65
    /// The local contrast is clipped at this quantile before Otsu's level is taken (1 = no clipping), so that
    /// brighter large vessels do not raise the capillary threshold (see `OtsuThreshold.winsorizedThreshold`).
    public var thresholdUpperQuantile: Double = 1
    /// When true, the level that `thresholdFactor` scales is the lower level of three-class Otsu (background /
    /// capillaries / large vessels) instead of two-class Otsu.
    public var thresholdThreeClass: Bool = false
    /// When positive, the vessel threshold is instead the median local contrast plus this many robust noise
    /// standard deviations, estimated from the darker half ((median - 25th percentile) / 0.674).
    public var thresholdNoiseMultiple: Double = 0
    /// Hysteresis: pixels above this fraction of the threshold join the mask when connected to a pixel above it.
    /// 0.5 (was 0.6) keeps more faint capillaries joined to the mesh: synthetic skeleton length error 10.8% -> 9.6%
    /// (`capillary graph --evaluate-synthetic 40`), real OCTA-500 Dice 0.797 (unchanged to 3 decimals).
    public var hysteresisLowFraction: Double = 0.5
    /// Smallest contrast (intensity, 0-1) that may count as a vessel, so that flat images give no vessels.
    public var minimumContrast: Double = 1.0 / 255
    /// Vessel-mask components smaller than this are removed as noise, um2.
    public var minVesselObjectAreaUM2: Double = 300
    /// Rim completion (`VesselRim`): a pixel next to the vessel mask joins it when its brightness above the
    /// local floor is at least this fraction of its brightest vessel neighbour's (0 = off). Recovers the outer
    /// pixel of faint capillaries that the global threshold cuts off.
    public var rimFraction: Double = 0.6
    /// Radius of the window whose darkest (denoised) level is the local floor for rim completion, um.
    public var rimFloorRadiusUM: Double = 30
    /// Skeleton branches with a free end shorter than this are pruned as spurs, um.
    public var spurLengthUM: Double = 30
    /// Avascular components smaller than this are not intercapillary-area nodes, um2.
    public var minICAAreaUM2: Double = 100
    /// Whether to look for the foveal avascular zone at all (off for non-macular fields or phantoms).
    public var detectFAZ: Bool = true
    /// The FAZ seed is the darkest point of the heavily smoothed image within this distance of the image centre, mm.
    public var fazSearchRadiusMM: Double = 0.6
    /// Smoothing of the image that the FAZ is thresholded on, um.
    public var fazSmoothingSigmaUM: Double = 40
    /// Smoothing used to place the FAZ seed, um.
    public var fazSeedSigmaUM: Double = 100
    /// FAZ level = seed level + this fraction of (median level - seed level).
    public var fazThresholdFraction: Double = 0.3
    /// After thresholding, the FAZ may grow through vessel-free pixels by up to this distance, um. 0 keeps the
    /// dark zone itself (the simulator's convention); about 60 draws it out to the first vessels, as the
    /// OCTA-500 annotators did (see docs/GRAPH_FORMAT.md for both measured).
    public var fazGrowToVesselsUM: Double = 0
    /// When positive, the FAZ is the capillary-free zone: the centre's component of the pixels at least this far from every
    /// vessel-mask pixel, dilated back by the same distance (an opening of the avascular area), um. 0 = off
    /// (the dark-level region alone, the default). Off by default because it measured worse (docs/GRAPH_FORMAT.md,
    /// "FAZ area: diagnosis"): the simulator's FAZ is a drawn outline that capillaries stop short of, and on real
    /// eyes vessel-mask specks inside the FAZ break the capillary-free zone apart.
    public var fazVesselClearanceUM: Double = 0
    /// Radius of the disk that regularises the FAZ shape (morphological opening), um.
    public var fazOpeningRadiusUM: Double = 60
    /// Radius of the disk that finds the FAZ's round core, um (0 = off); with `fazCoreReachUM`, parts of the
    /// dark region farther than the reach from that core (leaks into adjacent non-perfusion) are cut.
    public var fazCoreRadiusUM: Double = 150
    /// How far the FAZ may extend beyond its core, um.
    public var fazCoreReachUM: Double = 40
    /// Vessels and intercapillary areas within this distance of the FAZ border are its neighbours, um.
    public var fazNeighbourDistanceUM: Double = 50
    /// Accepted FAZ area range, mm2; outside it no FAZ is reported.
    public var minFAZAreaMM2: Double = 0.02
    /// Largest accepted FAZ area, mm2.
    public var maxFAZAreaMM2: Double = 3.0
    /// Which eye; decides whether nasal is to the right (OD) or to the left (OS) of the en-face image.
    public var laterality: Laterality = .od

    /// The default configuration (validated on OCTA-500 6 mm scans; see docs/GRAPH_FORMAT.md).
    public init() {}

    enum CodingKeys: String, CodingKey {
        case noiseSigmaUM, backgroundSigmaUM, thresholdFactor, thresholdUpperQuantile, thresholdThreeClass, thresholdNoiseMultiple, hysteresisLowFraction, minimumContrast, minVesselObjectAreaUM2, rimFraction, rimFloorRadiusUM, spurLengthUM, minICAAreaUM2, detectFAZ, fazSearchRadiusMM, fazSmoothingSigmaUM, fazSeedSigmaUM, fazThresholdFraction, fazGrowToVesselsUM, fazVesselClearanceUM, fazOpeningRadiusUM, fazCoreRadiusUM, fazCoreReachUM, fazNeighbourDistanceUM, minFAZAreaMM2, maxFAZAreaMM2, laterality
    }

    /// Decodes a configuration; absent keys keep the defaults of `init()`.
    /// - Throws: `DecodingError` when a present key has the wrong type.
    public init(from decoder: Decoder) throws {
        self.init()
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let v = try c.decodeIfPresent(type(of: noiseSigmaUM), forKey: .noiseSigmaUM) { noiseSigmaUM = v }
        if let v = try c.decodeIfPresent(type(of: backgroundSigmaUM), forKey: .backgroundSigmaUM) { backgroundSigmaUM = v }
        if let v = try c.decodeIfPresent(type(of: thresholdFactor), forKey: .thresholdFactor) { thresholdFactor = v }
        if let v = try c.decodeIfPresent(type(of: thresholdUpperQuantile), forKey: .thresholdUpperQuantile) { thresholdUpperQuantile = v }
        if let v = try c.decodeIfPresent(type(of: thresholdThreeClass), forKey: .thresholdThreeClass) { thresholdThreeClass = v }
        if let v = try c.decodeIfPresent(type(of: thresholdNoiseMultiple), forKey: .thresholdNoiseMultiple) { thresholdNoiseMultiple = v }
        if let v = try c.decodeIfPresent(type(of: hysteresisLowFraction), forKey: .hysteresisLowFraction) { hysteresisLowFraction = v }
        if let v = try c.decodeIfPresent(type(of: minimumContrast), forKey: .minimumContrast) { minimumContrast = v }
        if let v = try c.decodeIfPresent(type(of: minVesselObjectAreaUM2), forKey: .minVesselObjectAreaUM2) { minVesselObjectAreaUM2 = v }
        if let v = try c.decodeIfPresent(type(of: rimFraction), forKey: .rimFraction) { rimFraction = v }
        if let v = try c.decodeIfPresent(type(of: rimFloorRadiusUM), forKey: .rimFloorRadiusUM) { rimFloorRadiusUM = v }
        if let v = try c.decodeIfPresent(type(of: spurLengthUM), forKey: .spurLengthUM) { spurLengthUM = v }
        if let v = try c.decodeIfPresent(type(of: minICAAreaUM2), forKey: .minICAAreaUM2) { minICAAreaUM2 = v }
        if let v = try c.decodeIfPresent(type(of: detectFAZ), forKey: .detectFAZ) { detectFAZ = v }
        if let v = try c.decodeIfPresent(type(of: fazSearchRadiusMM), forKey: .fazSearchRadiusMM) { fazSearchRadiusMM = v }
        if let v = try c.decodeIfPresent(type(of: fazSmoothingSigmaUM), forKey: .fazSmoothingSigmaUM) { fazSmoothingSigmaUM = v }
        if let v = try c.decodeIfPresent(type(of: fazSeedSigmaUM), forKey: .fazSeedSigmaUM) { fazSeedSigmaUM = v }
        if let v = try c.decodeIfPresent(type(of: fazThresholdFraction), forKey: .fazThresholdFraction) { fazThresholdFraction = v }
        if let v = try c.decodeIfPresent(type(of: fazGrowToVesselsUM), forKey: .fazGrowToVesselsUM) { fazGrowToVesselsUM = v }
        if let v = try c.decodeIfPresent(type(of: fazVesselClearanceUM), forKey: .fazVesselClearanceUM) { fazVesselClearanceUM = v }
        if let v = try c.decodeIfPresent(type(of: fazOpeningRadiusUM), forKey: .fazOpeningRadiusUM) { fazOpeningRadiusUM = v }
        if let v = try c.decodeIfPresent(type(of: fazCoreRadiusUM), forKey: .fazCoreRadiusUM) { fazCoreRadiusUM = v }
        if let v = try c.decodeIfPresent(type(of: fazCoreReachUM), forKey: .fazCoreReachUM) { fazCoreReachUM = v }
        if let v = try c.decodeIfPresent(type(of: fazNeighbourDistanceUM), forKey: .fazNeighbourDistanceUM) { fazNeighbourDistanceUM = v }
        if let v = try c.decodeIfPresent(type(of: minFAZAreaMM2), forKey: .minFAZAreaMM2) { minFAZAreaMM2 = v }
        if let v = try c.decodeIfPresent(type(of: maxFAZAreaMM2), forKey: .maxFAZAreaMM2) { maxFAZAreaMM2 = v }
        if let v = try c.decodeIfPresent(type(of: laterality), forKey: .laterality) { laterality = v }
    }

    /// Right (OD) or left (OS) eye.
    public enum Laterality: String, Codable, Sendable {
        /// Right eye: the optic disc, hence nasal, is on the right of the en-face image.
        case od
        /// Left eye: nasal is on the left.
        case os
    }
}
