import Foundation
import Retina

/// One evaluated image.
public struct EvaluatedAnswer: Sendable, Codable {
    /// Record id.
    public var id: String
    /// Stage from the reference answer's `Stage:` line.
    public var truth: String
    /// Stage from the generated `Stage:` line (nil when unreadable).
    public var predicted: String?
    /// The graph teacher's (GNN's) stage for this image, when the dataset records it.
    public var teacher: String?
    /// The generated diagnosis answer.
    public var generated: String
}

/// Results of `VLMEvaluation.run`.
public struct EvaluationReport: Sendable, Codable {
    /// Staging metrics from the generated `Stage:` lines.
    public var staging: StagingMetrics
    /// Fact-level scores of the diagnosis answers (nil without a scorer).
    public var facts: FactScore?
    /// Name of the fact scorer used.
    public var factScorer: String?
    /// Mean time to first token, ms, and decode tokens/s over the run.
    public var meanTTFTMS: Double
    public var decodeTokensPerSecond: Double
    /// Agreement with the GNN teacher: the fraction of the images with a recorded teacher stage whose
    /// generated stage equals the teacher's (an unparsed answer disagrees); nil when no record has one.
    public var teacherAgreement: Double?
    /// Images with a recorded teacher stage.
    public var teacherCount: Int
    /// Every evaluated answer.
    public var answers: [EvaluatedAnswer]

    enum CodingKeys: String, CodingKey {
        case staging, facts, answers
        case teacherAgreement = "teacher_agreement", teacherCount = "teacher_count"
        case factScorer = "fact_scorer", meanTTFTMS = "mean_ttft_ms", decodeTokensPerSecond = "decode_tokens_per_s"
    }
}

/// The evaluation harness: asks each record's diagnosis question (the turn whose reference answer starts
/// with `Stage:`), decodes greedily, reads the generated `Stage:` line and scores it against the reference;
/// with a `FactScorer`, also scores the generated findings against the reference answer's findings.
public enum VLMEvaluation {
    /// Evaluates `generator` on `dataset`. Records without a diagnosis turn are skipped.
    /// - Throws: `VLMError.invalidOption` when no record has a diagnosis turn; image read errors.
    public static func run(generator: VLMGenerator, dataset: InstructionDataset, scorer: FactScorer? = nil,
                           maxTokens: Int = 160, progress: ((Int, Int) -> Void)? = nil) throws -> EvaluationReport {
        let items = dataset.records.compactMap { r in r.diagnosisTurn.map { (r, $0) } }
        guard !items.isEmpty else {
            throw VLMError.invalidOption(name: "data", reason: "no record has a diagnosis answer starting with \"Stage:\"")
        }
        var truths: [DRStage] = [], preds: [DRStage?] = []
        var pairs: [(generated: Set<String>, reference: Set<String>)] = []
        var answers: [EvaluatedAnswer] = []
        var ttft = 0.0, decodeSecs = 0.0, decodeTokens = 0
        for (n, (r, turn)) in items.enumerated() {
            guard let truth = StageLine.parse(turn.answer) else { continue }
            let image: GrayImage
            do { image = try ImageIO.read(path: r.imagePath) }
            catch { throw VLMError.io(path: r.imagePath, reason: "cannot read image: \(error)") }
            let result = try generator.generate(image: image, question: turn.question,
                                                options: GenerationOptions(maxTokens: maxTokens))
            ttft += result.timeToFirstTokenSeconds
            decodeSecs += result.decodeSeconds
            decodeTokens += max(0, result.tokenIDs.count - 1)
            let p = StageLine.parse(result.text)
            truths.append(truth); preds.append(p)
            if let scorer { pairs.append((scorer.facts(in: result.text), scorer.facts(in: turn.answer))) }
            answers.append(EvaluatedAnswer(id: r.id, truth: truth.rawValue, predicted: p?.rawValue,
                                           teacher: r.teacherStage?.rawValue, generated: result.text))
            progress?(n + 1, items.count)
        }
        let withTeacher = answers.filter { $0.teacher != nil }
        let agreeing = withTeacher.filter { $0.predicted == $0.teacher }.count
        return EvaluationReport(staging: StagingMetrics(truth: truths, predicted: preds),
                                facts: scorer.map { s in FactScore(pairs: pairs, isFinding: s.isFinding) },
                                factScorer: scorer?.name, meanTTFTMS: 1000 * ttft / Double(max(1, answers.count)),
                                decodeTokensPerSecond: decodeSecs > 0 ? Double(decodeTokens) / decodeSecs : 0,
                                teacherAgreement: withTeacher.isEmpty ? nil : Double(agreeing) / Double(withTeacher.count),
                                teacherCount: withTeacher.count, answers: answers)
    }
}
