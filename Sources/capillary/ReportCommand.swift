import ArgumentParser
import Foundation
import Report

/// `capillary report`: the demo's self-contained HTML report from the files in a demo output folder.
struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report (cases, metrics, confusion matrices, training curves) from a demo output folder.",
        discussion: """
        Reads DIR/cases/*.json (required; scripts/demo-cases.py writes them) and, when present, DIR/gnn-train.jsonl \
        (capillary train-gnn --json), DIR/eval-gnn.json (capillary eval-gnn --json --baselines), \
        DIR/vlm-ft-train.jsonl and DIR/vlm-gft-train.jsonl (capillary train-vlm --log), DIR/eval-vlm-ft.json and \
        DIR/eval-vlm-gft.json (capillary eval-vlm --out). Missing inputs are listed in the page, never filled in.
        """)

    @Option(help: "Demo output folder.")
    var dir: String
    @Option(help: "Output HTML file (default DIR/report.html).")
    var out: String?
    @Option(help: "Page title.")
    var title: String = "Capillary demo report"

    func run() throws {
        // Absolute, so the page says where its inputs came from.
        let folder = URL(fileURLWithPath: dir).standardizedFileURL.path
        let target = out ?? (folder as NSString).appendingPathComponent("report.html")
        let missing = try DemoReport.write(dir: folder, to: target, title: title)
        print("wrote \(target)")
        if !missing.isEmpty { print("missing inputs (shown as missing in the page):\n  " + missing.joined(separator: "\n  ")) }
    }
}
