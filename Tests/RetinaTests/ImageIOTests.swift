import Foundation
import XCTest
@testable import Retina

final class ImageIOTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = FileManager.default.temporaryDirectory.appendingPathComponent("capillary-io-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(at: dir)
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func testGrayPNGRoundTripsEveryLevelExactly() throws {
        let w = 37, h = 11
        let bytes = (0..<(w * h)).map { UInt8(($0 * 7) % 256) }
        let img = GrayImage(width: w, height: h, pixelSizeMM: 0.01, bytes: bytes)
        try ImageIO.writePNG(img, to: path("a.png"))
        let back = try ImageIO.read(path: path("a.png"), pixelSizeMM: 0.01)
        XCTAssertEqual(back.width, w)
        XCTAssertEqual(back.height, h)
        XCTAssertEqual(back.bytes(), bytes)
    }

    func testReadsEightBitGrayWrittenByIndependentEncoder() throws {
        let rows: [[UInt8]] = [[0, 64, 128], [255, 10, 200]]
        let data = PNGFixture.encode(width: 3, height: 2, bitDepth: 8, colorType: 0, rows: rows)
        let img = try ImageIO.decode(data, name: "fixture")
        XCTAssertEqual(img.bytes(), rows.flatMap { $0 })
    }

    func testReadsSixteenBitGrayWithoutGammaChange() throws {
        // Big-endian 16-bit samples: 0, 1000, 32768, 65535.
        let values: [UInt16] = [0, 1000, 32768, 65535]
        let row = values.flatMap { [UInt8($0 >> 8), UInt8($0 & 0xFF)] }
        let data = PNGFixture.encode(width: 4, height: 1, bitDepth: 16, colorType: 0, rows: [row])
        let img = try ImageIO.decode(data, name: "fixture16")
        for (i, v) in values.enumerated() {
            XCTAssertEqual(img.pixels[i], Float(v) / 65535, accuracy: 1e-6, "sample \(i)")
        }
    }

    func testReadsPaletteAndRGBAsLuminance() throws {
        let pal: [(UInt8, UInt8, UInt8)] = [(0, 0, 0), (255, 255, 255), (90, 90, 90)]
        let p = PNGFixture.encode(width: 3, height: 1, bitDepth: 8, colorType: 3, rows: [[0, 1, 2]], palette: pal)
        XCTAssertEqual(try ImageIO.decode(p, name: "pal").bytes(), [0, 255, 90])
        // Gray RGB triples must stay exactly gray; pure colours land on distinct luminances.
        let rgb = PNGFixture.encode(width: 3, height: 1, bitDepth: 8, colorType: 2,
                                    rows: [[77, 77, 77, 255, 0, 0, 0, 0, 255]])
        let g = try ImageIO.decode(rgb, name: "rgb")
        XCTAssertEqual(g.bytes()[0], 77)
        XCTAssertGreaterThan(g.pixels[1], g.pixels[2], "red is brighter than blue in luminance")
    }

    func testReadsBMPInAllSupportedDepthsAndOrientations() throws {
        let w = 5, h = 3  // odd width exercises row padding
        let f: (Int, Int) -> (UInt8, UInt8, UInt8) = { x, y in let v = UInt8(x * 40 + y * 5); return (v, v, v) }
        let expected = (0..<h).flatMap { y in (0..<w).map { x in UInt8(x * 40 + y * 5) } }
        for bpp in [8, 24, 32] {
            for topDown in [false, true] {
                let d = PNGFixture.bmp(width: w, height: h, bpp: bpp, pixel: f, topDown: topDown)
                XCTAssertEqual(try ImageIO.decode(d, name: "b").bytes(), expected, "bpp \(bpp) topDown \(topDown)")
            }
        }
        // A non-identity palette is honoured.
        let inv = PNGFixture.bmp(width: w, height: h, bpp: 8, pixel: f, grayPalette: false)
        XCTAssertEqual(try ImageIO.decode(inv, name: "inv").bytes(), expected)
    }

    func testFieldOfViewDefaultsFromWidth() throws {
        let a = PNGFixture.encode(width: 304, height: 1, bitDepth: 8, colorType: 0, rows: [[UInt8](repeating: 0, count: 304)])
        XCTAssertEqual(try ImageIO.decode(a, name: "a").fieldOfViewMM.width, 3, accuracy: 1e-9)
        let b = PNGFixture.bmp(width: 400, height: 2, bpp: 8, pixel: { _, _ in (1, 1, 1) })
        XCTAssertEqual(try ImageIO.decode(b, name: "b").pixelSizeMM, 0.015, accuracy: 1e-12)
    }

    func testBadInputGivesTypedErrorsNamingTheFile() throws {
        XCTAssertThrowsError(try ImageIO.read(path: path("missing.png"))) { e in
            XCTAssertEqual(e as? ImageIOError, .fileNotFound(path: path("missing.png")))
        }
        XCTAssertThrowsError(try ImageIO.decode(Data("hello world".utf8), name: "t.txt")) { e in
            XCTAssertEqual(e as? ImageIOError, .unknownFormat(path: "t.txt"))
        }
        // Truncated PNG: every prefix that cuts into the header or the pixel data fails cleanly. (A file cut
        // only in its final 12-byte IEND chunk still holds every pixel, and libpng reads it, as other viewers do.)
        let good = PNGFixture.encode(width: 8, height: 8, bitDepth: 8, colorType: 0,
                                     rows: [[UInt8]](repeating: [UInt8](repeating: 9, count: 8), count: 8))
        for n in 0..<(good.count - 12) {
            XCTAssertThrowsError(try ImageIO.decode(good.prefix(n), name: "cut.png"), "prefix \(n)")
        }
        // Corrupt CRC in IDAT.
        var bad = [UInt8](good); bad[bad.count - 20] ^= 0xFF
        XCTAssertThrowsError(try ImageIO.decode(Data(bad), name: "crc.png"))
        // Zero and oversized dimensions.
        let zero = PNGFixture.encode(width: 0, height: 5, bitDepth: 8, colorType: 0, rows: [])
        XCTAssertThrowsError(try ImageIO.decode(zero, name: "zero.png"))
        let huge = PNGFixture.encode(width: 9000, height: 1, bitDepth: 8, colorType: 0, rows: [])
        XCTAssertThrowsError(try ImageIO.decode(huge, name: "huge.png")) { e in
            XCTAssertEqual(e as? ImageIOError, .badDimensions(path: "huge.png", width: 9000, height: 1))
        }
        // Truncated BMP pixel data and unsupported depth.
        let bmp = PNGFixture.bmp(width: 4, height: 4, bpp: 8, pixel: { _, _ in (3, 3, 3) })
        XCTAssertThrowsError(try ImageIO.decode(bmp.prefix(bmp.count - 1), name: "cut.bmp")) { e in
            guard case .corrupt(let p, _) = e as? ImageIOError else { return XCTFail("\(e)") }
            XCTAssertEqual(p, "cut.bmp")
        }
        var b16 = [UInt8](bmp); b16[28] = 16
        XCTAssertThrowsError(try ImageIO.decode(Data(b16), name: "16.bmp")) { e in
            guard case .unsupported = e as? ImageIOError else { return XCTFail("\(e)") }
        }
        var hugeBMP = [UInt8](bmp); hugeBMP[18] = 0; hugeBMP[19] = 0; hugeBMP[20] = 1  // width 65536
        XCTAssertThrowsError(try ImageIO.decode(Data(hugeBMP), name: "wide.bmp"))
    }

    func testMaskAndRGBWrite() throws {
        var m = BinaryMask(width: 4, height: 4)
        m[1, 2] = true; m[3, 3] = true
        try ImageIO.writePNG(m, to: path("m.png"))
        XCTAssertEqual(try ImageIO.readMask(path: path("m.png")), m)
        XCTAssertEqual(m.dice(m), 1)
        XCTAssertEqual(m.dice(BinaryMask(width: 4, height: 4)), 0)
        var pic = RGBImage(width: 2, height: 1, fill: (255, 0, 0))
        pic.plot(1, 0, (0, 0, 255))
        pic.plot(5, 5, (0, 255, 0))  // outside: ignored
        try ImageIO.writePNG(pic, to: path("rgb.png"))
        let gray = try ImageIO.read(path: path("rgb.png"))
        XCTAssertGreaterThan(gray.pixels[0], gray.pixels[1])
    }

    func testRealOCTA500ProjectionReadsWhenPresent() throws {
        let real = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../../shared/real-octa/octa500-6mm/ILM_OPL_10001.bmp").standardized.path
        guard FileManager.default.fileExists(atPath: real) else { throw XCTSkip("shared/real-octa not present") }
        let img = try ImageIO.read(path: real)
        XCTAssertEqual(img.width, 400)
        XCTAssertEqual(img.height, 400)
        XCTAssertEqual(img.fieldOfViewMM.width, 6, accuracy: 1e-9)
        let mean = img.pixels.reduce(0, +) / Float(img.pixels.count)
        XCTAssertGreaterThan(mean, 0.05)
        XCTAssertLessThan(mean, 0.95)
    }
}
