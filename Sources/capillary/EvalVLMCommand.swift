import ArgumentParser
import Foundation
import Knowledge
import VLM

/// `capillary eval-vlm`: staging and fact-level scores of a trained VLM on a held-out split.
struct EvalVLMCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval-vlm",
        abstract: "Evaluate the VLM: accuracy, balanced accuracy, macro F1 and QWK of the generated Stage: line, plus fact scores.",
        discussion: """
        Asks each record's diagnosis question (the turn whose reference answer starts with `Stage:`), decodes \
        greedily and compares. --facts scores the findings stated in the answers against the reference answers \
        (precision/recall/F1, hallucination rate, localization): `knowledge` with the Knowledge module's fact \
        parser (datasets from `capillary knowledge`), `captions` with the ground-truth caption templates' parser \
        (datasets from `capillary vlm-captions`), `none` to skip.
        """)

    @Option(help: "Instruction dataset (file or folder).")
    var data: String
    @Option(help: "Split to evaluate.")
    var split: String = "test"
    @Option(help: "Model store folder.")
    var store: String
    @Option(help: "Model name in the store.")
    var name: String = "vlm"
    @Option(help: "Fact scorer: knowledge, captions or none.")
    var facts: String = "captions"
    @Option(help: "Write the full report (with every answer) as JSON here.")
    var out: String?

    func run() throws {
        let loaded = try VLMStore.load(store: store, name: name)
        let dataset = try InstructionDataset.load(path: data, split: split)
        let scorer: FactScorer?
        switch facts {
        case "knowledge": scorer = KnowledgeFactScorer()
        case "captions": scorer = CaptionFactParser()
        case "none": scorer = nil
        default: throw ValidationError("--facts must be knowledge, captions or none, got \(facts)")
        }
        let report = try VLMEvaluation.run(generator: loaded.generator, dataset: dataset, scorer: scorer)
        let s = report.staging
        print("model \(loaded.directory), \(s.count) \(split) images, unparsed \(s.unparsed)")
        print("| metric | value |\n|---|---|")
        print(String(format: "| accuracy | %.3f |\n| balanced accuracy | %.3f |\n| macro F1 | %.3f |\n| QWK | %.3f |",
                     s.accuracy, s.balancedAccuracy, s.macroF1, s.quadraticWeightedKappa))
        if let a = report.teacherAgreement {
            print(String(format: "| agreement with the GNN teacher | %.3f (%d images) |", a, report.teacherCount))
        }
        if let f = report.facts {
            print(String(format: "| fact precision | %.3f |\n| fact recall | %.3f |\n| fact F1 | %.3f |\n| hallucination rate | %.3f |",
                         f.precision, f.recall, f.f1, f.hallucinationRate))
            print("| localization accuracy | \(f.localizationAccuracy.map { String(format: "%.3f", $0) } ?? "n/a") |")
        }
        print(String(format: "| mean TTFT | %.2f ms |\n| decode | %.0f tokens/s |", report.meanTTFTMS, report.decodeTokensPerSecond))
        print("confusion (rows truth healthy/npdr/pdr; cols predicted healthy/npdr/pdr/unparsed): \(s.confusion)")
        if let out {
            let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
            try enc.encode(report).write(to: URL(fileURLWithPath: out))
            print("wrote \(out)")
        }
    }
}
