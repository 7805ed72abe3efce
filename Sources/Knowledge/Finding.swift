/// The five topics of the paper's questions (lesions are answered within the perfusion question).
public enum FindingTopic: String, Codable, Sendable, CaseIterable {
    case faz, perfusion, vasculature, lesions, diagnosis
}

/// What a finding is about. The raw value is the subject part of the canonical fact string.
public enum FindingSubject: String, Codable, Sendable, CaseIterable {
    /// FAZ area (biomarker `faz_area_mm2`).
    case fazArea = "faz.area"
    /// FAZ border regularity (biomarker `faz_circularity`).
    case fazBorder = "faz.border"
    /// Whether a FAZ was found at all (biomarker `faz_found`).
    case fazDetection = "faz.detection"
    /// Whole-image perfusion density (biomarker `perfusion_density`).
    case perfusionDensity = "perfusion.density"
    /// Perfusion density of one ETDRS sector (biomarker `perfusion_density_<sector>`).
    case sectorPerfusion = "perfusion.sector"
    /// Vessel length density (biomarker `skeleton_length_density_mm_per_mm2`).
    case vesselDensity = "vessels.density"
    /// Vessel tortuosity (biomarker `vessel_curveness_mean`; located by the most curved segments).
    case tortuosity = "vessels.tortuosity"
    /// Vessel calibre (biomarker `vessel_radius_mean_um`).
    case caliber = "vessels.caliber"
    /// Branching complexity (biomarker `fractal_dimension`).
    case complexity = "vessels.complexity"
    /// Large avascular (intercapillary) areas that the attribution marks (needs evidence).
    case avascularArea = "lesions.avascular"
    /// The predicted stage.
    case stage = "diagnosis.stage"
    /// Where the positive node attribution concentrates (needs evidence).
    case attributionFocus = "diagnosis.focus"

    /// The topic (question) the subject belongs to.
    public var topic: FindingTopic {
        switch self {
        case .fazArea, .fazBorder, .fazDetection: return .faz
        case .perfusionDensity, .sectorPerfusion: return .perfusion
        case .vesselDensity, .tortuosity, .caliber, .complexity: return .vasculature
        case .avascularArea: return .lesions
        case .stage, .attributionFocus: return .diagnosis
        }
    }

    /// Whether facts of this subject carry an ETDRS sector (the others are global or always central).
    public var isLocated: Bool { self == .sectorPerfusion || self == .tortuosity || self == .avascularArea || self == .attributionFocus }
}

/// The direction of a finding relative to the healthy reference (or its kind of statement).
public enum FindingDirection: String, Codable, Sendable, CaseIterable {
    case enlarged, small, irregular, regular, reduced, increased, normal, tortuous, dilated, narrowed
    /// Something present that the attribution points at (avascular areas).
    case present
    /// Not found on the image (FAZ).
    case undetected
    /// Stage statement.
    case predicted
    /// Attribution focus statement.
    case concentrated

    /// Whether a fact with this direction states an abnormality (counts towards hallucination).
    public var isAbnormal: Bool {
        switch self {
        case .normal, .regular, .predicted, .undetected: return false
        default: return true
        }
    }
}

/// Which graph nodes a finding is about.
public struct FindingStructure: Codable, Sendable, Equatable {
    /// Node type name ("vessel", "ica", "faz").
    public var nodeType: String
    /// Node indices in the graph's node set of that type.
    public var nodeIDs: [Int]
    /// A structure.
    public init(nodeType: String, nodeIDs: [Int]) { self.nodeType = nodeType; self.nodeIDs = nodeIDs }
    enum CodingKeys: String, CodingKey { case nodeType = "node_type", nodeIDs = "node_ids" }
}

/// Where a finding lies on the ETDRS grid.
public struct FindingLocation: Codable, Sendable, Equatable {
    /// ETDRS sector code: C, IS, IN, II, IT, OS, ON, OI, OT.
    public var sector: String
    /// Quadrant name (superonasal, ...), when the finding has nodes.
    public var quadrant: String?
    /// Mean distance of the finding's nodes from the FAZ centre (the grid centre), mm.
    public var distanceFromFAZMM: Double?
    /// A location.
    public init(sector: String, quadrant: String? = nil, distanceFromFAZMM: Double? = nil) {
        self.sector = sector; self.quadrant = quadrant; self.distanceFromFAZMM = distanceFromFAZMM
    }
    enum CodingKeys: String, CodingKey { case sector, quadrant, distanceFromFAZMM = "distance_from_faz_mm" }
}

/// A measured value in display units.
public struct Measurement: Codable, Sendable, Equatable {
    /// Source biomarker or feature name (e.g. "faz_area_mm2").
    public var name: String
    /// Value in `unit` (perfusion densities are in %, i.e. the 0-1 fraction x 100).
    public var value: Double
    /// Unit as written in text: "mm2", "%", "mm/mm2", "um", or for dimensionless indices the index's name
    /// ("circularity", "mean curveness" = length/chord, "fractal dimension"), written before the number.
    public var unit: String
    /// Decimals written.
    public var digits: Int
    /// A measurement.
    public init(name: String, value: Double, unit: String, digits: Int) {
        self.name = name; self.value = value; self.unit = unit; self.digits = digits
    }

    /// The number alone, rounded to `digits`.
    public func number(_ v: Double) -> String { String(format: "%.\(digits)f", v) }
    /// Whether the unit is the name of a dimensionless index (written before the number).
    public var isIndex: Bool { Measurement.indexNames.contains(unit) }
    /// Dimensionless indices.
    public static let indexNames: Set<String> = ["circularity", "mean curveness", "fractal dimension"]
    /// Value with unit, e.g. "0.52 mm2", "31.2%", "circularity 0.62".
    public var text: String { format(value) }
    /// `v` written like the value.
    public func format(_ v: Double) -> String {
        if unit == "%" { return number(v) + "%" }
        return isIndex ? unit + " " + number(v) : number(v) + " " + unit
    }
    /// A healthy range in this measurement's unit: "0.22-0.36 mm2", "33.0-37.1%", "0.70-0.88".
    public func rangeText(_ r: ReferenceRange) -> String {
        let core = number(r.p5) + "-" + number(r.p95)
        if unit == "%" { return core + "%" }
        return isIndex ? core : core + " " + unit
    }
}

/// The healthy reference range of a measurement, in the measurement's display unit.
public struct ReferenceRange: Codable, Sendable, Equatable {
    /// 5th percentile of the healthy training graphs.
    public var p5: Double
    /// Median.
    public var p50: Double
    /// 95th percentile.
    public var p95: Double
    /// Healthy graphs the range comes from.
    public var count: Int
    /// A range.
    public init(p5: Double, p50: Double, p95: Double, count: Int) { self.p5 = p5; self.p50 = p50; self.p95 = p95; self.count = count }
}

/// One structured finding about one image: what, where, how much, against which reference, which way,
/// and how much it weighed on the model's decision. Every sentence Knowledge writes comes from one.
public struct Finding: Codable, Sendable, Equatable {
    /// What the finding is about (its topic is `subject.topic`).
    public var subject: FindingSubject
    /// Which way it deviates (or what kind of statement it is).
    public var direction: FindingDirection
    /// The nodes involved, if any.
    public var structure: FindingStructure?
    /// Where, if located.
    public var location: FindingLocation?
    /// The measured value.
    public var measurement: Measurement?
    /// The healthy range of the measurement.
    public var reference: ReferenceRange?
    /// Signed distance beyond the nearer healthy bound in units of the healthy range width (p95 - p5);
    /// 0 inside the range; nil without a reference.
    public var deviation: Double?
    /// Signed share of the total |attribution| (positive = towards the predicted class); nil without evidence.
    public var attributionShare: Double?
    /// True for the stated finding with the largest positive feature-attribution share (node-based shares of
    /// avascular areas and the focus are not compared).
    public var weighedMost: Bool
    /// For `.stage`: the stated stage ("healthy", "npdr", "pdr").
    public var stage: String?
    /// For `.stage`: model probability per stage name (grades summed into their stages).
    public var classProbabilities: [String: Double]?
    /// For `.stage`: the stage the model predicted (differs from `stage` only when the text states the
    /// manifest label, `capillary knowledge --stage-source label`).
    public var modelStage: String?

    /// A finding.
    public init(subject: FindingSubject, direction: FindingDirection, structure: FindingStructure? = nil,
                location: FindingLocation? = nil, measurement: Measurement? = nil, reference: ReferenceRange? = nil,
                deviation: Double? = nil, attributionShare: Double? = nil, weighedMost: Bool = false,
                stage: String? = nil, classProbabilities: [String: Double]? = nil, modelStage: String? = nil) {
        self.subject = subject; self.direction = direction; self.structure = structure; self.location = location
        self.measurement = measurement; self.reference = reference; self.deviation = deviation
        self.attributionShare = attributionShare; self.weighedMost = weighedMost; self.stage = stage
        self.classProbabilities = classProbabilities; self.modelStage = modelStage
    }

    /// The topic (question) this finding answers.
    public var topic: FindingTopic { subject.topic }

    /// The part of the finding that text states and the fact parser reads back (a normal value is stated
    /// without a place, so its fact has no sector).
    public var fact: Fact {
        Fact(subject: subject, direction: direction,
             sector: subject.isLocated && direction != .normal ? location?.sector : nil, stage: stage)
    }

    enum CodingKeys: String, CodingKey {
        case subject, direction, structure, location, measurement, reference, deviation, stage
        case attributionShare = "attribution_share", weighedMost = "weighed_most", classProbabilities = "class_probabilities"
        case modelStage = "model_stage"
        case topic
    }

    /// Decodes a finding (the derived `topic` key is ignored).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        subject = try c.decode(FindingSubject.self, forKey: .subject)
        direction = try c.decode(FindingDirection.self, forKey: .direction)
        structure = try c.decodeIfPresent(FindingStructure.self, forKey: .structure)
        location = try c.decodeIfPresent(FindingLocation.self, forKey: .location)
        measurement = try c.decodeIfPresent(Measurement.self, forKey: .measurement)
        reference = try c.decodeIfPresent(ReferenceRange.self, forKey: .reference)
        deviation = try c.decodeIfPresent(Double.self, forKey: .deviation)
        attributionShare = try c.decodeIfPresent(Double.self, forKey: .attributionShare)
        weighedMost = try c.decodeIfPresent(Bool.self, forKey: .weighedMost) ?? false
        stage = try c.decodeIfPresent(String.self, forKey: .stage)
        classProbabilities = try c.decodeIfPresent([String: Double].self, forKey: .classProbabilities)
        modelStage = try c.decodeIfPresent(String.self, forKey: .modelStage)
    }

    /// Encodes every field plus the derived `topic`, so the JSON reads on its own.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(topic, forKey: .topic)
        try c.encode(subject, forKey: .subject); try c.encode(direction, forKey: .direction)
        try c.encodeIfPresent(structure, forKey: .structure); try c.encodeIfPresent(location, forKey: .location)
        try c.encodeIfPresent(measurement, forKey: .measurement); try c.encodeIfPresent(reference, forKey: .reference)
        try c.encodeIfPresent(deviation, forKey: .deviation); try c.encodeIfPresent(attributionShare, forKey: .attributionShare)
        try c.encode(weighedMost, forKey: .weighedMost); try c.encodeIfPresent(stage, forKey: .stage)
        try c.encodeIfPresent(classProbabilities, forKey: .classProbabilities)
        try c.encodeIfPresent(modelStage, forKey: .modelStage)
    }
}

/// The part of a finding that text can state and a parser can read back: subject, direction, sector
/// (located subjects only) and stage. Its canonical string is what `KnowledgeFactScorer` scores.
public struct Fact: Hashable, Codable, Sendable, Comparable, CustomStringConvertible {
    /// Subject.
    public var subject: FindingSubject
    /// Direction.
    public var direction: FindingDirection
    /// ETDRS sector code for located subjects.
    public var sector: String?
    /// Stage name for `.stage`.
    public var stage: String?

    /// A fact.
    public init(subject: FindingSubject, direction: FindingDirection, sector: String? = nil, stage: String? = nil) {
        self.subject = subject; self.direction = direction; self.sector = sector; self.stage = stage
    }

    /// "stage=npdr", "faz.area=enlarged", "perfusion.sector@IT=reduced".
    public var canonical: String {
        if subject == .stage { return "stage=\(stage ?? "?")" }
        return subject.rawValue + (sector.map { "@" + $0 } ?? "") + "=" + direction.rawValue
    }

    public var description: String { canonical }
    /// Ordered by canonical string.
    public static func < (a: Fact, b: Fact) -> Bool { a.canonical < b.canonical }
}
