import Common
import Foundation
import XCTest
@testable import Tensors

/// A module tree with nested names, for naming and checkpoint tests.
final class TinyEncoder: Module {
    let layers: ModuleList<Linear>
    let norm: BatchNorm
    init(generator g: inout SeededGenerator) {
        layers = ModuleList([Linear(3, 4, generator: &g), Linear(4, 2, generator: &g)])
        norm = BatchNorm(2)
    }
    var localParameters: [(String, Tensor)] { [] }
    var children: [(String, Module)] { [("layers", layers), ("norm", norm)] }
}

final class TinyModel: Module {
    let encoder: TinyEncoder
    let scale = Tensor.parameter(.ones([1]))
    init(seed: UInt64) { var g = SeededGenerator(seed: seed); encoder = TinyEncoder(generator: &g) }
    var localParameters: [(String, Tensor)] { [("scale", scale)] }
    var children: [(String, Module)] { [("encoder", encoder)] }
}

final class SafeTensorsTests: XCTestCase {
    var dir: String!

    override func setUp() {
        dir = NSTemporaryDirectory() + "capillary-safetensors-\(getpid())-\(UUID().uuidString)"
        try! FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    }

    override func tearDown() { try? FileManager.default.removeItem(atPath: dir) }

    func testStableDottedNames() {
        let m = TinyModel(seed: 1)
        XCTAssertEqual(m.namedParameters().map(\.name), [
            "scale", "encoder.layers.0.weight", "encoder.layers.0.bias", "encoder.layers.1.weight",
            "encoder.layers.1.bias", "encoder.norm.weight", "encoder.norm.bias"])
        XCTAssertEqual(m.namedBuffers().map(\.name), ["encoder.norm.running_mean", "encoder.norm.running_var"])
        XCTAssertEqual(m.parameterCount, 1 + 12 + 4 + 8 + 2 + 2 + 2)
    }

    func testRoundTripIsBitExactIncludingSpecialValues() throws {
        let special: [Float] = [0, -0.0, .infinity, -.infinity, .leastNonzeroMagnitude, .greatestFiniteMagnitude,
                                Float(bitPattern: 0x7FC0_1234), 1.0 / 3.0]
        let a = Tensor(special, shape: [2, 4])
        let b = randomTensor([3, 1, 5], seed: 2)
        let s = Tensor.scalar(7.25)
        let path = dir + "/w.safetensors"
        try SafeTensors.write([("b.x", b), ("a", a), ("s", s)], metadata: ["format": "pt", "note": "q\"uote"], to: path)
        let file = try SafeTensors.read(path: path)
        XCTAssertEqual(file.metadata, ["format": "pt", "note": "q\"uote"])
        XCTAssertEqual(file.tensors.map(\.name), ["a", "b.x", "s"])
        for (orig, back) in zip([a, b, s], file.tensors.map(\.tensor)) {
            XCTAssertEqual(back.shape, orig.shape)
            XCTAssertEqual(back.array.map(\.bitPattern), orig.array.map(\.bitPattern))
        }
        // Header layout: 8-byte length, header padded with spaces to a multiple of 8, data right after.
        let bytes = [UInt8](FileManager.default.contents(atPath: path)!)
        let n = Int(bytes[0]) | Int(bytes[1]) << 8 | Int(bytes[2]) << 16 | Int(bytes[3]) << 24
        XCTAssertEqual((8 + n) % 8, 0)
        XCTAssertEqual(bytes.count, 8 + n + 4 * (8 + 15 + 1))
        XCTAssertTrue(String(decoding: bytes[8..<(8 + n)], as: UTF8.self).hasPrefix("{\"__metadata__\":{\"format\":\"pt\""))
    }

    func testModuleSaveLoadRestoresParametersAndBuffers() throws {
        let a = TinyModel(seed: 3)
        _ = a.encoder.norm(randomTensor([5, 2], seed: 4))  // move the running statistics off their defaults
        let path = dir + "/model.safetensors"
        try a.save(to: path, metadata: ["arch": "tiny"])
        let b = TinyModel(seed: 99)
        XCTAssertNotEqual(b.encoder.layers[0].weight.array, a.encoder.layers[0].weight.array)
        let meta = try b.load(from: path)
        XCTAssertEqual(meta["arch"], "tiny")
        for ((na, ta), (nb, tb)) in zip(a.stateDict(), b.stateDict()) {
            XCTAssertEqual(na, nb)
            XCTAssertEqual(ta.array.map(\.bitPattern), tb.array.map(\.bitPattern), na)
        }
    }

    func testLoadRejectsMismatchedCheckpointsNamingTheTensor() throws {
        let m = TinyModel(seed: 5)
        let good = m.stateDict()
        let before = m.stateDict().map(\.tensor.array)
        // Missing tensor.
        XCTAssertThrowsError(try m.load(stateDict: Array(good.dropLast()), source: "ckpt")) { e in
            XCTAssertEqual(e as? SafeTensorsError, .missingTensor(path: "ckpt", tensor: "encoder.norm.running_var"))
            XCTAssertTrue("\(e)".contains("encoder.norm.running_var"))
        }
        // Unexpected tensor.
        XCTAssertThrowsError(try m.load(stateDict: good + [("decoder.weight", .zeros([1]))], source: "ckpt")) { e in
            XCTAssertEqual(e as? SafeTensorsError, .unexpectedTensor(path: "ckpt", tensor: "decoder.weight"))
        }
        // Shape mismatch, through a real file.
        var wrong = good
        wrong[1] = ("encoder.layers.0.weight", .zeros([3, 4]))
        let path = dir + "/wrong.safetensors"
        try SafeTensors.write(wrong, to: path)
        XCTAssertThrowsError(try m.load(from: path)) { e in
            XCTAssertEqual(e as? SafeTensorsError,
                           .shapeMismatch(path: path, tensor: "encoder.layers.0.weight", expected: [4, 3], found: [3, 4]))
            XCTAssertTrue("\(e)".contains("encoder.layers.0.weight") && "\(e)".contains("[3, 4]") && "\(e)".contains("[4, 3]"))
        }
        XCTAssertEqual(m.stateDict().map(\.tensor.array), before, "a failed load leaves the model unchanged")
    }

    func testCorruptAndTruncatedFilesThrow() throws {
        let bytes = SafeTensors.encode([("w", randomTensor([3, 2], seed: 6)), ("v", randomTensor([4], seed: 7))])
        XCTAssertNoThrow(try SafeTensors.decode(bytes))
        // Every proper prefix is an error, never a crash.
        for cut in 0..<bytes.count {
            XCTAssertThrowsError(try SafeTensors.decode(Array(bytes[..<cut]), path: "cut")) { e in
                XCTAssertNotNil(e as? SafeTensorsError, "cut at \(cut): \(e)")
            }
        }
        func header(_ json: String, data: Int) -> [UInt8] {
            var h = Array(json.utf8)
            var out = [UInt8]()
            withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
            out += h
            h = [UInt8](repeating: 0, count: data)
            return out + h
        }
        let cases: [(String, [UInt8])] = [
            ("not json", header("{nope", data: 0)),
            ("array top level", header("[1,2]", data: 0)),
            ("bad dtype", header(#"{"w":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}"#, data: 8)),
            ("size mismatch", header(#"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#, data: 8)),
            ("outside data", header(#"{"w":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}"#, data: 8)),
            ("hole", header(#"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: 8)),
            ("overlap", header(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, data: 8)),
            ("negative shape", header(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: 4)),
            ("missing keys", header(#"{"w":{"dtype":"F32"}}"#, data: 0)),
            ("bad metadata", header(#"{"__metadata__":{"k":1}}"#, data: 0)),
            ("huge shape", header(#"{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}}"#, data: 4)),
            ("huge header length", [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F] + Array("{}".utf8)),
        ]
        for (name, b) in cases {
            XCTAssertThrowsError(try SafeTensors.decode(b, path: name), name) { e in
                XCTAssertNotNil(e as? SafeTensorsError, "\(name): \(e)")
                XCTAssertTrue("\(e)".hasPrefix(name), "error names the file: \(e)")
            }
        }
        XCTAssertThrowsError(try SafeTensors.read(path: dir + "/absent.safetensors")) { e in
            guard case .io = e as? SafeTensorsError else { return XCTFail("\(e)") }
        }
    }

    func testReadsF16AndBF16IntoFloat32() throws {
        let json = #"{"h":{"dtype":"F16","shape":[5],"data_offsets":[0,10]},"b":{"dtype":"BF16","shape":[2],"data_offsets":[10,14]}}"#
        var bytes = [UInt8]()
        withUnsafeBytes(of: UInt64(json.utf8.count).littleEndian) { bytes.append(contentsOf: $0) }
        bytes += Array(json.utf8)
        let halves: [UInt16] = [0x3C00, 0xC000, 0x3800, 0x0001, 0x7C00]  // 1, -2, 0.5, 2^-24, +inf
        let bf: [UInt16] = [0x3F80, 0xC0A0]  // 1, -5
        for h in halves + bf { withUnsafeBytes(of: h.littleEndian) { bytes.append(contentsOf: $0) } }
        let file = try SafeTensors.decode(bytes)
        let byName = Dictionary(uniqueKeysWithValues: file.tensors.map { ($0.name, $0.tensor.array) })
        XCTAssertEqual(byName["h"], [1, -2, 0.5, 0x1p-24, .infinity])
        XCTAssertEqual(byName["b"], [1, -5])
    }

    func testIndependentPythonReaderParsesOurFile() throws {
        guard let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first(where: {
            FileManager.default.isExecutableFile(atPath: $0) }) else {
            throw XCTSkip("python3 not found; the independent-reader check needs it")
        }
        let w = randomTensor([3, 4], seed: 8), bias = Tensor([1.5, -2.25], shape: [2])
        let path = dir + "/py.safetensors"
        try SafeTensors.write([("layer.weight", w), ("layer.bias", bias)], metadata: ["k": "v"], to: path)
        // Reads the file with nothing but the stdlib (struct + json), the way the format is specified.
        let script = """
        import json, struct, sys
        raw = open(sys.argv[1], 'rb').read()
        (n,) = struct.unpack('<Q', raw[:8])
        header = json.loads(raw[8:8 + n])
        meta = header.pop('__metadata__', {})
        out = {'meta': meta}
        for name, info in sorted(header.items()):
            b, e = info['data_offsets']
            count = (e - b) // 4
            vals = struct.unpack('<%df' % count, raw[8 + n + b:8 + n + e])
            out[name] = {'dtype': info['dtype'], 'shape': info['shape'], 'values': [v.hex() for v in vals]}
        print(json.dumps(out))
        """
        let proc = Process()
        proc.executableURL = URL(fileURLWithPath: python)
        proc.arguments = ["-c", script, path]
        let pipe = Pipe()
        proc.standardOutput = pipe
        try proc.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        proc.waitUntilExit()
        XCTAssertEqual(proc.terminationStatus, 0)
        let obj = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        XCTAssertEqual(obj["meta"] as? [String: String], ["k": "v"])
        for (name, t) in [("layer.weight", w), ("layer.bias", bias)] {
            let entry = try XCTUnwrap(obj[name] as? [String: Any])
            XCTAssertEqual(entry["dtype"] as? String, "F32")
            XCTAssertEqual(entry["shape"] as? [Int], t.shape)
            // float.hex() is exact, so this compares bits.
            let values = try XCTUnwrap(entry["values"] as? [String]).map { Float(Double(hexFloat: $0)!) }
            XCTAssertEqual(values.map(\.bitPattern), t.array.map(\.bitPattern), name)
        }
    }
}

extension Double {
    /// Parses Python's float.hex() output, e.g. "-0x1.8000000000000p+1".
    init?(hexFloat s: String) {
        var str = s
        var sign = 1.0
        if str.hasPrefix("-") { sign = -1; str.removeFirst() }
        guard str.hasPrefix("0x"), let p = str.firstIndex(of: "p") else { return nil }
        let mantissa = str[str.index(str.startIndex, offsetBy: 2)..<p]
        guard let exp = Int(str[str.index(after: p)...]) else { return nil }
        let parts = mantissa.split(separator: ".", omittingEmptySubsequences: false)
        guard let intPart = UInt64(parts[0], radix: 16) else { return nil }
        var value = Double(intPart)
        if parts.count > 1 {
            var scale = 1.0 / 16
            for ch in parts[1] {
                guard let d = ch.hexDigitValue else { return nil }
                value += Double(d) * scale
                scale /= 16
            }
        }
        self = sign * value * Foundation.pow(2.0, Double(exp))
    }
}
