import ArgumentParser
import Foundation
import RPC
#if canImport(Glibc)
import Glibc
#endif

/// A capillaryd child process for the benchmark commands (bench-rpc, bench-daemon): started on a socket, and
/// handed back only once that socket accepts connections.
enum DaemonProcess {
    /// Starts `exe --socket socketPath` plus `arguments` and waits up to `timeoutSeconds` for it to listen.
    /// - Throws: `ValidationError` naming the socket when the daemon exits first or does not listen in time.
    static func start(_ exe: String, socketPath: String, arguments: [String], timeoutSeconds: Double) throws -> Process {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: exe)
        p.arguments = ["--socket", socketPath] + arguments
        try p.run()
        let deadline = ProcessStats.monotonicSeconds() + timeoutSeconds
        while (try? SocketPath.isLive(socketPath)) != true {
            guard p.isRunning, ProcessStats.monotonicSeconds() < deadline else {
                throw ValidationError("capillaryd did not start listening on \(socketPath)")
            }
            usleep(20_000)
        }
        return p
    }

    /// SIGTERM (the daemon removes its socket and exits 0), then waits for the exit.
    static func stop(_ p: Process) {
        kill(p.processIdentifier, SIGTERM)
        p.waitUntilExit()
    }
}
