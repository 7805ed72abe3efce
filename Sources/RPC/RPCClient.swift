import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Why a client operation failed.
public enum RPCClientError: Error, CustomStringConvertible {
    /// Could not connect to the socket (path, errno).
    case connect(String, Int32)
    /// Nothing (or not enough) arrived in time; says what was awaited.
    case timeout(String)
    /// The server closed the connection.
    case closed
    /// A socket call failed (errno).
    case io(Int32)
    /// The server sent something that is not a valid message.
    case protocolViolation(String)

    public var description: String {
        switch self {
        case let .connect(p, e): return "connect \(p): \(String(cString: strerror(e)))"
        case .timeout(let what): return "timed out waiting for \(what)"
        case .closed: return "server closed the connection"
        case .io(let e): return "socket error: \(String(cString: strerror(e)))"
        case .protocolViolation(let s): return "bad message from the server: \(s)"
        }
    }
}

/// A small blocking JSON-RPC client for a Unix socket, speaking either framing (for the CLI, benchmarks
/// and tests; one thread at a time per client).
public final class RPCClient {
    /// The socket descriptor.
    public let fd: Int32
    /// The framing used to send and to read replies.
    public let framing: Framing
    private var buffer: [UInt8] = []
    private var start = 0
    private let chunk = UnsafeMutableRawPointer.allocate(byteCount: 65536, alignment: 16)
    /// True once the server closed the connection.
    public private(set) var sawEOF = false

    /// Connects to the socket at `path`.
    /// - Throws: `RPCClientError.connect` with the errno (no daemon, permissions, ...).
    public init(path: String, framing: Framing = .lines) throws {
        self.framing = framing
        fd = try Self.connectedSocket(path)
    }

    private static func connectedSocket(_ path: String) throws -> Int32 {
        guard path.utf8.count <= SocketPath.maxBytes else { throw RPCClientError.connect(path, ENAMETOOLONG) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RPCClientError.connect(path, errno) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in raw.copyBytes(from: Array(path.utf8).prefix(raw.count - 1)) }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if rc != 0 {
            let e = errno
            Glibc.close(fd)
            throw RPCClientError.connect(path, e)
        }
        return fd
    }

    deinit {
        Glibc.close(fd)
        chunk.deallocate()
    }

    /// Closes the socket now (the server sees EOF).
    public func closeNow() { shutdown(fd, Int32(SHUT_RDWR)) }

    /// Sends raw bytes (no framing).
    public func sendRaw(_ bytes: [UInt8]) throws {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 {
                if errno == EINTR { continue }
                throw RPCClientError.io(errno)
            }
            off += n
        }
    }

    /// Sends one JSON text, framed.
    public func send(_ json: String) throws { try sendRaw(framing.frame(Array(json.utf8))) }

    /// Sends a JSON value, framed.
    public func send(_ value: JSONValue) throws { try sendRaw(framing.frame(try JSONCodec.encode(value))) }

    /// Sends a request and returns the next message (for callers that interleave nothing else).
    public func call(_ method: String, id: Int = 1, params: JSONValue? = nil, timeout: Double = 5) throws -> JSONValue {
        var o: JSONObject = ["jsonrpc": "2.0", "id": .int(Int64(id)), "method": .string(method)]
        if let params { o["params"] = params }
        try send(.object(o))
        return try read(timeout: timeout)
    }

    /// Sends `initialize` (id 0) and returns the reply.
    /// - Throws: `RPCClientError.protocolViolation` if the reply is an error.
    @discardableResult
    public func initialize() throws -> JSONValue {
        let r = try call("initialize", id: 0, params: ["clientInfo": ["name": "test"]])
        guard r["result"] != nil else { throw RPCClientError.protocolViolation("initialize failed: \(r)") }
        return r
    }

    /// Waits up to `timeout` seconds for readable bytes; false on timeout.
    private func fill(timeout: Double) throws -> Bool {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let rc = poll(&p, 1, Int32(timeout * 1000))
        if rc == 0 { return false }
        if rc < 0 { if errno == EINTR { return true }; throw RPCClientError.io(errno) }
        let n = recv(fd, chunk, 65536, 0)
        if n == 0 { sawEOF = true; throw RPCClientError.closed }
        if n < 0 {
            if errno == EINTR || errno == EAGAIN { return true }
            if errno == ECONNRESET { sawEOF = true; throw RPCClientError.closed }
            throw RPCClientError.io(errno)
        }
        if start > 0 && start * 2 > buffer.count { buffer.removeSubrange(0..<start); start = 0 }
        buffer.append(contentsOf: UnsafeRawBufferPointer(start: chunk, count: n))
        return true
    }

    /// The next message body (framing removed) as raw bytes.
    public func readBody(timeout: Double = 5) throws -> [UInt8] {
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
                    guard let colon = header.firstIndex(of: ":"),
                          let n = Int(header[header.index(after: colon)...].trimmingCharacters(in: .whitespaces)) else {
                        throw RPCClientError.protocolViolation("bad header \(header.prefix(80))")
                    }
                    if buffer.count - (sep + 4) >= n {
                        let body = Array(buffer[(sep + 4)..<(sep + 4 + n)])
                        start = sep + 4 + n
                        return body
                    }
                }
            }
            let left = deadline - ProcessStats.monotonicSeconds()
            if left <= 0 { throw RPCClientError.timeout("a message") }
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
    public func read(timeout: Double = 5) throws -> JSONValue { try JSONCodec.decode(try readBody(timeout: timeout)) }

    /// True if no message arrives within `seconds`.
    public func expectSilence(_ seconds: Double) throws -> Bool {
        do {
            _ = try readBody(timeout: seconds)
            return false
        } catch RPCClientError.timeout {
            return true
        }
    }

    /// Reads until EOF (discarding data) or timeout; returns the bytes read and whether EOF came.
    public func drainToEOF(timeout: Double) -> (bytes: Int, eof: Bool) {
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

