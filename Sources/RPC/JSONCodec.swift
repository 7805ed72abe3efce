import CJansson

/// Why JSON text could not be turned into a `JSONValue` (or back).
public enum JSONCodecError: Error, CustomStringConvertible, Equatable {
    /// jansson rejected the text: its message, 1-based line and column, and byte offset.
    case syntax(message: String, line: Int, column: Int, position: Int)
    /// The value nests arrays/objects deeper than the configured limit.
    case tooDeep(limit: Int)
    /// jansson could not build a value (out of memory, or a string that is not valid UTF-8).
    case encoding(String)

    public var description: String {
        switch self {
        case let .syntax(m, l, c, p): return "JSON syntax error at line \(l), column \(c) (byte \(p)): \(m)"
        case .tooDeep(let n): return "JSON nests deeper than \(n) levels"
        case .encoding(let m): return "JSON encoding failed: \(m)"
        }
    }
}

/// JSON text <-> `JSONValue`, through jansson only.
///
/// Parsing rejects duplicate object keys (`JSON_REJECT_DUPLICATES`), allows `\u0000` inside strings
/// (`JSON_ALLOW_NUL`; Swift strings carry the NUL), and accepts any top-level value. Every `json_t`
/// created here is released before returning.
public enum JSONCodec {
    /// Default nesting limit for arrays/objects (jansson's own parser stops at 2048).
    public static let defaultMaxDepth = 128

    /// Parses one JSON text from `bytes`.
    /// - Throws: `JSONCodecError.syntax` (jansson's message and position), `.tooDeep` past `maxDepth`.
    public static func decode(_ bytes: UnsafeRawBufferPointer, maxDepth: Int = defaultMaxDepth) throws -> JSONValue {
        var err = json_error_t()
        let flags = JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL
        var empty: CChar = 0
        let base = bytes.baseAddress?.assumingMemoryBound(to: CChar.self)
        guard let root = json_loadb(base ?? withUnsafePointer(to: &empty) { $0 }, bytes.count, Int(flags), &err) else {
            let text = withUnsafeBytes(of: &err.text) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            throw JSONCodecError.syntax(message: text, line: Int(err.line), column: Int(err.column),
                                        position: Int(err.position))
        }
        defer { json_decref(root) }
        return try value(of: root, depth: 0, maxDepth: maxDepth)
    }

    /// Parses one JSON text held in a byte array.
    public static func decode(_ bytes: [UInt8], maxDepth: Int = defaultMaxDepth) throws -> JSONValue {
        try bytes.withUnsafeBytes { try decode($0, maxDepth: maxDepth) }
    }

    /// Parses one JSON text held in a string.
    public static func decode(_ text: String, maxDepth: Int = defaultMaxDepth) throws -> JSONValue {
        try decode(Array(text.utf8), maxDepth: maxDepth)
    }

    /// Compact JSON text (no spaces, no newline; non-ASCII left as UTF-8; keys in order) as bytes.
    /// Non-finite doubles, which JSON cannot express, are written as `null`.
    /// - Throws: `JSONCodecError.encoding` if jansson fails (out of memory).
    public static func encode(_ value: JSONValue) throws -> [UInt8] {
        guard let root = makeJSON(value) else { throw JSONCodecError.encoding("jansson could not build the value") }
        defer { json_decref(root) }
        final class Sink { var bytes: [UInt8] = [] }
        let sink = Sink()
        sink.bytes.reserveCapacity(128)
        let flags = JSON_COMPACT | JSON_ENCODE_ANY
        let rc = json_dump_callback(root, { buffer, size, data in
            guard let buffer, let data else { return -1 }
            let s = Unmanaged<Sink>.fromOpaque(data).takeUnretainedValue()
            buffer.withMemoryRebound(to: UInt8.self, capacity: size) {
                s.bytes.append(contentsOf: UnsafeBufferPointer(start: $0, count: size))
            }
            return 0
        }, Unmanaged.passUnretained(sink).toOpaque(), Int(flags))
        guard rc == 0 else { throw JSONCodecError.encoding("json_dump_callback failed") }
        return sink.bytes
    }

    /// Compact JSON text as a string (see `encode`).
    public static func encodeString(_ value: JSONValue) throws -> String {
        String(decoding: try encode(value), as: UTF8.self)
    }

    // MARK: jansson -> Swift

    private static func value(of j: UnsafeMutablePointer<json_t>, depth: Int, maxDepth: Int) throws -> JSONValue {
        switch j.pointee.type {
        case JSON_NULL: return .null
        case JSON_TRUE: return .bool(true)
        case JSON_FALSE: return .bool(false)
        case JSON_INTEGER: return .int(Int64(json_integer_value(j)))
        case JSON_REAL: return .double(json_real_value(j))
        case JSON_STRING:
            return .string(swiftString(json_string_value(j), json_string_length(j)))
        case JSON_ARRAY:
            guard depth < maxDepth else { throw JSONCodecError.tooDeep(limit: maxDepth) }
            let n = json_array_size(j)
            var out: [JSONValue] = []
            out.reserveCapacity(n)
            for i in 0..<n {
                out.append(try value(of: json_array_get(j, i), depth: depth + 1, maxDepth: maxDepth))
            }
            return .array(out)
        case JSON_OBJECT:
            guard depth < maxDepth else { throw JSONCodecError.tooDeep(limit: maxDepth) }
            var pairs: [(String, JSONValue)] = []
            pairs.reserveCapacity(json_object_size(j))
            // jansson (>= 2.8) iterates objects in insertion order, which for parsed text is document order.
            var it = json_object_iter(j)
            while let iter = it {
                let key = swiftString(json_object_iter_key(iter), json_object_iter_key_len(iter))
                let v = try value(of: json_object_iter_value(iter), depth: depth + 1, maxDepth: maxDepth)
                pairs.append((key, v))
                it = json_object_iter_next(j, iter)
            }
            return .object(JSONObject(pairs))
        default:
            return .null
        }
    }

    private static func swiftString(_ p: UnsafePointer<CChar>?, _ n: Int) -> String {
        guard let p, n > 0 else { return "" }
        return p.withMemoryRebound(to: UInt8.self, capacity: n) {
            String(decoding: UnsafeBufferPointer(start: $0, count: n), as: UTF8.self)
        }
    }

    // MARK: Swift -> jansson

    /// A valid pointer for zero-length strings (jansson wants non-NULL even when the length is 0).
    private static let emptyCString: UnsafePointer<CChar> = {
        let p = UnsafeMutablePointer<CChar>.allocate(capacity: 1)
        p.pointee = 0
        return UnsafePointer(p)
    }()

    /// A new jansson value (reference owned by the caller), or nil if jansson failed.
    private static func makeJSON(_ v: JSONValue) -> UnsafeMutablePointer<json_t>? {
        switch v {
        case .null: return json_null()
        case .bool(let b): return b ? json_true() : json_false()
        case .int(let i): return json_integer(json_int_t(i))
        case .double(let d): return d.isFinite ? json_real(d) : json_null()
        case .string(var s):
            return s.withUTF8 { u in
                u.withMemoryRebound(to: CChar.self) { json_stringn($0.baseAddress ?? emptyCString, u.count) }
            }
        case .array(let a):
            guard let arr = json_array() else { return nil }
            for e in a {
                // json_array_append_new steals the reference, also on failure.
                guard let je = makeJSON(e), json_array_append_new(arr, je) == 0 else {
                    json_decref(arr)
                    return nil
                }
            }
            return arr
        case .object(let o):
            guard let obj = json_object() else { return nil }
            for (k, e) in o.entries {
                var key = k
                let ok: Bool = key.withUTF8 { u in
                    u.withMemoryRebound(to: CChar.self) { kp in
                        guard let je = makeJSON(e) else { return false }
                        return json_object_setn_new(obj, kp.baseAddress ?? emptyCString, u.count, je) == 0
                    }
                }
                if !ok {
                    json_decref(obj)
                    return nil
                }
            }
            return obj
        }
    }
}
