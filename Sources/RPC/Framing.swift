/// How JSON-RPC messages are delimited on one connection.
public enum Framing: String, Sendable {
    /// One JSON text per `\n`-terminated line (NDJSON); the default.
    case lines
    /// LSP base protocol: `Content-Length: N\r\n` (other headers allowed) `\r\n` then N bytes of JSON.
    case contentLength

    /// `body` wrapped for this framing, ready to write.
    public func frame(_ body: [UInt8]) -> [UInt8] {
        var out: [UInt8] = []
        frame(body, into: &out)
        return out
    }

    /// Appends `body`, wrapped for this framing, to `out` (avoids a copy when batching writes).
    public func frame(_ body: [UInt8], into out: inout [UInt8]) {
        switch self {
        case .lines:
            out.append(contentsOf: body)
            out.append(0x0A)
        case .contentLength:
            out.append(contentsOf: Array("Content-Length: \(body.count)\r\n\r\n".utf8))
            out.append(contentsOf: body)
        }
    }
}

/// Why the byte stream of a connection cannot be framed; the connection is answered -32700 and closed.
public enum FrameError: Error, CustomStringConvertible, Equatable {
    /// A message (line or declared Content-Length) is larger than the limit.
    case tooLarge(limitBytes: Int)
    /// An LSP header block is malformed or has no valid Content-Length.
    case badHeader(String)

    public var description: String {
        switch self {
        case .tooLarge(let n): return "message exceeds the maximum size of \(n) bytes; closing the connection"
        case .badHeader(let s): return "bad LSP header: \(s); closing the connection"
        }
    }
}

/// Splits one connection's incoming bytes into messages, detecting the framing from the first bytes.
///
/// The first non-whitespace byte decides: `C`/`c` (a `Content-Length` header) selects LSP framing, anything
/// else NDJSON. Bytes are buffered until a whole message is present; the buffer never grows past
/// `maxMessageBytes` plus one read without a message boundary (then `next()` throws `.tooLarge`).
public struct FrameDecoder {
    /// The framing once detected (nil until the first non-whitespace byte arrives).
    public private(set) var framing: Framing?
    /// Largest accepted message body in bytes.
    public let maxMessageBytes: Int

    private var buffer: [UInt8] = []
    private var start = 0          // first unconsumed byte
    private var scanned = 0        // bytes after `start` already searched for a boundary
    private var pendingBody: Int?  // LSP: body length once the header was read

    /// A decoder that refuses messages larger than `maxMessageBytes`.
    public init(maxMessageBytes: Int) {
        self.maxMessageBytes = maxMessageBytes
    }

    /// Bytes received but not yet returned as messages.
    public var bufferedBytes: Int { buffer.count - start }

    /// Appends received bytes.
    public mutating func append(_ bytes: UnsafeRawBufferPointer) {
        if start > 0 && start >= buffer.count / 2 {
            // Compact so the buffer does not grow without bound on a long-lived connection.
            buffer.removeSubrange(0..<start)
            start = 0
        }
        buffer.append(contentsOf: bytes)
    }

    /// The next complete message body, or nil if more bytes are needed.
    /// - Throws: `FrameError` when the stream cannot be framed; the connection must then be closed.
    public mutating func next() throws -> ArraySlice<UInt8>? {
        if framing == nil {
            while start < buffer.count, Self.isSpace(buffer[start]) { start += 1 }
            guard start < buffer.count else { return nil }
            framing = (buffer[start] == UInt8(ascii: "C") || buffer[start] == UInt8(ascii: "c")) ? .contentLength : .lines
        }
        switch framing! {
        case .lines: return try nextLine()
        case .contentLength: return try nextContentLength()
        }
    }

    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x0A || b == 0x0D || b == 0x09 }

    private mutating func nextLine() throws -> ArraySlice<UInt8>? {
        while true {
            let from = start + scanned
            guard let nl = buffer[from...].firstIndex(of: 0x0A) else {
                scanned = buffer.count - start
                if scanned > maxMessageBytes { throw FrameError.tooLarge(limitBytes: maxMessageBytes) }
                return nil
            }
            var end = nl
            if end > start && buffer[end - 1] == 0x0D { end -= 1 }  // tolerate CRLF line ends
            let line = buffer[start..<end]
            start = nl + 1
            scanned = 0
            if line.count > maxMessageBytes { throw FrameError.tooLarge(limitBytes: maxMessageBytes) }
            if line.allSatisfy(Self.isSpace) { continue }  // blank lines between messages are allowed
            return line
        }
    }

    private mutating func nextContentLength() throws -> ArraySlice<UInt8>? {
        if pendingBody == nil {
            // Find the blank line that ends the header block.
            let from = max(start, start + scanned - 3)
            var headerEnd: Int? = nil
            var i = from
            while i + 3 < buffer.count {
                if buffer[i] == 0x0D && buffer[i + 1] == 0x0A && buffer[i + 2] == 0x0D && buffer[i + 3] == 0x0A {
                    headerEnd = i
                    break
                }
                i += 1
            }
            guard let he = headerEnd else {
                scanned = buffer.count - start
                if scanned > 8192 { throw FrameError.badHeader("no blank line within 8192 header bytes") }
                return nil
            }
            let header = String(decoding: buffer[start..<he], as: UTF8.self)
            var length: Int? = nil
            for line in header.split(separator: "\r\n", omittingEmptySubsequences: true) {
                guard let colon = line.firstIndex(of: ":") else {
                    throw FrameError.badHeader("header line without ':' (\(line.prefix(80)))")
                }
                let name = line[..<colon].trimmingSpaces.lowercased()
                if name == "content-length" {
                    guard let n = Int(line[line.index(after: colon)...].trimmingSpaces), n >= 0 else {
                        throw FrameError.badHeader("Content-Length is not a non-negative integer")
                    }
                    length = n
                }
            }
            guard let n = length else { throw FrameError.badHeader("missing Content-Length") }
            if n > maxMessageBytes { throw FrameError.tooLarge(limitBytes: maxMessageBytes) }
            pendingBody = n
            start = he + 4
            scanned = 0
        }
        let n = pendingBody!
        guard buffer.count - start >= n else { return nil }
        let body = buffer[start..<(start + n)]
        start += n
        pendingBody = nil
        return body
    }
}

private extension Substring {
    var trimmingSpaces: Substring {
        var s = self
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return s
    }
}
