import ArgumentParser
import Foundation
import VLM

/// `capillary vlm-captions`: LLaVA caption data written from a cohort's GROUND TRUTH (not graph knowledge).
struct VLMCaptionsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vlm-captions",
        abstract: "Write ground-truth captions of a cohort as LLaVA conversation JSON (for VLM alignment and tests).",
        discussion: """
        Built from meta/*.json (stage, FAZ area, perfusion density, lesion counts and sectors), not from the \
        graph-knowledge pipeline. --style truth: four Q&A per image, diagnosis answer starting `Stage: X`; \
        --style label: one Q&A whose answer is only the `Stage:` line (the FT baseline). Each record keeps its \
        cohort split in a "split" field. See docs/VLM.md.
        """)

    @Option(help: "Cohort folder (with manifest.jsonl and meta/).")
    var cohort: String

    @Option(help: "Output JSON file.")
    var out: String

    @Option(help: "Caption style: truth or label.")
    var style: String = "truth"

    func run() throws {
        guard let s = GroundTruthCaptions.Style(rawValue: style) else {
            throw ValidationError("--style must be truth or label, got \(style)")
        }
        let (dataset, _) = try GroundTruthCaptions.dataset(cohort: cohort, style: s)
        try dataset.write(to: out)
        var counts: [String: Int] = [:]
        for r in dataset.records { counts[r.split ?? "none", default: 0] += 1 }
        print("wrote \(dataset.records.count) records (\(counts.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")), \(dataset.records.reduce(0) { $0 + $1.turns.count }) Q&A) to \(out)")
    }
}
