import ArgumentParser
import Foundation
import RPC

/// `capillary jobs`: the daemon's background jobs (`jobs/list`), or `--cancel ID` (`jobs/cancel`).
struct JobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "List the daemon's jobs (train, dataset/generate), or cancel one.")

    @Option(help: "Cancel the job with this id (e.g. job-3).") var cancel: String?
    @Flag(help: "The daemon's result as one JSON line.") var json = false
    @OptionGroup var daemon: DaemonOptions

    func run() throws {
        try runClient {
            let connection = try daemon.connect()
            if let id = cancel {
                let row = try connection.call("jobs/cancel", ["id": .string(id)])
                if json { return printJSONLine(row) }
                print("cancelling \(id) (\(row["title"]?.stringValue ?? "?")); it stops at its next check")
                return
            }
            let r = try connection.call("jobs/list")
            if json { return printJSONLine(r) }
            let jobs = r["jobs"]?.arrayValue ?? []
            guard !jobs.isEmpty else { return print("no jobs") }
            for j in jobs {
                var line = (j["id"]?.stringValue ?? "?").padding(toLength: 8, withPad: " ", startingAt: 0)
                    + (j["state"]?.stringValue ?? "?").padding(toLength: 10, withPad: " ", startingAt: 0)
                    + String(format: "%3d%%  ", j["percentage"]?.intValue ?? 0) + (j["title"]?.stringValue ?? "")
                if let m = j["message"]?.stringValue { line += ": " + m }
                if let e = j["error"]?.stringValue { line += " (" + e + ")" }
                print(line)
            }
        }
    }
}
