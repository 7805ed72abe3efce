import Foundation
import GraphNet
import VesselGraph

/// Derives the findings of one image from its graph, the model's prediction, the healthy reference ranges
/// stored with the model, and (optionally) attribution evidence.
///
/// Headline measurements (FAZ area and border, perfusion density, vessel length density) are always stated,
/// as normal or abnormal, because each question needs an answer; every other finding is stated only when its
/// deviation or its attribution passes `KnowledgeThresholds`. Without evidence no finding carries an
/// attribution share, so no text can say what weighed on the decision.
public struct FindingExtractor: Sendable {
    /// Healthy reference ranges by biomarker name.
    public let references: [String: BiomarkerReference]
    /// Significance thresholds.
    public let thresholds: KnowledgeThresholds

    /// An extractor with the references of a stored model (`StagingModelConfig.healthyReferences`).
    public init(references: [BiomarkerReference], thresholds: KnowledgeThresholds = KnowledgeThresholds()) {
        var r: [String: BiomarkerReference] = [:]
        for x in references { r[x.name] = x }
        self.references = r; self.thresholds = thresholds
    }

    /// The stage a class name states: "healthy"/"npdr"/"pdr" as is; grades map grade0 -> healthy,
    /// grade1-3 -> npdr, grade4 -> pdr.
    /// - Throws: `KnowledgeError.unknownClass`.
    public static func stageName(ofClass name: String) throws -> String {
        switch name.lowercased() {
        case "healthy", "grade0": return "healthy"
        case "npdr", "grade1", "grade2", "grade3": return "npdr"
        case "pdr", "grade4": return "pdr"
        default: throw KnowledgeError.unknownClass(name: name)
        }
    }

    /// Whether evidence is usable: finite, non-empty, and converged within the threshold.
    public func usable(_ e: AttributionEvidence?) -> AttributionEvidence? {
        guard let e else { return nil }
        let total = e.totalAbsoluteFeatureAttribution
        guard total > 0, total.isFinite, e.convergenceDelta.isFinite,
              Double(abs(e.convergenceDelta)) <= thresholds.maximumRelativeConvergenceDelta * total else { return nil }
        return e
    }

    /// The findings of one image, in reading order (FAZ, perfusion, lesions, vasculature, diagnosis).
    /// `statedStage` (a stage or grade class name) replaces the model's stage in the stage finding, e.g. the
    /// manifest label; the model's own stage stays in `modelStage` and attributions still explain it.
    /// - Throws: `KnowledgeError.unknownClass` if the prediction's class (or `statedStage`) is not a stage or grade.
    public func findings(graph: OCTAGraph, prediction: StagePrediction, classNames: [String],
                         evidence rawEvidence: AttributionEvidence?, statedStage: String? = nil) throws -> [Finding] {
        let evidence = usable(rawEvidence)
        var out: [Finding] = []
        let b = graph.biomarkers

        // FAZ.
        if (b["faz_found"] ?? 0) < 0.5 || graph.faz.count == 0 {
            out.append(Finding(subject: .fazDetection, direction: .undetected))
        } else {
            let faz = FindingStructure(nodeType: "faz", nodeIDs: [0])
            let centre = FindingLocation(sector: "C", distanceFromFAZMM: 0)
            if var f = measured(.fazArea, "faz_area_mm2", in: b, scale: 1, unit: "mm2", digits: 2, evidence: evidence,
                                high: .enlarged, low: .small, always: true) {
                f.structure = faz; f.location = centre; out.append(f)
            }
            if var f = measured(.fazBorder, "faz_circularity", in: b, scale: 1, unit: "circularity", digits: 2, evidence: evidence,
                                high: .regular, low: .irregular, always: true) {
                if f.direction == .normal { f.direction = .regular }
                f.structure = faz; f.location = centre; out.append(f)
            }
        }

        // Perfusion: whole image, then sectors (the centre is left out: it holds the FAZ, stated above).
        if let f = measured(.perfusionDensity, "perfusion_density", in: b, scale: 100, unit: "%", digits: 1, evidence: evidence,
                            high: .increased, low: .reduced, always: true) { out.append(f) }
        var sectors: [Finding] = []
        for code in ETDRSGrid.sectorNames where code != "C" && code != "X" {
            guard var f = measured(.sectorPerfusion, "perfusion_density_" + code, in: b, scale: 100, unit: "%", digits: 1,
                                   evidence: nil, high: .increased, low: .reduced, always: false),
                  f.direction == .reduced else { continue }
            let nodes = Self.nodes(in: code, of: graph.ica, graph: graph)
            f.structure = nodes.isEmpty ? nil : FindingStructure(nodeType: "ica", nodeIDs: nodes)
            f.location = FindingLocation(sector: code, distanceFromFAZMM: Self.meanDistanceMM(nodes, graph.ica))
            sectors.append(f)
        }
        sectors.sort { ($0.deviation ?? 0) < ($1.deviation ?? 0) }
        out += sectors.prefix(thresholds.maximumSectorFindings)

        // Lesions: avascular areas the attribution points at (the ICA geometry alone does not separate them
        // from healthy intercapillary spaces on this data, docs/KNOWLEDGE.md). "Large" is grounded too: the
        // region must exceed the healthy 95th percentile of the mean intercapillary area.
        if let e = evidence, let scores = e.nodeScores["ica"], scores.count == graph.ica.count,
           let large = references["ica_area_mean_um2"], large.count >= thresholds.minimumReferenceCount {
            let total = e.totalAbsoluteNodeAttribution
            let marked = scores.indices.filter {
                total > 0 && Double(scores[$0]) >= thresholds.avascularNodeShare * total
                    && Double(graph.ica.feature("area_um2", node: $0) ?? 0) > large.p95
            }
            if !marked.isEmpty {
                let best = marked.max { scores[$0] < scores[$1] }!
                let code = Self.sectorCode(graph.ica, best, graph)
                let group = marked.filter { Self.sectorCode(graph.ica, $0, graph) == code }
                let areaMM2 = group.reduce(0.0) { $0 + Double(graph.ica.feature("area_um2", node: $1) ?? 0) } / 1e6
                let share = group.reduce(0.0) { $0 + Double(scores[$1]) } / total
                out.append(Finding(subject: .avascularArea, direction: .present,
                                   structure: FindingStructure(nodeType: "ica", nodeIDs: group),
                                   location: FindingLocation(sector: code, quadrant: Self.quadrant(graph.ica, best, graph),
                                                             distanceFromFAZMM: Self.meanDistanceMM(group, graph.ica)),
                                   measurement: Measurement(name: "area_um2", value: areaMM2, unit: "mm2", digits: 2),
                                   attributionShare: share))
            }
        }

        // Vasculature.
        if let f = measured(.vesselDensity, "skeleton_length_density_mm_per_mm2", in: b, scale: 1, unit: "mm/mm2", digits: 1,
                            evidence: evidence, high: .increased, low: .reduced, always: true) { out.append(f) }
        if var f = measured(.tortuosity, "vessel_curveness_mean", in: b, scale: 1, unit: "mean curveness", digits: 2,
                            evidence: evidence, high: .tortuous, low: .reduced, always: false), f.direction != .reduced {
            let top = Self.mostCurved(graph)
            if f.direction == .tortuous && !top.isEmpty {
                let code = Self.modeSector(top, graph.vessel, graph)
                let inSector = top.filter { Self.sectorCode(graph.vessel, $0, graph) == code }
                f.structure = FindingStructure(nodeType: "vessel", nodeIDs: inSector)
                f.location = FindingLocation(sector: code, quadrant: Self.quadrant(graph.vessel, inSector[0], graph),
                                             distanceFromFAZMM: Self.meanDistanceMM(inSector, graph.vessel))
            }
            out.append(f)
        }
        if let f = measured(.caliber, "vessel_radius_mean_um", in: b, scale: 1, unit: "um", digits: 1, evidence: evidence,
                            high: .dilated, low: .narrowed, always: false) { out.append(f) }
        if let f = measured(.complexity, "fractal_dimension", in: b, scale: 1, unit: "fractal dimension", digits: 3,
                            evidence: evidence, high: .increased, low: .reduced, always: false), f.direction != .increased {
            out.append(f)
        }

        // Attribution focus: the sector holding most of the positive node attribution.
        if let e = evidence, let focus = Self.focus(e, graph: graph), focus.share >= thresholds.focusShare {
            out.append(Finding(subject: .attributionFocus, direction: .concentrated,
                               location: FindingLocation(sector: focus.sector), attributionShare: focus.share))
        }

        // Which stated finding weighed most: largest positive feature share at or above the threshold. Node
        // shares (avascular areas, focus) have another denominator and are not compared with feature shares.
        if evidence != nil {
            let candidates = out.indices.filter {
                out[$0].subject != .attributionFocus && out[$0].subject != .avascularArea
                    && (out[$0].attributionShare ?? 0) >= thresholds.attributionShare
            }
            if let i = candidates.max(by: { out[$0].attributionShare! < out[$1].attributionShare! }) { out[i].weighedMost = true }
        }

        // Diagnosis.
        let modelStage = try Self.stageName(ofClass: prediction.className)
        let stage = try statedStage.map { try Self.stageName(ofClass: $0) } ?? modelStage
        // Probabilities per stage (a grade model's grades summed into their stages).
        var probs: [String: Double] = [:]
        for (i, c) in classNames.enumerated() where i < prediction.probabilities.count {
            probs[try Self.stageName(ofClass: c), default: 0] += prediction.probabilities[i]
        }
        out.append(Finding(subject: .stage, direction: .predicted, stage: stage, classProbabilities: probs, modelStage: modelStage))
        return out
    }

    /// A finding for biomarker `name` of `biomarkers` (displayed as value x `scale` in `unit`) when it
    /// deviates beyond the margin, when its attribution share passes the threshold, or when `always`; nil when
    /// the biomarker is missing (nothing measured, nothing said) or nothing about it is significant.
    func measured(_ subject: FindingSubject, _ name: String, in biomarkers: [String: Double], scale: Double,
                  unit: String, digits: Int, evidence: AttributionEvidence?, high: FindingDirection,
                  low: FindingDirection, always: Bool) -> Finding? {
        guard let raw = biomarkers[name], raw.isFinite else { return nil }
        let m = Measurement(name: name, value: raw * scale, unit: unit, digits: digits)
        var direction = FindingDirection.normal
        var reference: ReferenceRange?
        var deviation: Double?
        if let r = references[name], r.count >= thresholds.minimumReferenceCount {
            let range = ReferenceRange(p5: r.p5 * scale, p50: r.p50 * scale, p95: r.p95 * scale, count: r.count)
            reference = range
            let width = max(range.p95 - range.p5, 1e-12)
            let d = m.value > range.p95 ? (m.value - range.p95) / width : (m.value < range.p5 ? (m.value - range.p5) / width : 0)
            deviation = d
            if d > thresholds.deviationMargin { direction = high } else if d < -thresholds.deviationMargin { direction = low }
        }
        let share = evidence.map { FeatureGroups.share(of: subject, in: $0) }
        let weighs = abs(share ?? 0) >= thresholds.attributionShare
        // Without a (large enough) healthy reference a value can be called neither normal nor abnormal, so
        // it is not stated at all; the answer says that no reference is stored.
        guard reference != nil, always || direction != .normal || weighs else { return nil }
        return Finding(subject: subject, direction: direction, measurement: m, reference: reference, deviation: deviation,
                       attributionShare: share)
    }
}
