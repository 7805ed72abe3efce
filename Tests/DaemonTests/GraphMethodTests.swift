import Foundation
import XCTest
@testable import Daemon
import Retina
import RPC

/// `graph` through a real socket: synthetic, base64 and path images, and every bad-image error.
final class GraphMethodTests: XCTestCase {
    var h: DaemonHarness!
    override func setUpWithError() throws { h = try DaemonHarness("graph") }
    override func tearDown() { h?.stop() }

    func testGraphOfSyntheticImageHasNodesBiomarkersAndTimings() throws {
        let c = try h.client()
        let r = try c.exchange("graph", id: 1, params: ["image": ["synthetic": ["seed": 3, "stage": "npdr", "sizePX": 160]]])
        let res = try XCTUnwrap(r.result, "\(r.response)")
        XCTAssertEqual(res["image"]?["source"], "synthetic")
        XCTAssertEqual(res["image"]?["syntheticStage"], "npdr")
        XCTAssertEqual(res["image"]?["widthPX"], 160)
        XCTAssertEqual(res["image"]?["fovMM"]?.doubleValue ?? 0, 3, accuracy: 1e-9)
        XCTAssertGreaterThan(res["summary"]?["vesselNodes"]?.intValue ?? 0, 10)
        let perfusion = try XCTUnwrap(res["biomarkers"]?["perfusion_density"]?.doubleValue)
        XCTAssert(perfusion > 0.05 && perfusion < 0.9, "perfusion \(perfusion)")
        XCTAssertGreaterThan(res["timings"]?["graphMS"]?.doubleValue ?? 0, 0)
        XCTAssertNil(res["graph"], "the graph JSON is only sent on request")
        // Same seed and stage: the same image, so the same graph.
        let again = try c.exchange("graph", id: 2, params: ["image": ["synthetic": ["seed": 3, "stage": "npdr", "sizePX": 160]]])
        XCTAssertEqual(again.result?["summary"], res["summary"])
        XCTAssertEqual(again.result?["biomarkers"], res["biomarkers"])
    }

    func testGraphOfBase64PNGMatchesTheSameFileByPathAndIncludesGraphJSON() throws {
        let png = try syntheticPNG(seed: 11, severity: 0.8)
        let path = h.root + "/eye.png"
        try png.write(to: URL(fileURLWithPath: path))
        let c = try h.client()
        let a = try c.exchange("graph", id: 1, params: ["image": ["png_base64": .string(png.base64EncodedString())],
                                                        "includeGraph": true])
        let b = try c.exchange("graph", id: 2, params: ["image": ["path": .string(path)]])
        let ra = try XCTUnwrap(a.result, "\(a.response)"), rb = try XCTUnwrap(b.result, "\(b.response)")
        XCTAssertEqual(ra["image"]?["source"], "png_base64")
        XCTAssertEqual(rb["image"]?["source"], "path")
        XCTAssertEqual(ra["biomarkers"], rb["biomarkers"])
        XCTAssertEqual(ra["summary"], rb["summary"])
        // The included graph agrees with the summary and has the documented layout.
        let g = try XCTUnwrap(ra["graph"])
        XCTAssertEqual(g["vessel"]?["count"], ra["summary"]?["vesselNodes"])
        XCTAssertEqual(g["width_px"], 160)
        XCTAssertNotNil(g["relations"]?.arrayValue)
        // fovMM changes the pixel size.
        let f = try c.exchange("graph", id: 3, params: ["image": ["path": .string(path), "fovMM": 6]])
        XCTAssertEqual(f.result?["image"]?["pixelSizeMM"]?.doubleValue ?? 0, 6.0 / 160, accuracy: 1e-12)
    }

    func testBadImagesAreInvalidParamsWithTheReason() throws {
        let c = try h.client()
        let corrupt = h.root + "/corrupt.png"
        var bytes = [UInt8](try syntheticPNG(seed: 1, severity: 0.1, sizePX: 64))
        bytes = Array(bytes.prefix(60))  // header intact, data cut off
        try Data(bytes).write(to: URL(fileURLWithPath: corrupt))
        let text = h.root + "/notes.txt"
        try Data("hello".utf8).write(to: URL(fileURLWithPath: text))
        // A PNG header announcing 5000 x 5000 px: refused from the header, nothing decoded.
        var huge: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A, 0, 0, 0, 13, 0x49, 0x48, 0x44, 0x52]
        huge += [0, 0, 0x13, 0x88, 0, 0, 0x13, 0x88, 8, 0, 0, 0, 0]
        let cases: [(JSONValue, String)] = [
            ([:], "missing required field 'image'"),
            (["image": ["path": "/nonexistent/eye.png"]], "no such file"),
            (["image": ["path": "relative.png"]], "must be absolute"),
            (["image": ["path": .string(corrupt)]], "corrupt"),
            (["image": ["path": .string(text)]], "not a PNG or BMP"),
            (["image": ["png_base64": "%%%not base64%%%"]], "not valid base64"),
            (["image": ["png_base64": .string(Data(huge).base64EncodedString())]], "at most 4096 px"),
            (["image": ["synthetic": ["seed": 1, "stage": "mild"]]], "'synthetic.stage' must be one of"),
            (["image": ["synthetic": ["seed": 1]]], "needs 'stage'"),
            (["image": ["synthetic": ["seed": 1, "severity": 2]]], "in [0, 1]"),
            (["image": ["path": "/x.png", "png_base64": "aaaa"]], "only one of"),
            (["image": ["path": "/x.png", "fovMM": -3]], "'fovMM'"),
            (["image": 42], "must be an object"),
        ]
        for (i, (params, expected)) in cases.enumerated() {
            let r = try c.exchange("graph", id: 10 + i, params: params)
            XCTAssertEqual(r.error?["code"], .int(-32602), "\(params): \(r.response)")
            let data = r.error?["data"]?.stringValue ?? ""
            XCTAssert(data.contains(expected), "\(params): expected '\(expected)' in '\(data)'")
        }
        // The daemon is still fine afterwards.
        XCTAssertEqual(try c.call("ping", id: 99)["result"], .null)
    }
}
