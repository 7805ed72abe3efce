import XCTest
@testable import RPC

final class FrameDecoderTests: XCTestCase {
    private func feed(_ d: inout FrameDecoder, _ s: String) {
        Array(s.utf8).withUnsafeBytes { d.append($0) }
    }

    private func all(_ d: inout FrameDecoder) throws -> [String] {
        var out: [String] = []
        while let f = try d.next() { out.append(String(decoding: f, as: UTF8.self)) }
        return out
    }

    func testLinesAcrossReadsWithBlankLinesAndCRLF() throws {
        var d = FrameDecoder(maxMessageBytes: 1024)
        feed(&d, "\n{\"a\":")
        XCTAssertEqual(try all(&d), [])
        XCTAssertEqual(d.framing, .lines)
        feed(&d, "1}\r\n\n{\"b\":2}\n{\"c\"")
        XCTAssertEqual(try all(&d), ["{\"a\":1}", "{\"b\":2}"])
        feed(&d, ":3}\n")
        XCTAssertEqual(try all(&d), ["{\"c\":3}"])
    }

    func testContentLengthFramingWithExtraHeaders() throws {
        var d = FrameDecoder(maxMessageBytes: 1024)
        let body = "{\"x\":\"é\"}"
        let n = body.utf8.count
        feed(&d, "Content-Length: \(n)\r\nContent-Type: application/vscode-jsonrpc; charset=utf-8\r\n\r\n\(body)Content-")
        XCTAssertEqual(d.framing, nil)  // detection happens in next()
        XCTAssertEqual(try all(&d), [body])
        XCTAssertEqual(d.framing, .contentLength)
        feed(&d, "Length: 2\r\n\r\n[")
        XCTAssertEqual(try all(&d), [])
        feed(&d, "]")
        XCTAssertEqual(try all(&d), ["[]"])
    }

    func testOversizedLineAndDeclaredLengthAreRefused() {
        var d = FrameDecoder(maxMessageBytes: 16)
        feed(&d, String(repeating: "x", count: 17))
        XCTAssertThrowsError(try d.next()) { XCTAssertEqual($0 as? FrameError, .tooLarge(limitBytes: 16)) }
        var l = FrameDecoder(maxMessageBytes: 16)
        feed(&l, "Content-Length: 17\r\n\r\n")
        XCTAssertThrowsError(try l.next()) { XCTAssertEqual($0 as? FrameError, .tooLarge(limitBytes: 16)) }
        var ok = FrameDecoder(maxMessageBytes: 16)
        feed(&ok, String(repeating: "y", count: 16) + "\n")
        XCTAssertEqual(try? ok.next().map { $0.count }, 16)
    }

    func testBadHeaderIsRefused() {
        var d = FrameDecoder(maxMessageBytes: 1024)
        feed(&d, "Content-Length: abc\r\n\r\n{}")
        XCTAssertThrowsError(try d.next())
        var m = FrameDecoder(maxMessageBytes: 1024)
        feed(&m, "Content-Type: x\r\n\r\n{}")
        XCTAssertThrowsError(try m.next())
    }

    func testFramingRoundTrip() throws {
        for framing in [Framing.lines, .contentLength] {
            var d = FrameDecoder(maxMessageBytes: 1 << 20)
            let msgs = ["{\"id\":1}", "[1,2,3]", "{\"s\":\"a\\nb\"}"]
            var bytes: [UInt8] = []
            for m in msgs { framing.frame(Array(m.utf8), into: &bytes) }
            // Deliver one byte at a time: every split point must work.
            var got: [String] = []
            for b in bytes {
                [b].withUnsafeBytes { d.append($0) }
                while let f = try d.next() { got.append(String(decoding: f, as: UTF8.self)) }
            }
            XCTAssertEqual(got, msgs, "\(framing)")
            XCTAssertEqual(d.framing, framing)
        }
    }
}
