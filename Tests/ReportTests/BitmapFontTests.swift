import XCTest
@testable import Report

final class BitmapFontTests: XCTestCase {
    /// Ink pixels of a canvas (anything not white).
    func inkCount(_ c: Canvas) -> Int {
        var n = 0
        for y in 0..<c.height { for x in 0..<c.width where c.pixel(x, y) != .white { n += 1 } }
        return n
    }

    func testCapitalIAndDigitOneHaveTheirExactBitmaps() {
        XCTAssertEqual(BitmapFont.rows(of: "I"), [0b01110, 0b00100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0])
        XCTAssertEqual(BitmapFont.rows(of: "1"), [0b00100, 0b01100, 0b00100, 0b00100, 0b00100, 0b00100, 0b01110, 0])
        // A descender glyph uses the eighth row.
        XCTAssertEqual(BitmapFont.rows(of: "g").last, 0b01110)
    }

    func testDrawnGlyphMatchesItsBitmapPixelForPixelAtScale1() {
        var c = Canvas(width: 12, height: 12)
        c.text("A", x: 3, y: 2, scale: 1, .black)
        let rows = BitmapFont.rows(of: "A")
        for y in 0..<12 {
            for x in 0..<12 {
                let (u, v) = (x - 3, y - 2)
                let inGlyph = u >= 0 && u < 5 && v >= 0 && v < 8 && rows[v] & (1 << (4 - u)) != 0
                XCTAssertEqual(c.pixel(x, y), inGlyph ? .black : .white, "pixel (\(x), \(y))")
            }
        }
    }

    func testInkScalesWithTheSquareOfTheScale() {
        for (s, expected) in [(1, 11), (2, 44), (3, 99)] {   // "I": 3 + 5 + 3 ink pixels at scale 1
            var c = Canvas(width: 40, height: 40)
            c.text("I", x: 1, y: 1, scale: s, .black)
            XCTAssertEqual(inkCount(c), expected, "scale \(s)")
        }
        XCTAssertEqual(BitmapFont.width(of: "ab", scale: 2), 22)   // (2 * 6 - 1) * 2
    }

    func testEveryPrintableASCIICharacterHasItsOwnGlyph() {
        var seen: [[UInt8]: Character] = [:]
        for code in 33...126 {
            let ch = Character(UnicodeScalar(UInt8(code)))
            XCTAssertTrue(BitmapFont.hasGlyph(ch), "no glyph for \(ch)")
            let rows = BitmapFont.rows(of: ch)
            XCTAssertEqual(rows.count, BitmapFont.cellHeight)
            XCTAssertTrue(rows.allSatisfy { $0 < 32 }, "\(ch) wider than 5 px")
            XCTAssertNil(seen[rows], "\(ch) looks exactly like \(seen[rows].map(String.init) ?? "")")
            seen[rows] = ch
        }
        XCTAssertTrue(BitmapFont.hasGlyph(" "))
        XCTAssertFalse(BitmapFont.hasGlyph("é"))   // drawn as a box, never skipped silently
        XCTAssertEqual(BitmapFont.rows(of: "é").filter { $0 != 0 }.count, 7)
    }

    func testVerticalTextRunsBottomToTop() {
        // "L": column 0 inked on rows 0-6, row 6 inked on columns 0-4. Rotated counter-clockwise with the
        // bottom-left corner at (10, 20): font (column u, row v) lands on (10 + v, 20 - u - 1).
        var c = Canvas(width: 30, height: 30)
        c.text("L", x: 10, y: 20, scale: 1, .black, vertical: true)
        for v in 0...6 { XCTAssertEqual(c.pixel(10 + v, 19), .black, "stem at row \(v)") }
        for u in 0...4 { XCTAssertEqual(c.pixel(16, 19 - u), .black, "foot at column \(u)") }
        XCTAssertEqual(inkCount(c), 11)
    }
}
