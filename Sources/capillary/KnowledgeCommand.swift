import ArgumentParser
import Attribution
import Foundation
import GraphNet
import Knowledge
import Retina
import VLM

/// `capillary knowledge`: the dataset builder (default) and `knowledge score` (fact scores of generated answers).
struct KnowledgeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "knowledge",
        abstract: "Grounded findings, Q&A and a LLaVA instruction dataset from graph knowledge (docs/KNOWLEDGE.md).",
        discussion: """
            capillary knowledge --cohort DIR --store DIR [--model graphnet] --out DIR [--seed N]   (= knowledge build)
            capillary knowledge score --report EVAL.json --data DIR [--split test]
            Attribution: integrated gradients of the predicted class (default) say which structures weighed on \
            the decision; --attribution none states deviations from the healthy references only. See \
            `capillary knowledge build --help`.
            """,
        subcommands: [KnowledgeBuildCommand.self, KnowledgeScoreCommand.self],
        defaultSubcommand: KnowledgeBuildCommand.self)
}

/// `capillary knowledge [build]`: stages every cohort image with a stored GraphNet model, derives its findings
/// against the model's healthy references, writes the grounded Q&A and exports the instruction dataset.
struct KnowledgeBuildCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build the instruction dataset (the default subcommand: `capillary knowledge --cohort ...`).",
        discussion: """
            capillary knowledge --cohort DIR --store DIR [--model graphnet] --out DIR [--seed N]
            Loads the staging model, predicts each image's stage, derives findings from the image's graph \
            against the healthy reference ranges stored with the model, writes 5 question/answer turns per \
            image (FAZ, perfusion, vasculature, diagnosis starting with `Stage: <name>`, full report), and \
            exports <split>.json / <split>.jsonl / all.jsonl with the findings alongside.
            Attribution (--attribution ig, the default): integrated gradients of the predicted class \
            (training-mean baseline, --ig-steps Gauss-Legendre steps) give each finding its attribution weight, \
            and the text says what weighed most on the decision. With --attribution none, findings come from \
            deviations against the healthy references alone and the text never says what weighed on it.
            """)

    @Option(help: "Cohort folder with manifest.jsonl (capillary generate).")
    var cohort: String
    @Option(help: "Model store folder.")
    var store: String
    @Option(help: "Model name in the store.")
    var model: String = "graphnet"
    @Option(help: "Output folder for the dataset.")
    var out: String
    @Option(help: "Seed of the phrasing choices (same seed, byte-identical text).")
    var seed: UInt64 = 1
    @Option(name: .customLong("stage-source"),
            help: "Stage line from the model's prediction (model) or the manifest label (label; the model's call is then quoted beside it).")
    var stageSource: String = "model"
    @Option(name: .customLong("deviation-margin"),
            help: "Call a value abnormal only beyond the healthy p5-p95 range by this fraction of its width.")
    var deviationMargin: Double = KnowledgeThresholds().deviationMargin
    @Flag(name: .customLong("student-text"),
          help: "Text for an image-only student: the diagnosis answer does not quote the graph model's probabilities.")
    var studentText = false
    @Option(help: "Attribution evidence: ig (integrated gradients of the predicted class) or none.")
    var attribution: String = "ig"
    @Option(name: .customLong("ig-steps"), help: "Gauss-Legendre steps of the integrated gradients.")
    var igSteps: Int = 50

    func run() throws {
        let (m, info) = try ModelStore(root: store).load(StagingModel.self, name: model)
        let source: EvidenceSource
        switch attribution {
        case "ig":
            guard igSteps >= 2 else { throw ValidationError("--ig-steps must be >= 2, got \(igSteps)") }
            var o = IntegratedGradientsOptions()
            o.steps = igSteps
            source = IntegratedGradientsEvidence(model: m, options: o)
            note("model \(info.path); evidence: \(source.name) (\(igSteps) Gauss-Legendre steps, predicted class)")
        case "none":
            source = NoAttributionEvidence()
            note("model \(info.path); evidence: \(source.name) (no attribution: findings are deviations from the healthy references only)")
        default: throw ValidationError("--attribution must be ig or none, got \(attribution)")
        }
        let manifest = try CohortGraphLoader.manifest(at: cohort)
        let bar = ProgressBar(label: "graphs", total: manifest.entries.count)
        let graphs = try CohortGraphLoader(builderConfig: m.storedConfig.builder).load(manifest, scheme: m.storedConfig.labelScheme) { d, _ in bar.update(d) }
        bar.finish()
        guard stageSource == "model" || stageSource == "label" else { throw ValidationError("--stage-source must be model or label, got \(stageSource)") }
        guard deviationMargin >= 0, deviationMargin.isFinite else { throw ValidationError("--deviation-margin must be >= 0, got \(deviationMargin)") }
        var thresholds = KnowledgeThresholds()
        thresholds.deviationMargin = deviationMargin
        let builder = KnowledgeBuilder(references: m.storedConfig.healthyReferences, classNames: m.classNames, seed: seed,
                                       thresholds: thresholds, quotesModel: !studentText)
        let progress = ProgressBar(label: "knowledge", total: graphs.count)
        var images: [ImageKnowledge] = []
        var agree = 0
        for (i, g) in graphs.enumerated() {
            let prediction = try m.predict([g.graph])[0]
            let evidence = try source.evidence(for: g.graph, prediction: prediction)
            let label = g.label.map { m.classNames[$0] }
            let k = try builder.knowledge(id: g.id, imagePath: g.imagePath, split: g.split?.rawValue, label: label,
                                          graph: g.graph, prediction: prediction, evidence: evidence, evidenceSource: source.name,
                                          stateLabel: stageSource == "label")
            if let label, (try? FindingExtractor.stageName(ofClass: label)) == (try? FindingExtractor.stageName(ofClass: prediction.className)) { agree += 1 }
            images.append(k)
            progress.update(i + 1)
        }
        progress.finish()
        let summary = try KnowledgeExport.write(images, to: out)
        let findings = images.reduce(0) { $0 + $1.findings.count }
        let abnormal = images.reduce(0) { $0 + $1.findings.filter { $0.direction.isAbnormal && $0.topic != .diagnosis }.count }
        print("\(images.count) images, \(findings) findings (\(abnormal) abnormal), model stage = manifest stage for \(agree)/\(images.count)")
        var byLabel: [String: (images: Int, withDeviation: Int)] = [:]
        for k in images {
            let l = k.label ?? "unlabelled"
            let dev = k.findings.contains { $0.direction.isAbnormal && $0.topic != .diagnosis }
            byLabel[l, default: (0, 0)].images += 1
            if dev { byLabel[l]!.withDeviation += 1 }
        }
        print("images with at least one abnormal finding: " + byLabel.keys.sorted().map { "\($0) \(byLabel[$0]!.withDeviation)/\(byLabel[$0]!.images)" }.joined(separator: ", "))
        // Parser round trip on every written answer: the facts read back against the facts each answer states.
        let parser = FactParser(), scorer = KnowledgeFactScorer()
        var exact = 0, answers = 0
        var pairs: [(generated: Set<String>, reference: Set<String>)] = []
        for k in images {
            for (turn, stated) in zip(k.turns, KnowledgeText.statedFindings(k.findings)) {
                let got = Set(parser.parse(turn.answer).map(\.canonical)), want = Set(stated.map(\.fact.canonical))
                answers += 1
                if got == want { exact += 1 }
                pairs.append((got, want))
            }
        }
        let score = FactScore(pairs: pairs, isFinding: scorer.isFinding)
        print(String(format: "parser round trip: %d/%d answers exact; fact precision %.4f, recall %.4f, F1 %.4f", exact, answers,
                     score.precision, score.recall, score.f1))
        if source is NoAttributionEvidence {
            print("evidence: \(source.name): no attribution was used, so no text states what weighed on the decision")
        } else {
            print("evidence: \(source.name) of the predicted class for every image")
        }
        print("splits: " + summary.counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        for f in summary.files { print("wrote \(f)") }
    }

    func note(_ s: String) { FileHandle.standardError.write(Data((s + "\n").utf8)) }
}

/// `capillary knowledge score`: Knowledge's fact scores (precision, recall, F1, hallucination, localization) of
/// the answers in an `eval-vlm --out` report against the reference diagnosis answers of a Knowledge dataset.
struct KnowledgeScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Fact-level scores of eval-vlm answers against a Knowledge dataset (KnowledgeFactScorer).",
        discussion: """
            capillary eval-vlm --data DIR --split test --store S --out report.json
            capillary knowledge score --report report.json --data DIR [--split test]
            """)

    @Option(help: "eval-vlm report JSON (--out of eval-vlm).")
    var report: String
    @Option(help: "Knowledge dataset (folder or file) holding the reference answers.")
    var data: String
    @Option(help: "Split of the dataset.")
    var split: String = "test"

    func run() throws {
        guard let bytes = FileManager.default.contents(atPath: report) else { throw ValidationError("--report: cannot read \(report)") }
        let r: EvaluationReport
        do { r = try JSONDecoder().decode(EvaluationReport.self, from: bytes) }
        catch { throw ValidationError("--report: \(report) is not an eval-vlm report: \(error)") }
        let dataset = try InstructionDataset.load(path: data, split: split)
        var references: [String: String] = [:]
        for rec in dataset.records { if let t = rec.diagnosisTurn { references[rec.id] = t.answer } }
        let matched = r.answers.filter { references[$0.id] != nil }
        guard !matched.isEmpty else { throw ValidationError("no answer of \(report) has a reference in \(data) (\(split))") }
        let scorer = KnowledgeFactScorer()
        let s = scorer.score(generated: matched.map(\.generated), reference: matched.map { references[$0.id]! })
        print("\(matched.count) answers scored with \(scorer.name) (\(r.answers.count - matched.count) without a reference)")
        print("| metric | value |\n|---|---|")
        print(String(format: "| fact precision | %.3f |\n| fact recall | %.3f |\n| fact F1 | %.3f |\n| hallucination rate | %.3f |",
                     s.precision, s.recall, s.f1, s.hallucinationRate))
        print("| localization accuracy | \(s.localizationAccuracy.map { String(format: "%.3f", $0) } ?? "n/a") |")
    }
}
