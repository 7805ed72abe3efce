import Foundation
import Retina

/// Where a point lies on the image: `central` within 0.5 mm of the image centre (the ETDRS central disc of
/// 1 mm diameter), otherwise the quadrant `superior` (image top), `inferior`, `nasal` (image right, the
/// right-eye convention) or `temporal`.
public enum ImageSector: String, Sendable, CaseIterable {
    case central, superior, inferior, nasal, temporal

    /// The sector of `pointMM` (x right, y down) in a square field of `fovMM` mm.
    public static func of(pointMM: [Double], fovMM: Double) -> ImageSector {
        let dx = pointMM[0] - fovMM / 2, dy = pointMM[1] - fovMM / 2
        if (dx * dx + dy * dy).squareRoot() < 0.5 { return .central }
        if abs(dy) >= abs(dx) { return dy < 0 ? .superior : .inferior }
        return dx > 0 ? .nasal : .temporal
    }
}

/// Healthy reference ranges (5th-95th percentile of the healthy training eyes) used to call a value
/// enlarged or reduced.
public struct HealthyReference: Sendable, Equatable {
    public var fazAreaMM2: ClosedRange<Double>
    public var perfusionDensity: ClosedRange<Double>

    /// Percentile ranges of the healthy eyes among `truths`.
    /// - Throws: `VLMError.invalidOption` when there is no healthy eye to learn from.
    public init(healthy truths: [GroundTruth]) throws {
        let h = truths.filter { $0.stage == .healthy }
        guard !h.isEmpty else {
            throw VLMError.invalidOption(name: "cohort", reason: "no healthy training eye to derive reference ranges from")
        }
        func range(_ v: [Double]) -> ClosedRange<Double> {
            let s = v.sorted()
            func q(_ p: Double) -> Double { s[min(s.count - 1, max(0, Int((p * Double(s.count - 1)).rounded())))] }
            return q(0.05)...q(0.95)
        }
        fazAreaMM2 = range(h.map(\.fazAreaMM2))
        perfusionDensity = range(h.map(\.perfusionDensity))
    }
}

/// Captions written from the cohort's GROUND TRUTH (meta/*.json), not from graph knowledge: the stand-in
/// instruction data until the Knowledge dataset exists, and the data of the FT-vs-caption ablation.
///
/// Styles: `label` gives one turn whose answer is only the `Stage:` line (the paper's FT baseline);
/// `truth` gives four turns (FAZ, perfusion, vasculature, diagnosis) in short templated sentences whose
/// diagnosis answer starts with `Stage: X`.
public enum GroundTruthCaptions {
    /// Caption styles.
    public enum Style: String, Sendable, CaseIterable { case label, truth }

    public static let diagnosisQuestion = "What is the diabetic retinopathy stage of this OCTA image? Explain the findings."
    public static let fazQuestion = "Describe the foveal avascular zone."
    public static let perfusionQuestion = "How is the capillary perfusion?"
    public static let vasculatureQuestion = "Which vascular lesions are visible?"

    static func number(_ v: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", v) }

    /// Most frequent sector of `lesions` (ties in `ImageSector.allCases` order).
    static func mainSector(_ lesions: [Lesion], fovMM: Double) -> ImageSector {
        var counts: [ImageSector: Int] = [:]
        for l in lesions { counts[ImageSector.of(pointMM: l.centerMM, fovMM: fovMM), default: 0] += 1 }
        var best = ImageSector.central, bestCount = -1
        for sector in ImageSector.allCases where (counts[sector] ?? 0) > bestCount {
            best = sector; bestCount = counts[sector] ?? 0
        }
        return best
    }

    /// Sentences about lesions of one type.
    static func lesionSentence(_ type: LesionType, _ lesions: [Lesion], fovMM: Double) -> String {
        let ls = lesions.filter { $0.type == type }
        let name: String
        switch type {
        case .nonPerfusion: name = "Non-perfusion"
        case .microaneurysm: name = "Microaneurysms"
        case .neovascularization: name = "Neovascularization"
        }
        if ls.isEmpty {
            switch type {
            case .nonPerfusion: return "No non-perfusion area is seen."
            case .microaneurysm: return "No microaneurysms are seen."
            case .neovascularization: return "No neovascularization is seen."
            }
        }
        return "\(name): \(ls.count), mostly \(mainSector(ls, fovMM: fovMM).rawValue)."
    }

    /// The turns for one eye.
    public static func turns(truth: GroundTruth, fovMM: Double, reference: HealthyReference, style: Style) -> [InstructionTurn] {
        let stageLine = StageLine.render(truth.stage)
        if style == .label { return [InstructionTurn(question: diagnosisQuestion, answer: stageLine)] }
        let fazCall = truth.fazAreaMM2 > reference.fazAreaMM2.upperBound ? "The FAZ is enlarged"
            : (truth.fazAreaMM2 < reference.fazAreaMM2.lowerBound ? "The FAZ is small" : "The FAZ is within the healthy range")
        let perfCall = truth.perfusionDensity < reference.perfusionDensity.lowerBound ? "Perfusion density is reduced"
            : "Perfusion density is within the healthy range"
        let faz = "\(fazCall) (\(number(truth.fazAreaMM2)) mm2; healthy \(number(reference.fazAreaMM2.lowerBound))-\(number(reference.fazAreaMM2.upperBound)))."
        let perf = "\(perfCall) (\(number(truth.perfusionDensity)); healthy \(number(reference.perfusionDensity.lowerBound))-\(number(reference.perfusionDensity.upperBound)))."
        let np = lesionSentence(.nonPerfusion, truth.lesions, fovMM: fovMM)
        let ma = lesionSentence(.microaneurysm, truth.lesions, fovMM: fovMM)
        let nv = lesionSentence(.neovascularization, truth.lesions, fovMM: fovMM)
        return [
            InstructionTurn(question: fazQuestion, answer: faz),
            InstructionTurn(question: perfusionQuestion, answer: "\(perf) \(np)"),
            InstructionTurn(question: vasculatureQuestion, answer: "\(ma) \(nv)"),
            InstructionTurn(question: diagnosisQuestion, answer: "\(stageLine)\n\(fazCall). \(perfCall). \(np) \(ma) \(nv)"),
        ]
    }

    /// Reads a cohort (manifest.jsonl + meta/*.json) and builds its caption dataset, each record tagged with
    /// its split. Reference ranges come from the healthy eyes of the train split (all eyes when none is
    /// marked train).
    /// - Throws: `CohortError` for the manifest, `VLMError.io` naming a missing or unreadable meta file.
    public static func dataset(cohort: String, style: Style) throws -> (dataset: InstructionDataset, truths: [String: GroundTruth]) {
        let manifest = try CohortManifest.load(path: (cohort as NSString).appendingPathComponent("manifest.jsonl"))
        var truths: [(CohortEntry, GroundTruth)] = []
        let dec = JSONDecoder()
        for e in manifest.entries {
            guard let mp = e.metaPath else { throw VLMError.io(path: e.path, reason: "manifest entry \(e.id) has no meta_path") }
            let path = manifest.resolve(mp)
            guard let data = FileManager.default.contents(atPath: path) else { throw VLMError.io(path: path, reason: "missing ground-truth JSON") }
            do { truths.append((e, try dec.decode(GroundTruth.self, from: data))) }
            catch { throw VLMError.io(path: path, reason: "not a ground-truth JSON: \(error)") }
        }
        let train = truths.filter { $0.0.split == .train }.map(\.1)
        let reference = try HealthyReference(healthy: train.isEmpty ? truths.map(\.1) : train)
        var records: [InstructionRecord] = []
        var byID: [String: GroundTruth] = [:]
        for (e, t) in truths {
            let fov = e.fovMM ?? 3
            records.append(InstructionRecord(id: e.id, imagePath: manifest.resolve(e.path),
                                             turns: turns(truth: t, fovMM: fov, reference: reference, style: style),
                                             split: e.split?.rawValue))
            byID[e.id] = t
        }
        return (InstructionDataset(records: records), byID)
    }
}
