import ArgumentParser
import Foundation
import RPC

/// `capillary models`: the daemon's model store (every version on disk, which are loaded), and
/// `--load NAME` / `--unload NAME` to warm or free a model (`models/list`, `models/load`, `models/unload`).
struct ModelsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "models",
        abstract: "List the daemon's models (or load / unload one).",
        discussion: "capillary models [--load NAME [--version V] [--keep-alive SECONDS] | --unload NAME] [--json] [--socket PATH]")

    @Option(help: "Load this model (hot-swaps to --version if another version is loaded).") var load: String?
    @Option(help: "With --load: the version (default: the loaded one, else the newest).") var version: String?
    @Option(name: .customLong("keep-alive"), help: "With --load: idle seconds before unloading; 0 unloads now, -1 never.")
    var keepAlive: Double?
    @Option(help: "Unload this model from memory.") var unload: String?
    @Flag(help: "The daemon's result as one JSON line.") var json = false
    @OptionGroup var daemon: DaemonOptions

    func validate() throws {
        if load != nil && unload != nil { throw ValidationError("give --load or --unload, not both") }
        if load == nil && (version != nil || keepAlive != nil) { throw ValidationError("--version and --keep-alive go with --load") }
    }

    func run() throws {
        try runClient {
            let connection = try daemon.connect()
            if let name = load {
                var p: JSONObject = ["name": .string(name)]
                if let version { p["version"] = .string(version) }
                if let keepAlive { p["keepAlive"] = .double(keepAlive) }
                let r = try connection.call("models/load", p)
                if json { return printJSONLine(r) }
                print(String(format: "%@@%@ loaded (%@, %.1f MiB, %.0f ms)%@", r["name"]?.stringValue ?? name,
                             r["version"]?.stringValue ?? "?", r["wasLoaded"] == true ? "already in memory" : "from disk",
                             Double(r["memoryBytes"]?.intValue ?? 0) / 1_048_576, r["loadMS"]?.doubleValue ?? 0,
                             r["replacedVersion"]?.stringValue.map { "; replaced version \($0)" } ?? ""))
                return
            }
            if let name = unload {
                let r = try connection.call("models/unload", ["name": .string(name)])
                if json { return printJSONLine(r) }
                print(r["unloaded"] == true ? "\(name)@\(r["version"]?.stringValue ?? "?") unloaded" : "\(name) was not loaded")
                return
            }
            let r = try connection.call("models/list")
            if json { return printJSONLine(r) }
            let rows = r["models"]?.arrayValue ?? []
            print("store \(r["store"]?.stringValue ?? "?") (\(rows.count) version(s); at most \(r["maxLoaded"]?.intValue ?? 0) loaded)")
            guard !rows.isEmpty else { return print("empty: train models with `capillary train`") }
            print("name".padding(toLength: 14, withPad: " ", startingAt: 0) + "version  kind      loaded  memory MiB  test acc")
            for m in rows {
                let acc = m["metrics"]?["test"]?["accuracy"]?.doubleValue
                print((m["name"]?.stringValue ?? "?").padding(toLength: 14, withPad: " ", startingAt: 0)
                      + (m["version"]?.stringValue ?? "?").padding(toLength: 9, withPad: " ", startingAt: 0)
                      + (m["kind"]?.stringValue ?? "?").padding(toLength: 10, withPad: " ", startingAt: 0)
                      + (m["loaded"] == true ? "yes" : "no").padding(toLength: 8, withPad: " ", startingAt: 0)
                      + String(format: "%10.1f  ", Double(m["memoryBytes"]?.intValue ?? 0) / 1_048_576)
                      + (acc.map { String(format: "%.3f", $0) } ?? "-"))
            }
        }
    }
}
