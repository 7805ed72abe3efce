import Foundation
@testable import RPC
#if canImport(Glibc)
import Glibc
#endif

/// Why a test client operation failed.
enum TestClientError: Error, CustomStringConvertible {
    case connect(String, Int32)
    case timeout(String)
    case closed
    case io(Int32)

    var description: String {
        switch self {
        case let .connect(p, e): return "connect \(p): \(String(cString: strerror(e)))"
        case .timeout(let what): return "timed out waiting for \(what)"
        case .closed: return "server closed the connection"
        case .io(let e): return "socket error: \(String(cString: strerror(e)))"
        }
    }
}

/// A blocking Unix-socket JSON-RPC client over a real socket, speaking either framing.
final class TestClient {
    let fd: Int32
    let framing: Framing
    private var buffer: [UInt8] = []
    private var start = 0
    private(set) var sawEOF = false

    init(path: String, framing: Framing = .lines) throws {
        self.framing = framing
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in raw.copyBytes(from: Array(path.utf8).prefix(raw.count - 1)) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 {
            let e = errno
            Glibc.close(fd)
            throw TestClientError.connect(path, e)
        }
    }

    deinit { Glibc.close(fd) }

    /// Closes the socket now (the server sees EOF).
    func closeNow() { shutdown(fd, Int32(SHUT_RDWR)) }

    /// Sends raw bytes (no framing).
    func sendRaw(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw TestClientError.io(errno)
            }
            off += n
        }
    }

    /// Sends one JSON text, framed.
    func send(_ json: String) throws { try sendRaw(framing.frame(Array(json.utf8))) }

    /// Sends a JSON value, framed.
    func send(_ value: JSONValue) throws { try sendRaw(framing.frame(try JSONCodec.encode(value))) }

    /// Sends a request and returns the next message (tests that interleave nothing else).
    func call(_ method: String, id: Int = 1, params: JSONValue? = nil, timeout: Double = 5) throws -> JSONValue {
        var o: JSONObject = ["jsonrpc": "2.0", "id": .int(Int64(id)), "method": .string(method)]
        if let params { o["params"] = params }
        try send(.object(o))
        return try read(timeout: timeout)
    }

    /// Sends `initialize` and checks it succeeded.
    @discardableResult
    func initialize() throws -> JSONValue {
        let r = try call("initialize", id: 0, params: ["clientInfo": ["name": "test"]])
        guard r["result"] != nil else { throw TestClientError.timeout("initialize result, got \(r)") }
        return r
    }

    /// Waits up to `timeout` seconds for readable bytes; false on timeout.
    private func fill(timeout: Double) throws -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let rc = poll(&p, 1, Int32(timeout * 1000))
        if rc == 0 { return false }
        if rc < 0 { if errno == EINTR { return true }; throw TestClientError.io(errno) }
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { sawEOF = true; throw TestClientError.closed }
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { return true }
            if errno == ECONNRESET { sawEOF = true; throw TestClientError.closed }
            throw TestClientError.io(errno)
        }
        if start > 0 && start * 2 > buffer.count { buffer.removeSubrange(0..<start); start = 0 }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    /// The next message body (framing removed) as raw bytes.
    func readBody(timeout: Double = 5) throws -> [UInt8] {
        let deadline = ProcessStats.monotonicSeconds() + timeout
        while true {
            switch framing {
            case .lines:
                if let nl = buffer[start...].firstIndex(of: 0x0A) {
                    let line = Array(buffer[start..<nl])
                    start = nl + 1
                    return line
                }
            case .contentLength:
                if let sep = findHeaderEnd() {
                    let header = String(decoding: buffer[start..<sep], as: UTF8.self)
                    let n = Int(header.split(separator: ":")[1].trimmingCharacters(in: .whitespaces))!
                    if buffer.count - (sep + 4) >= n {
                        let body = Array(buffer[(sep + 4)..<(sep + 4 + n)])
                        start = sep + 4 + n
                        return body
                    }
                }
            }
            let left = deadline - ProcessStats.monotonicSeconds()
            if left <= 0 { throw TestClientError.timeout("a message") }
            _ = try fill(timeout: left)
        }
    }

    private func findHeaderEnd() -> Int? {
        var i = start
        while i + 3 < buffer.count {
            if buffer[i] == 13 && buffer[i + 1] == 10 && buffer[i + 2] == 13 && buffer[i + 3] == 10 { return i }
            i += 1
        }
        return nil
    }

    /// The next message, parsed.
    func read(timeout: Double = 5) throws -> JSONValue { try JSONCodec.decode(try readBody(timeout: timeout)) }

    /// True if no message arrives within `seconds`.
    func expectSilence(_ seconds: Double) throws -> Bool {
        do {
            _ = try readBody(timeout: seconds)
            return false
        } catch TestClientError.timeout {
            return true
        }
    }

    /// Reads until EOF (discarding data) or timeout; returns the bytes read and whether EOF came.
    func drainToEOF(timeout: Double) -> (bytes: Int, eof: Bool) {
        let deadline = ProcessStats.monotonicSeconds() + timeout
        var total = buffer.count - start
        buffer = []
        start = 0
        while ProcessStats.monotonicSeconds() < deadline {
            do {
                if try fill(timeout: deadline - ProcessStats.monotonicSeconds()) {
                    total += buffer.count
                    buffer = []
                    start = 0
                }
            } catch {
                return (total, sawEOF)
            }
        }
        return (total, false)
    }
}

/// A short, unique socket path in a fresh private directory.
func temporarySocketPath(_ tag: String) -> String {
    let dir = "/tmp/capt-\(getpid())-\(tag)-\(UInt32.random(in: 0..<UInt32.max))"
    mkdir(dir, 0o700)
    return dir + "/s.sock"
}
