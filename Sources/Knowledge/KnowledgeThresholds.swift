/// When a deviation or an attribution is significant enough to be stated. Documented in docs/KNOWLEDGE.md.
public struct KnowledgeThresholds: Codable, Sendable, Equatable {
    /// A value is called abnormal only when it lies beyond the healthy 5th-95th percentile range by more than
    /// this fraction of the range's width (p95 - p5): values at the edge of the range are not called. 0.25 is
    /// the smallest of 0, 0.1, 0.25, 0.5 at which no healthy eye of the 60-eye check cohort got an abnormal
    /// call (docs/KNOWLEDGE.md: 10/24 at 0, 9/24 at 0.1, 0/24 at 0.25).
    public var deviationMargin: Double = 0.25
    /// Fewest healthy graphs a reference must come from before deviations against it are called.
    public var minimumReferenceCount: Int = 5
    /// A feature group (e.g. the FAZ shape features) is said to weigh on the decision when its signed share
    /// of the total |feature attribution| is at least this large in magnitude.
    public var attributionShare: Double = 0.10
    /// A sector is named as the focus of the decision when it holds at least this share of the positive node
    /// attribution.
    public var focusShare: Double = 0.40
    /// An intercapillary area is named as a large avascular area when its node score is at least this share
    /// of the total |node attribution|.
    public var avascularNodeShare: Double = 0.05
    /// Evidence whose completeness error exceeds this fraction of its total |feature attribution| is not used.
    public var maximumRelativeConvergenceDelta: Double = 0.10
    /// At most this many sectors with reduced perfusion are stated (the most deviating ones).
    public var maximumSectorFindings: Int = 2

    /// The documented defaults.
    public init() {}
}
