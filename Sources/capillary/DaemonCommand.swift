import ArgumentParser
import Foundation
import RPC
#if canImport(Glibc)
import Glibc
#endif

/// `capillary daemon start|stop`: runs capillaryd in the background (its own session, log in a file, pid
/// next to the socket) and stops it again with SIGTERM.
struct DaemonCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "daemon",
        abstract: "Start or stop capillaryd in the background.",
        subcommands: [DaemonStartCommand.self, DaemonStopCommand.self])
}

/// Where `daemon start` keeps the pid of the daemon it started: next to the socket (a private folder).
func daemonPIDFile(_ socket: String) -> String { socket + ".pid" }

/// `capillary daemon start`: starts capillaryd detached and waits until it accepts connections.
struct DaemonStartCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "start",
        abstract: "Start capillaryd in the background and wait until it accepts connections.",
        discussion: "Already running on the socket: says so and exits 0. The daemon's log goes to --log (default SOCKET.log).")

    @OptionGroup var daemon: DaemonOptions
    @Option(help: "Model store folder (default: capillaryd's: $CAPILLARY_STORE or ~/.capillary/store).") var store: String?
    @Option(help: "Log file (default: the socket path + .log).") var log: String?
    @Option(name: .customLong("log-level"), help: "capillaryd's --log-level.") var logLevel = "info"
    @Option(help: "capillaryd's --workers.") var workers: Int?
    @Option(help: "The capillaryd binary (default: next to this capillary, else on PATH).") var executable: String?
    @Option(help: "capillaryd's --trace FILE (every message received and sent, for protocol tests).") var trace: String?
    @Option(help: "Seconds to wait for the socket.") var timeout: Double = 20

    func run() throws {
        try runClient {
            let socket = daemon.socketPath
            if (try? SocketPath.isLive(socket)) == true {
                return print("capillaryd is already running on \(socket)")
            }
            let binary = try executable ?? Self.findDaemonBinary()
            var args = [binary, "--socket", socket, "--log-level", logLevel]
            if let store { args += ["--store", URL(fileURLWithPath: store).standardizedFileURL.path] }
            if let workers { args += ["--workers", String(workers)] }
            if let trace { args += ["--trace", URL(fileURLWithPath: trace).standardizedFileURL.path] }
            // The socket's folder is created by capillaryd; the log and pid go there too, so make it first.
            let dir = (socket as NSString).deletingLastPathComponent
            if !dir.isEmpty { mkdir(dir, 0o700) }
            let logPath = log ?? socket + ".log"
            let pid = try Self.spawnDetached(args, log: logPath)
            let deadline = Date(timeIntervalSinceNow: timeout)
            while Date() < deadline {
                if (try? SocketPath.isLive(socket)) == true {
                    try? "\(pid)\n".write(toFile: daemonPIDFile(socket), atomically: true, encoding: .utf8)
                    return print("capillaryd \(pid) is running on \(socket) (log \(logPath))")
                }
                var status: Int32 = 0
                if waitpid(pid, &status, WNOHANG) == pid {
                    let tail = (try? String(contentsOfFile: logPath, encoding: .utf8))?.split(separator: "\n").suffix(5)
                        .joined(separator: "\n") ?? ""
                    throw DaemonClientError.connection("capillaryd exited at start-up (status \(status)); its log \(logPath) ends:\n\(tail)")
                }
                usleep(50_000)
            }
            throw DaemonClientError.connection("capillaryd \(pid) did not open \(socket) within \(timeout) s (log \(logPath))")
        }
    }

    /// capillaryd next to the running capillary (both are built into the same folder), else on PATH.
    static func findDaemonBinary() throws -> String {
        let me = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        let sibling = ((me as NSString).deletingLastPathComponent as NSString).appendingPathComponent("capillaryd")
        if FileManager.default.isExecutableFile(atPath: sibling) { return sibling }
        for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":") {
            let p = (String(dir) as NSString).appendingPathComponent("capillaryd")
            if FileManager.default.isExecutableFile(atPath: p) { return p }
        }
        throw ValidationError("capillaryd not found next to \(me) or on PATH; pass --executable")
    }

    /// Starts `args` in a new session (so the terminal's Ctrl-C and hang-up do not reach it), stdin from
    /// /dev/null, stdout and stderr appended to `log`.
    static func spawnDetached(_ args: [String], log: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // POSIX_SPAWN_SETSID (glibc >= 2.26); Glibc's Swift module hides it behind _GNU_SOURCE.
        let spawnSetSID: Int16 = 0x80
        posix_spawnattr_setflags(&attr, spawnSetSID)
        var pid: pid_t = 0
        let cargs = args.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        let rc = posix_spawn(&pid, args[0], &actions, &attr, cargs, environ)
        guard rc == 0 else { throw DaemonClientError.connection("cannot start \(args[0]): \(String(cString: strerror(rc)))") }
        return pid
    }
}

/// `capillary daemon stop`: SIGTERM to the daemon `daemon start` started (it finishes replies, removes
/// its socket and exits), then waits for the socket to go away.
struct DaemonStopCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stop",
        abstract: "Stop the capillaryd that `capillary daemon start` started on the socket.")

    @OptionGroup var daemon: DaemonOptions
    @Option(help: "Seconds to wait for it to exit.") var timeout: Double = 15

    func run() throws {
        try runClient {
            let socket = daemon.socketPath
            let pidFile = daemonPIDFile(socket)
            guard (try? SocketPath.isLive(socket)) == true else {
                try? FileManager.default.removeItem(atPath: pidFile)
                throw DaemonClientError.noDaemon(path: socket, reason: "nothing accepts connections")
            }
            guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8),
                  let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)), pid > 0 else {
                throw DaemonClientError.connection("\(pidFile) is missing: this daemon was not started by `capillary daemon start`; stop it with kill or Ctrl-C where it runs")
            }
            guard kill(pid, SIGTERM) == 0 else {
                throw DaemonClientError.connection("cannot signal capillaryd \(pid): \(String(cString: strerror(errno)))")
            }
            let deadline = Date(timeIntervalSinceNow: timeout)
            while Date() < deadline {
                if kill(pid, 0) != 0 && (try? SocketPath.isLive(socket)) != true {
                    try? FileManager.default.removeItem(atPath: pidFile)
                    return print("capillaryd \(pid) stopped")
                }
                usleep(50_000)
            }
            throw DaemonClientError.connection("capillaryd \(pid) is still running after \(timeout) s")
        }
    }
}
