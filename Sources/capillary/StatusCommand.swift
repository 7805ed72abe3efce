import ArgumentParser
import Foundation
import RPC

/// `capillary status`: whether the daemon runs, its uptime, load, memory, model store and jobs (`status`).
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the daemon's state (exit 69 when no daemon is running).")

    @Flag(help: "The daemon's result as one JSON line.") var json = false
    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        try runClient {
            let connection = try daemon.connect()
            let s = try connection.call("status")
            if json { return printJSONLine(s) }
            let version = connection.serverInfo["version"]?.stringValue ?? "?"
            print(String(format: "capillaryd %@ on %@: up %.0f s, %d connection(s), %d request(s) in flight, %d/%d workers busy, RSS %.0f MiB",
                         version, connection.path, s["uptimeSeconds"]?.doubleValue ?? 0, s["connections"]?.intValue ?? 0,
                         s["inflightRequests"]?.intValue ?? 0, s["busyWorkers"]?.intValue ?? 0, s["workers"]?.intValue ?? 0,
                         Double(s["rssBytes"]?.intValue ?? 0) / 1_048_576))
            if let store = s["store"] { print("store: \(store["message"]?.stringValue ?? "\(store)")") }
            for m in s["loadedModels"]?.arrayValue ?? [] {
                print(String(format: "loaded: %@@%@ (%@, %.1f MiB, %d in use)", m["name"]?.stringValue ?? "?",
                             m["version"]?.stringValue ?? "?", m["kind"]?.stringValue ?? "?",
                             Double(m["memoryBytes"]?.intValue ?? 0) / 1_048_576, m["inUse"]?.intValue ?? 0))
            }
            if let jobs = s["jobs"] {
                print("jobs: \(jobs["running"]?.intValue ?? 0) running (at most \(jobs["maxConcurrent"]?.intValue ?? 0))")
            }
        }
    }
}
