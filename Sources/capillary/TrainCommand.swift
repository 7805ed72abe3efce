import ArgumentParser
import Foundation
import RPC
#if canImport(Glibc)
import Glibc
#endif

/// `capillary train`: trains a model in the daemon (the `train` job) with a live progress bar from the
/// job's work-done progress; Ctrl-C cancels the job (nothing is stored, the served model is untouched).
struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a model in the daemon, showing its progress (Ctrl-C cancels the job).",
        discussion: """
            capillary train [--kind gnn|vlm|pipeline] (--cohort DIR | --generate COUNT [--seed S] [--size-px N]) \\
            [--name NAME] [--epochs N] [--preset tiny|small|base|peer] [--config JSON] [--detach] [--json]
            --json prints every progress value as a JSON line and ends with {"kind":"end",...}. Exit codes: 0 trained, \\
            1 failed or refused, 69 no daemon, 130 cancelled with Ctrl-C.
            """)

    @Option(help: "gnn (stage model), vlm (explanations) or pipeline (both on one cohort).") var kind = "gnn"
    @Option(help: "Cohort folder with manifest.jsonl (made absolute).") var cohort: String?
    @Option(help: "Simulate a cohort of this many eyes first (>= 6).") var generate: Int?
    @Option(help: "With --generate: the cohort seed.") var seed: UInt64 = 1
    @Option(name: .customLong("size-px"), help: "With --generate: image side, px.") var sizePX: Int?
    @Option(help: "Model name (default graphnet for gnn, vlm for vlm).") var name: String?
    @Option(help: "GNN epochs (shortcut for config.epochs).") var epochs: Int?
    @Option(help: "VLM preset (shortcut for config.preset).") var preset: String?
    @Option(help: "Training config as a JSON object (see protocol/README.md, train); merged under the shortcuts.")
    var config: String?
    @Flag(help: "Print the job id and return at once (follow it with capillary jobs).") var detach = false
    @Flag(help: "JSON lines: every progress value, then the end value.") var json = false
    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if (cohort == nil) == (generate == nil) { throw ValidationError("give exactly one of --cohort DIR or --generate COUNT") }
    }

    func params() throws -> JSONObject {
        var p: JSONObject = ["kind": .string(kind)]
        if let cohort { p["cohort"] = .string(URL(fileURLWithPath: cohort).standardizedFileURL.path) }
        if let generate {
            var g: JSONObject = ["count": .int(Int64(generate)), "seed": .int(Int64(clamping: seed))]
            if let sizePX { g["sizePX"] = .int(Int64(sizePX)) }
            p["generate"] = .object(g)
        }
        if let name { p["name"] = .string(name) }
        var c = JSONObject()
        if let config {
            guard case .object(let o)? = try? JSONCodec.decode(config) else {
                throw ValidationError("--config must be a JSON object, got \(config)")
            }
            c = o
        }
        if let epochs { c["epochs"] = .int(Int64(epochs)) }
        if let preset { c["preset"] = .string(preset) }
        if c.count > 0 { p["config"] = .object(c) }
        return p
    }

    func run() throws {
        try runClient {
            let connection = try daemon.connect()
            let p = try params()
            if detach {
                let r = try connection.call("train", p)
                if json { return printJSONLine(r) }
                return print("\(r["jobId"]?.stringValue ?? "?") started (model \(r["name"]?.stringValue ?? "?")); follow it with `capillary jobs`")
            }
            let bar = JobProgressBar(json: json)
            let interrupts = InterruptCounter()
            let end = try connection.runJob("train", p, interrupts: interrupts, onStarted: { id in
                if !json { FileHandle.standardError.write(Data("\(id) started (Ctrl-C cancels it)\n".utf8)) }
            }, onProgress: bar.show)
            bar.finish()
            if json { return }
            let r = end["result"] ?? .null
            for part in [r["gnn"], r["vlm"], r].compactMap({ $0 }) where part["version"] != nil {
                var line = "trained \(part["name"]?.stringValue ?? "?")@\(part["version"]?.stringValue ?? "?")"
                if let a = part["testAccuracy"]?.doubleValue { line += String(format: ", test accuracy %.3f", a) }
                if let b = part["testBalancedAccuracy"]?.doubleValue { line += String(format: ", balanced %.3f", b) }
                if let l = part["finalLoss"]?.doubleValue { line += String(format: ", final loss %.4f", l) }
                print(line + " (\(part["path"]?.stringValue ?? ""))")
            }
        }
    }
}

/// Draws work-done progress: a bar redrawn in place on a terminal, one line per change of percent or phase
/// otherwise (logs, tests), or the raw values as JSON lines.
final class JobProgressBar {
    let json: Bool
    let terminal = isatty(STDERR_FILENO) != 0
    private var lastKey = ""
    private var lastPercentage = 0
    private var drew = false

    init(json: Bool) { self.json = json }

    /// Shows one `$/progress` value (begin, report or end).
    func show(_ v: JSONValue) {
        if json { return printJSONLine(v) }
        let kind = v["kind"]?.stringValue ?? ""
        // An end carries no percentage: a finished job is full, a stopped one stays where it was.
        let pct = v["percentage"]?.intValue ?? (kind == "end" && v["state"] == "succeeded" ? 100 : lastPercentage)
        lastPercentage = pct
        var text = v["kind"] == "begin" ? (v["title"]?.stringValue ?? "") : (v["message"]?.stringValue ?? "")
        if kind == "end", let id = v["jobId"]?.stringValue { text = "\(id) \(text)" }
        if let phase = v["phase"]?.stringValue { text = "[\(phase)] " + text }
        if let eta = v["etaSeconds"]?.doubleValue, kind == "report" { text += String(format: " (ETA %.0f s)", eta) }
        let width = 30, filled = min(width, max(0, pct * width / 100))
        let line = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + String(format: "%3d%% ", pct) + text
        if terminal {
            FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8))
            drew = true
        } else {
            let key = "\(kind) \(pct) \(v["phase"]?.stringValue ?? "")"
            if key != lastKey || kind != "report" { FileHandle.standardError.write(Data((line + "\n").utf8)) }
            lastKey = key
        }
    }

    /// Ends the bar's line on a terminal.
    func finish() {
        if terminal && drew { FileHandle.standardError.write(Data("\n".utf8)) }
    }
}
