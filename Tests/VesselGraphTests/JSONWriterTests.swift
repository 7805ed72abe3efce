import Common
import Foundation
import XCTest
@testable import VesselGraph

/// The graph JSON's number writer: exact text for known values, and the list fast paths write the same text
/// as element-by-element writing.
final class JSONWriterTests: XCTestCase {
    func text(_ write: (inout JSONWriter) -> Void) -> String {
        var w = JSONWriter()
        defer { w.release() }
        write(&w)
        return String(decoding: w.data, as: UTF8.self)
    }

    func testKnownFloatsAndInts() {
        let cases: [(Float, String)] = [
            (0, "0"), (-0.00004, "0"), (0.00004999, "0"), (0.00006, "0.0001"), (1.5, "1.5"), (-2.25, "-2.25"), (0.1, "0.1"),
            (12345.6789, "12345.6787"), (7, "7"), (-100, "-100"), (9_999_999, "9999999"), (.nan, "0"),
            (.infinity, "0"), (1e8, Float(1e8).description),
        ]
        for (v, expected) in cases { XCTAssertEqual(text { $0.float(v) }, expected, "\(v)") }
        XCTAssertEqual(text { $0.int(0) }, "0")
        XCTAssertEqual(text { $0.int(-1_234_567) }, "-1234567")
        XCTAssertEqual(text { $0.int(Int64(9_876_543_210)) }, "9876543210")
        XCTAssertEqual(text { $0.ints([0, 7, -12, 100, 2_147_483_647]) }, "[0,7,-12,100,2147483647]")
    }

    func testListsMatchElementByElementWriting() throws {
        var rng = SeededGenerator(seed: 11)
        for withLarge in [false, true] {
            var values: [Float] = (0..<2000).map { _ in Float(rng.normal() * pow(10, rng.uniform(-5, 6))) }
            if withLarge { values[17] = 3.5e9; values[18] = -1e7 }
            values[5] = .nan
            let list = text { $0.floats(values) }
            let single = "[" + values.map { v in text { $0.float(v) } }.joined(separator: ",") + "]"
            XCTAssertEqual(list, single)
            // And it is valid JSON holding the values to 4 decimals.
            let back = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(list.utf8)) as? [Double])
            for (x, y) in zip(back, values) where y.isFinite && abs(y) < 1e7 {
                XCTAssertEqual(x, Double(y), accuracy: 0.00005 + 1e-9 * abs(Double(y)))
            }
        }
    }
    /// The digit fast paths (up to six digits, fraction as two digit pairs) against a plain reference: the
    /// integer's `description`, and for floats the value rounded half away from zero to 4 decimals with
    /// trailing zeros dropped.
    func testDigitFastPathsMatchReference() {
        var ints: [Int32] = [0, 1, 9, 10, 11, 99, 100, 101, 999, 1000, 1001, 9999, 10_000, 10_001, 99_999, 100_000,
                             100_001, 159_999, 999_999, 1_000_000, 1_000_001, -5, -10_000, -999_999]
        var rng = SeededGenerator(seed: 5)
        for _ in 0..<3000 { ints.append(Int32(rng.int(below: 2_000_000)) - 500_000) }
        XCTAssertEqual(text { $0.ints(ints) }, "[" + ints.map(\.description).joined(separator: ",") + "]")
        func reference(_ v: Float) -> String {
            let scaled = Int64((Double(abs(v)) * 10_000).rounded())
            if scaled == 0 { return "0" }
            var s = (v < 0 ? "-" : "") + String(scaled / 10_000)
            var frac = String(scaled % 10_000)
            if frac != "0" {
                frac = String(repeating: "0", count: 4 - frac.count) + frac
                while frac.hasSuffix("0") { frac.removeLast() }
                s += "." + frac
            }
            return s
        }
        var floats: [Float] = [0.5, 0.05, 0.005, 0.0005, 0.00005, 1.0001, 1.001, 1.01, 1.1, 10.25, 100.125, 0.9999, 0.99995]
        for _ in 0..<5000 { floats.append(Float(rng.normal() * pow(10, rng.uniform(-5, 6)))) }
        for v in floats { XCTAssertEqual(text { $0.float(v) }, reference(v), "\(v)") }
    }

    /// The 4-digit table writer: every value below 200,000 (each pixel index of a 400 x 400 image and more),
    /// the group boundaries up to the 8-digit limit and past it, against `description`; and every 4-decimal
    /// fraction in [0, 1) and [7, 8) through the float writer.
    func testTableWriterMatchesDescription() {
        let all = (0..<200_000).map { Int32($0) }
        XCTAssertEqual(text { $0.ints(all) }, "[" + all.map(\.description).joined(separator: ",") + "]")
        XCTAssertEqual(text { $0.ints([]) }, "[]")
        XCTAssertEqual(text { $0.floats([]) }, "[]")
        var big: [Int64] = [9_999_999, 10_000_000, 99_999_999, 100_000_000, 100_000_001, 123_456_789, 1_000_000_000,
                            10_000_000_000, 987_654_321_012, Int64.max, -99_999_999, -100_000_000]
        for p in 0..<19 { let v = Int64(pow(10.0, Double(p))); big += [v - 1, v, v + 1] }
        for v in big { XCTAssertEqual(text { $0.int(v) }, v.description) }
        for n in 1..<10_000 {
            var f = String(n); f = String(repeating: "0", count: 4 - f.count) + f
            while f.hasSuffix("0") { f.removeLast() }
            // n / 10_000 as a Float is within 1e-8 of the exact decimal, so it rounds to the same 4 decimals.
            XCTAssertEqual(text { $0.float(Float(n) / 10_000) }, "0." + f)
            XCTAssertEqual(text { $0.float(-7 - Float(n) / 10_000) }, "-7." + f)
        }
    }
}
