import XCTest
@testable import RPC

final class JSONCodecTests: XCTestCase {
    func testRoundTripKeepsTypesAndKeyOrder() throws {
        let text = #"{"z":1,"a":[true,false,null,-9223372036854775808,9223372036854775807,1.5,-0.25],"m":{"y":"é€😀","b":{}}}"#
        let v = try JSONCodec.decode(text)
        XCTAssertEqual(v["z"], .int(1))
        XCTAssertEqual(v["a"]?[3], .int(Int64.min))
        XCTAssertEqual(v["a"]?[4], .int(Int64.max))
        XCTAssertEqual(v["a"]?[5], .double(1.5))
        XCTAssertEqual(v["a"]?[6]?.doubleValue, -0.25)
        XCTAssertEqual(try JSONCodec.decode("-2.5e-3").doubleValue, -2.5e-3)
        XCTAssertEqual(v["m"]?["y"]?.stringValue, "é€😀")
        XCTAssertEqual(v.objectValue?.keys, ["z", "a", "m"])
        // Serialising gives back the same text: order kept, UTF-8 left as is, compact.
        XCTAssertEqual(try JSONCodec.encodeString(v), text)
    }

    func testStringsWithNULSurviveBothWays() throws {
        let v = try JSONCodec.decode(#"{"key":"a\u0000b","s":["\u0000"]}"#)
        XCTAssertEqual(Array(v["key"]!.stringValue!.utf8), [0x61, 0x00, 0x62])
        XCTAssertEqual(v["s"]?[0]?.stringValue, "\u{0}")
        XCTAssertEqual(try JSONCodec.encodeString(v), #"{"key":"a\u0000b","s":["\u0000"]}"#)
        XCTAssertEqual(try JSONCodec.decode(try JSONCodec.encode(v)), v)
        // jansson does not support NUL inside object keys: a clear syntax error, not a truncated key.
        XCTAssertThrowsError(try JSONCodec.decode(#"{"k\u0000ey":1}"#)) { e in
            XCTAssertTrue("\(e)".contains("NUL"), "\(e)")
        }
    }

    func testDuplicateKeysAreRejected() {
        XCTAssertThrowsError(try JSONCodec.decode(#"{"a":1,"a":2}"#)) { e in
            guard case JSONCodecError.syntax(let m, _, _, _) = e else { return XCTFail("\(e)") }
            XCTAssertTrue(m.contains("duplicate"), m)
        }
    }

    func testSyntaxErrorsCarryPosition() {
        XCTAssertThrowsError(try JSONCodec.decode("{\"a\": tru}")) { e in
            guard case JSONCodecError.syntax(_, let line, let column, _) = e else { return XCTFail("\(e)") }
            XCTAssertEqual(line, 1)
            XCTAssertGreaterThan(column, 5)
        }
        XCTAssertThrowsError(try JSONCodec.decode(""))
        XCTAssertThrowsError(try JSONCodec.decode("[1,2"))
    }

    func testInvalidUTF8IsRejected() {
        XCTAssertThrowsError(try JSONCodec.decode([0x22, 0xFF, 0xFE, 0x22]))
    }

    func testNestingLimit() throws {
        let deep = String(repeating: "[", count: 40) + String(repeating: "]", count: 40)
        XCTAssertNoThrow(try JSONCodec.decode(deep, maxDepth: 40))
        XCTAssertThrowsError(try JSONCodec.decode(deep, maxDepth: 39)) { e in
            XCTAssertEqual(e as? JSONCodecError, .tooDeep(limit: 39))
        }
        // Far past jansson's own parser limit: an error, not a crash.
        let abyss = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        XCTAssertThrowsError(try JSONCodec.decode(abyss))
    }

    func testNonFiniteDoublesBecomeNull() throws {
        XCTAssertEqual(try JSONCodec.encodeString([.double(.nan), .double(.infinity), 0.25]), "[null,null,0.25]")
    }

    func testDoublesRoundTripExactly() throws {
        var g = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let d = Double(bitPattern: g.next() & 0x7FEF_FFFF_FFFF_FFFF)  // finite values only
            let back = try JSONCodec.decode(try JSONCodec.encode(.double(d)))
            XCTAssertEqual(back.doubleValue, d)
        }
    }

    func testTypedParamsNameTheBadField() throws {
        let p: JSONValue = ["n": 3, "name": "x", "xs": [1, 2], "f": 2.0]
        XCTAssertEqual(try p.required("n", as: Int.self), 3)
        XCTAssertEqual(try p.required("f", as: Int.self), 2)  // 2.0 is an exact integer
        XCTAssertEqual(try p.required("xs", as: [Int].self), [1, 2])
        XCTAssertEqual(try p.optional("missing", default: 7), 7)
        XCTAssertThrowsError(try p.required("name", as: Int.self)) { e in
            let r = e as! RPCError
            XCTAssertEqual(r.code, -32602)
            XCTAssertTrue(r.data!.stringValue!.contains("'name'"), "\(r)")
        }
        XCTAssertThrowsError(try p.required("absent", as: String.self)) { e in
            XCTAssertTrue((e as! RPCError).data!.stringValue!.contains("missing required field 'absent'"))
        }
        XCTAssertThrowsError(try JSONValue.array([]).required("n", as: Int.self))
    }

    func testObjectEqualityIgnoresOrderAndSetterKeepsIt() {
        var o: JSONObject = ["a": 1, "b": 2]
        o["c"] = 3
        o["a"] = 9
        XCTAssertEqual(o.keys, ["a", "b", "c"])
        o["b"] = nil
        XCTAssertEqual(o.keys, ["a", "c"])
        XCTAssertEqual(JSONValue.object(["x": 1, "y": 2]), JSONValue.object(["y": 2, "x": 1]))
        XCTAssertNotEqual(JSONValue.object(["x": 1]), JSONValue.object(["x": 2]))
    }
}

final class JSONValueDecoderTests: XCTestCase {
    struct Options: Decodable, Equatable {
        var steps: Int
        var temperature: Double?
    }

    struct Params: Decodable, Equatable {
        var image: String
        var sizes: [Int]
        var options: Options
        var tags: [String]?
        var extra: JSONValue?
    }

    func testDecodesNestedStructs() throws {
        let v = try JSONCodec.decode(#"{"image":"a.png","sizes":[1,2,3],"options":{"steps":50},"extra":{"k":[null]}}"#)
        let p = try v.decode(Params.self)
        XCTAssertEqual(p, Params(image: "a.png", sizes: [1, 2, 3], options: Options(steps: 50, temperature: nil), tags: nil,
                                 extra: ["k": [nil]]))
    }

    func testErrorsNameTheFieldPath() throws {
        func message(_ text: String) -> String {
            do {
                _ = try JSONCodec.decode(text).decode(Params.self)
                return "no error"
            } catch let e as RPCError {
                XCTAssertEqual(e.code, -32602)
                return e.data?.stringValue ?? ""
            } catch { return "\(error)" }
        }
        XCTAssertEqual(message(#"{"sizes":[],"options":{"steps":1}}"#), "missing required field 'image'")
        XCTAssertEqual(message(#"{"image":"x","sizes":[1,"two"],"options":{"steps":1}}"#),
                       #"field 'sizes[1]': must be an integer, got string "two""#)
        XCTAssertEqual(message(#"{"image":"x","sizes":[],"options":{"steps":1.5}}"#),
                       "field 'options.steps': must be an integer, got number 1.5")
        XCTAssertEqual(message(#"{"image":"x","sizes":[],"options":{}}"#), "missing required field 'steps' in 'options'")
        XCTAssertEqual(message(#"[1]"#), "field 'params': must be an object, got array [1]")
    }
}
