import Foundation
import VLM

/// The question/answer turns of one image, written from its findings: the paper's four questions (FAZ,
/// perfusion, vasculature, diagnosis) plus a full report. The diagnosis answer starts with the parseable line
/// `Stage: <name>` (VLM's `StageLine`); the report does not start with it, so VLM's `diagnosisTurn` is the
/// diagnosis question.
public enum KnowledgeText {
    /// The questions, shared with VLM's ground-truth captions so a student is asked the same things.
    public static let fazQuestion = GroundTruthCaptions.fazQuestion
    /// See `fazQuestion`.
    public static let perfusionQuestion = GroundTruthCaptions.perfusionQuestion
    /// See `fazQuestion`.
    public static let vasculatureQuestion = GroundTruthCaptions.vasculatureQuestion
    /// See `fazQuestion` (also `capillary explain`'s default question).
    public static let diagnosisQuestion = GroundTruthCaptions.diagnosisQuestion
    /// The full-report question.
    public static let reportQuestion = "Write a full report of this OCTA image."

    /// The five turns (FAZ, perfusion, vasculature, diagnosis, report) for `findings` (as returned by
    /// `FindingExtractor`; must hold one `.stage` finding). `attributionThreshold` is the share above which
    /// an attribution clause is written (`KnowledgeThresholds.attributionShare`). Without `quotesModel` the
    /// diagnosis answer does not quote the graph model's class probabilities (text for an image-only student).
    public static func turns(_ findings: [Finding], chooser: PhraseChooser, attributionThreshold: Double = KnowledgeThresholds().attributionShare,
                             hasEvidence: Bool, quotesModel: Bool = true) -> [InstructionTurn] {
        var c = chooser
        let a = answers(findings, &c, threshold: attributionThreshold, hasEvidence: hasEvidence, quotesModel: quotesModel)
        return [InstructionTurn(question: fazQuestion, answer: a.faz),
                InstructionTurn(question: perfusionQuestion, answer: a.perfusion),
                InstructionTurn(question: vasculatureQuestion, answer: a.vasculature),
                InstructionTurn(question: diagnosisQuestion, answer: a.diagnosis),
                InstructionTurn(question: reportQuestion, answer: a.report)]
    }

    /// The findings each answer states (for round-trip checks): FAZ, perfusion (with lesions), vasculature,
    /// diagnosis (stage, abnormal findings, focus), report (all).
    public static func statedFindings(_ findings: [Finding]) -> [[Finding]] {
        let faz = findings.filter { $0.topic == .faz }
        let perf = findings.filter { $0.topic == .perfusion || $0.topic == .lesions }
        let vasc = findings.filter { $0.topic == .vasculature }
        let diag = findings.filter { $0.subject == .stage || $0.subject == .attributionFocus || ($0.direction.isAbnormal && $0.topic != .diagnosis) }
        return [faz, perf, vasc, diag, findings]
    }

    static func answers(_ findings: [Finding], _ c: inout PhraseChooser, threshold: Double, hasEvidence: Bool, quotesModel: Bool = true)
        -> (faz: String, perfusion: String, vasculature: String, diagnosis: String, report: String) {
        let stageFinding = findings.first { $0.subject == .stage }
        let statedStage = stageFinding?.stage ?? "healthy"
        // Attributions explain the model's class, so attribution wording names the model's stage.
        let stage = stageFinding?.modelStage ?? statedStage

        // FAZ.
        var faz: String
        if let d = findings.first(where: { $0.subject == .fazDetection }) {
            faz = FindingSentences.sentence(d, stage: stage, threshold: threshold, &c)
        } else {
            let area = findings.first { $0.subject == .fazArea }, border = findings.first { $0.subject == .fazBorder }
            faz = area == nil && border == nil ? "No healthy FAZ reference is stored with the model, so the FAZ is not assessed."
                : FindingSentences.faz(area: area, border: border, stage: stage, threshold: threshold, &c)
        }

        // Perfusion (with the lesions the attribution points at).
        var perf = findings.filter { $0.topic == .perfusion || $0.topic == .lesions }
            .map { FindingSentences.sentence($0, stage: stage, threshold: threshold, &c) }.joined(separator: " ")
        if perf.isEmpty { perf = "No healthy perfusion reference is stored with the model, so perfusion is not assessed." }

        // Vasculature.
        var vasc = findings.filter { $0.topic == .vasculature }
            .map { FindingSentences.sentence($0, stage: stage, threshold: threshold, &c) }.joined(separator: " ")
        if vasc.isEmpty { vasc = "No healthy vessel reference is stored with the model, so the vasculature is not assessed." }
        vasc += " " + FindingSentences.vasculatureScope(&c)

        // Diagnosis.
        var diag = StageLine.render(statedStage == "npdr" ? .npdr : (statedStage == "pdr" ? .pdr : .healthy))
        if !quotesModel {
            // An image-only student has no graph model to quote; its answer goes from the stage to the findings.
            diag += "\n"
        } else if stage != statedStage, let probs = stageFinding?.classProbabilities, let p = probs[stage] {
            let others = probs.filter { $0.key != stage }.sorted { $0.key < $1.key }
                .map { "\(FindingSentences.stageText($0.key)) \(percent($0.value))" }
            diag += "\n" + c.pick(["The graph model disagrees: it rates \(FindingSentences.stageText(stage)) most likely, at \(percent(p)) (\(others.joined(separator: ", "))).",
                                   "The graph model predicts \(FindingSentences.stageText(stage)) instead, with a probability of \(percent(p)) (\(others.joined(separator: ", ")))."])
        } else if let probs = stageFinding?.classProbabilities, let p = probs[stage] {
            let others = probs.filter { $0.key != stage }.sorted { $0.key < $1.key }
                .map { "\(FindingSentences.stageText($0.key)) \(percent($0.value))" }
            let rest = others.isEmpty ? "" : " (" + others.joined(separator: ", ") + ")"
            let st = FindingSentences.stageText(stage)
            diag += "\n" + c.pick(["The graph model predicts \(st) with a probability of \(percent(p))\(rest).",
                                   "The graph neural network rates \(st) most likely, at \(percent(p))\(rest)."])
        } else {
            diag += "\n" + "The graph model predicts \(FindingSentences.stageText(stage))."
        }
        let abnormal = findings.filter { $0.topic != .diagnosis && $0.direction.isAbnormal }
        let shorts = abnormal.compactMap { FindingSentences.short($0, &c) }
        if shorts.isEmpty {
            diag += statedStage == "healthy" ? " No measured biomarker deviates from its healthy reference."
                : " No measured biomarker deviates from its healthy reference, so no finding can be named behind this prediction."
        } else {
            diag += " " + c.pick(["Deviations from the healthy reference: ", "Measured deviations: ", "Abnormal measurements: "])
                + shorts.joined(separator: "; ") + "."
            if !hasEvidence {
                diag += " " + c.pick(["No attributions were computed for this image, so these are measured deviations, not the model's stated reasons.",
                                      "Without attribution evidence these are measured deviations only; what the model relied on is not stated."])
            } else if let m = abnormal.first(where: { $0.weighedMost }), let phrase = FindingSentences.short(m, &c) {
                diag += " Of these, \(phrase) weighed most towards \(FindingSentences.stageText(stage))."
            }
        }
        if let focus = findings.first(where: { $0.subject == .attributionFocus }) {
            diag += " " + FindingSentences.sentence(focus, stage: stage, threshold: threshold, &c)
        }

        if !quotesModel { diag = diag.replacingOccurrences(of: "\n ", with: "\n") }
        let report = "FAZ: \(faz)\nPerfusion: \(perf)\nVasculature: \(vasc)\nImpression:\n\(diag)"
        return (faz, perf, vasc, diag, report)
    }

    /// "78%", and "<1%" rather than a misleading "0%".
    static func percent(_ p: Double) -> String { p < 0.005 ? "<1%" : String(format: "%.0f%%", 100 * p) }
}
