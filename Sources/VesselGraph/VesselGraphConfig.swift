/// Parameters of the image-to-graph pipeline, all in physical units so that one configuration serves
/// 3 mm / 304 px and 6 mm / 400 px scans alike (pixel sizes come from the image).
///
/// Encoded as JSON with these property names; every property must be present when decoding.
public struct VesselGraphConfig: Codable, Sendable, Equatable {
    /// Standard deviation of the denoising Gaussian, um.
    public var noiseSigmaUM: Double = 6
    /// Standard deviation of the Gaussian that estimates the smooth local background, um. Vessels are the
    /// pixels brighter than this background by more than an Otsu threshold.
    public var backgroundSigmaUM: Double = 60
    /// The vessel threshold is this factor times Otsu's level of the local contrast (Otsu splits bright large
    /// vessels from everything else; faint capillaries sit below it).
    public var thresholdFactor: Double = 0.8
    /// Hysteresis: pixels above this fraction of the threshold join the mask when connected to a pixel above it.
    public var hysteresisLowFraction: Double = 0.6
    /// Smallest contrast (intensity, 0-1) that may count as a vessel, so that flat images give no vessels.
    public var minimumContrast: Double = 1.0 / 255
    /// Vessel-mask components smaller than this are removed as noise, um2.
    public var minVesselObjectAreaUM2: Double = 300
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
    /// Radius of the disk that regularises the FAZ shape (morphological opening), um.
    public var fazOpeningRadiusUM: Double = 60
    /// Accepted FAZ area range, mm2; outside it no FAZ is reported.
    public var minFAZAreaMM2: Double = 0.02
    /// Largest accepted FAZ area, mm2.
    public var maxFAZAreaMM2: Double = 3.0
    /// Which eye; decides whether nasal is to the right (OD) or to the left (OS) of the en-face image.
    public var laterality: Laterality = .od

    /// The default configuration (validated on OCTA-500 6 mm scans; see docs/GRAPH_FORMAT.md).
    public init() {}

    /// Right (OD) or left (OS) eye.
    public enum Laterality: String, Codable, Sendable {
        /// Right eye: the optic disc, hence nasal, is on the right of the en-face image.
        case od
        /// Left eye: nasal is on the left.
        case os
    }
}
