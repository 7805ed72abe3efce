import Foundation
import RPC
import Retina
import Tensors

/// One fuzz target: a name and a function that must never trap on any input and checks its own invariants
/// (a broken invariant is reported as a crash through `fuzzFailure`).
struct FuzzTarget {
    /// Name on the command line and in `CAPILLARY_FUZZ_TARGET` ("framing", "images", "safetensors").
    let name: String
    /// Runs one input.
    let run: ([UInt8]) -> Void
}

/// Stops the process with a message: libFuzzer records the input that got here as a crash.
func fuzzFailure(_ message: String) -> Never {
    FileHandle.standardError.write(Data("fuzz invariant broken: \(message)\n".utf8))
    abort()
}

enum FuzzTargets {
    static let all = [framing, images, safetensors]

    /// The RPC input path: the FrameDecoder splits the stream into messages, each is parsed by JSONCodec and
    /// read as a request. Invariants: the same bytes fed in one piece or in pieces (sizes taken from the
    /// input) give the same messages and the same framing error; every parsed value re-encodes and parses
    /// back to itself.
    static let framing = FuzzTarget(name: "framing") { bytes in
        let limit = 4096
        func frames(chunked: Bool) -> (messages: [[UInt8]], error: String?) {
            var d = FrameDecoder(maxMessageBytes: limit)
            var out: [[UInt8]] = []
            var i = 0
            var step = 1
            while i < bytes.count {
                let n = chunked ? min(bytes.count - i, step) : bytes.count
                bytes[i..<(i + n)].withUnsafeBytes { d.append($0) }
                i += n
                step = Int(bytes[i - 1] % 17) + 1
                do {
                    while let m = try d.next() { out.append(Array(m)) }
                } catch {
                    return (out, "\(error)")
                }
            }
            return (out, nil)
        }
        let whole = frames(chunked: false), pieces = frames(chunked: true)
        // A framing error ends the connection; the one-piece decoder may see it before messages the chunked
        // one returned first, so compare messages only when neither failed.
        if whole.error == nil && pieces.error == nil && whole.messages != pieces.messages {
            fuzzFailure("chunked framing differs: \(whole.messages.count) vs \(pieces.messages.count) messages")
        }
        for m in whole.messages {
            guard let v = try? JSONCodec.decode(m) else { continue }
            guard let again = try? JSONCodec.encode(v) else { fuzzFailure("a parsed value does not encode") }
            guard let back = try? JSONCodec.decode(again) else { fuzzFailure("re-encoded JSON does not parse") }
            if back != v && !containsNaN(v) { fuzzFailure("JSON round trip changed the value") }
            _ = v["method"]?.stringValue
            _ = v["params"]?["image"]?["synthetic"]?["seed"]
        }
    }

    static func containsNaN(_ v: JSONValue) -> Bool {
        switch v {
        case let .double(d): return d.isNaN
        case let .array(a): return a.contains(where: containsNaN)
        case let .object(o): return o.entries.contains { containsNaN($0.value) }
        default: return false
        }
    }

    /// PNG (libpng) and BMP decoding: any bytes give an image or an `ImageIOError`, never a trap; an image
    /// has the announced size and pixels in [0, 1].
    static let images = FuzzTarget(name: "images") { bytes in
        // Half the inputs are forced to look like a PNG or BMP so the decoders' insides are reached.
        var b = bytes
        if let first = b.first, first & 1 == 0, b.count > 2 { b[0] = 0x42; b[1] = 0x4D }
        guard let img = try? ImageIO.decode(Data(b), name: "fuzz") else { return }
        if img.width <= 0 || img.height <= 0 || img.pixels.count != img.width * img.height {
            fuzzFailure("image \(img.width)x\(img.height) with \(img.pixels.count) pixels")
        }
        if img.pixels.contains(where: { !($0 >= 0 && $0 <= 1) }) { fuzzFailure("pixel outside [0, 1]") }
    }

    /// safetensors decoding: any bytes give tensors or a `SafeTensorsError`; decoded tensors re-encode and
    /// decode to the same values (F32).
    static let safetensors = FuzzTarget(name: "safetensors") { bytes in
        guard let (tensors, metadata) = try? SafeTensors.decode(bytes) else { return }
        for (_, t) in tensors where t.count != t.shape.reduce(1, *) { fuzzFailure("tensor count \(t.count) vs shape \(t.shape)") }
        let names = tensors.map(\.name)
        guard Set(names).count == names.count else { fuzzFailure("duplicate tensor names") }
        let again = SafeTensors.encode(tensors, metadata: metadata)
        guard let (back, meta2) = try? SafeTensors.decode(again) else { fuzzFailure("re-encoded safetensors do not decode") }
        if meta2 != metadata || back.map(\.name).sorted() != names.sorted() { fuzzFailure("round trip changed names or metadata") }
    }
}
