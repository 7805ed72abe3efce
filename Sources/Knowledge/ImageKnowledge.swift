import Foundation
import GraphNet
import VLM
import VesselGraph

/// Everything Knowledge derived for one image: its findings and its question/answer turns.
public struct ImageKnowledge: Sendable {
    /// Manifest id.
    public var id: String
    /// Image path (absolute or relative to the working folder).
    public var imagePath: String
    /// Split from the manifest ("train", "val", "test"), if any.
    public var split: String?
    /// Ground-truth class name from the manifest, if labelled.
    public var label: String?
    /// Stage stated by the text (the model's prediction, or the label with `stateLabel`).
    public var stage: String
    /// The findings, in reading order.
    public var findings: [Finding]
    /// The five turns (FAZ, perfusion, vasculature, diagnosis, report).
    public var turns: [InstructionTurn]
    /// Name of the evidence source ("none" when no attribution was used).
    public var evidenceSource: String
    /// Whether usable attribution evidence went into the findings.
    public var hasEvidence: Bool

    /// Canonical facts of the findings (what the fact parser reads back from the report).
    public var facts: [String] { findings.map(\.fact.canonical).sorted() }
}

/// Turns a graph, the model's prediction and optional evidence into `ImageKnowledge`.
public struct KnowledgeBuilder: Sendable {
    /// Findings extractor (references and thresholds).
    public let extractor: FindingExtractor
    /// The model's class names (index = logit column).
    public let classNames: [String]
    /// Seed of the phrasing choices.
    public let seed: UInt64
    /// Whether the diagnosis answer quotes the graph model's class probabilities (the teacher's report).
    /// Text for a student that sees only the image leaves them out: it has no graph model to quote.
    public let quotesModel: Bool

    /// A builder for a stored model's references and classes.
    public init(references: [BiomarkerReference], classNames: [String], seed: UInt64,
                thresholds: KnowledgeThresholds = KnowledgeThresholds(), quotesModel: Bool = true) {
        extractor = FindingExtractor(references: references, thresholds: thresholds)
        self.classNames = classNames; self.seed = seed; self.quotesModel = quotesModel
    }

    /// Knowledge of one image.
    /// - Throws: `KnowledgeError.unknownClass` if the predicted class is not a stage or grade.
    /// With `stateLabel`, the Stage line states `label` (when present) instead of the model's stage.
    public func knowledge(id: String, imagePath: String, split: String?, label: String?, graph: OCTAGraph,
                          prediction: StagePrediction, evidence: AttributionEvidence?, evidenceSource: String,
                          stateLabel: Bool = false) throws -> ImageKnowledge {
        let usable = extractor.usable(evidence)
        let findings = try extractor.findings(graph: graph, prediction: prediction, classNames: classNames, evidence: usable,
                                              statedStage: stateLabel ? label : nil)
        let turns = KnowledgeText.turns(findings, chooser: PhraseChooser(seed: seed, imageID: id),
                                        attributionThreshold: extractor.thresholds.attributionShare, hasEvidence: usable != nil,
                                        quotesModel: quotesModel)
        return ImageKnowledge(id: id, imagePath: imagePath, split: split, label: label,
                              stage: findings.last { $0.subject == .stage }?.stage ?? "healthy", findings: findings,
                              turns: turns, evidenceSource: evidenceSource, hasEvidence: usable != nil)
    }
}
