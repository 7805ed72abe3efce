import XCTest
@testable import RPC
#if canImport(Glibc)
import Glibc
#endif

/// The real `capillaryd` binary: signals, socket ownership, refusals.
final class DaemonProcessTests: SocketTestCase {
    /// The capillaryd built next to this test bundle.
    static func daemonURL() throws -> URL {
        var candidates: [URL] = []
        candidates.append(Bundle.main.bundleURL.deletingLastPathComponent())
        candidates.append(Bundle(for: DaemonProcessTests.self).bundleURL.deletingLastPathComponent())
        candidates.append(URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent())
        for dir in candidates {
            let u = dir.appendingPathComponent("capillaryd")
            if FileManager.default.isExecutableFile(atPath: u.path) { return u }
        }
        throw XCTSkip("capillaryd not found next to the tests (looked in \(candidates.map(\.path)))")
    }

    final class Daemon {
        let process = Process()
        let stderr = Pipe()
        init(_ args: [String]) throws {
            process.executableURL = try DaemonProcessTests.daemonURL()
            process.arguments = args
            process.standardError = stderr
            process.standardOutput = FileHandle.nullDevice
            try process.run()
        }
        func waitExit(timeout: Double) -> Int32? {
            let deadline = ProcessStats.monotonicSeconds() + timeout
            while process.isRunning && ProcessStats.monotonicSeconds() < deadline { usleep(10_000) }
            return process.isRunning ? nil : process.terminationStatus
        }
        var log: String { String(decoding: stderr.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self) }
    }

    private func waitForSocket(_ path: String, timeout: Double = 10) -> Bool {
        let deadline = ProcessStats.monotonicSeconds() + timeout
        while ProcessStats.monotonicSeconds() < deadline {
            if (try? SocketPath.isLive(path)) == true { return true }
            usleep(20_000)
        }
        return false
    }

    func testSIGTERMExitsZeroAndRemovesTheSocketAndASecondDaemonRefuses() throws {
        let path = temporarySocketPath("d")
        let d = try Daemon(["--socket", path, "--log-level", "info", "--workers", "2"])
        defer { if d.process.isRunning { kill(d.process.processIdentifier, SIGKILL) } }
        XCTAssertTrue(waitForSocket(path), "daemon did not start listening")
        var st = stat()
        XCTAssertEqual(stat(path, &st), 0)
        XCTAssertEqual(st.st_mode & 0o777, 0o600, "socket must be 0600")
        // It serves.
        let c = try TestClient(path: path)
        try c.initialize()
        XCTAssertEqual(try c.call("ping", id: 1)["result"], .null)
        // A second daemon on the same live socket refuses, says why, and does not touch the socket.
        let second = try Daemon(["--socket", path])
        let rc2 = second.waitExit(timeout: 10)
        XCTAssertNotNil(rc2)
        XCTAssertNotEqual(rc2, 0)
        XCTAssertTrue(second.log.contains("already listening on \(path)"), second.log)
        XCTAssertEqual(try c.call("ping", id: 2)["result"], .null, "the first daemon keeps serving")
        // SIGTERM: exit 0, socket gone, the connected client sees EOF.
        kill(d.process.processIdentifier, SIGTERM)
        XCTAssertEqual(d.waitExit(timeout: 10), 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path), "SIGTERM must remove the socket")
        XCTAssertTrue(c.drainToEOF(timeout: 5).eof)
        XCTAssertTrue(d.log.contains("stopping"), d.log)
    }

    func testSIGINTAndStaleSocketIsReplaced() throws {
        let path = temporarySocketPath("stale")
        // A stale socket: bound, then its owner went away without unlinking it.
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { $0.copyBytes(from: Array(path.utf8)) }
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
        close(fd)
        XCTAssertTrue(FileManager.default.fileExists(atPath: path))
        XCTAssertFalse(try SocketPath.isLive(path))
        let d = try Daemon(["--socket", path])
        defer { if d.process.isRunning { kill(d.process.processIdentifier, SIGKILL) } }
        XCTAssertTrue(waitForSocket(path))
        kill(d.process.processIdentifier, SIGINT)
        XCTAssertEqual(d.waitExit(timeout: 10), 0)
        XCTAssertFalse(FileManager.default.fileExists(atPath: path))
    }

    func testRefusalsForBadPaths() throws {
        let long = "/tmp/" + String(repeating: "x", count: 120) + ".sock"
        let d = try Daemon(["--socket", long])
        XCTAssertEqual(d.waitExit(timeout: 10), 1)
        XCTAssertTrue(d.log.contains("longer than the 107 bytes"), d.log)
        // A regular file where the socket should be is never deleted.
        let path = temporarySocketPath("file")
        XCTAssertTrue(FileManager.default.createFile(atPath: path, contents: Data("keep me".utf8)))
        let e = try Daemon(["--socket", path])
        XCTAssertEqual(e.waitExit(timeout: 10), 1)
        XCTAssertTrue(e.log.contains("is not a socket"), e.log)
        XCTAssertEqual(try String(contentsOfFile: path, encoding: .utf8), "keep me")
        // A default-style directory that others may write to is refused (someone could have planted it).
        let shared = temporarySocketPath("shared")
        chmod((shared as NSString).deletingLastPathComponent, 0o777)
        XCTAssertThrowsError(try SocketPath.prepare(shared, requirePrivateDirectory: true)) { err in
            XCTAssertTrue("\(err)".contains("not be writable by others"), "\(err)")
        }
        XCTAssertNoThrow(try SocketPath.prepare(shared))  // an explicit --socket there is the user's choice
        // The library reports the same errors as values.
        XCTAssertThrowsError(try SocketPath.prepare(long)) { err in
            guard case RPCServerError.socketPathTooLong(_, let n, 107) = err else { return XCTFail("\(err)") }
            XCTAssertEqual(n, long.utf8.count)
        }
    }
}
