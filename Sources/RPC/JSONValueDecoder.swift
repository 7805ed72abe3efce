/// Decodes `Decodable` types straight from a `JSONValue` (no second JSON parser), so handlers can declare
/// their params as a struct and get -32602 errors that name the offending field.
extension JSONValue {
    /// The value decoded as `T`.
    /// - Throws: `RPCError` -32602 whose data names the field path (`options.steps`, `items[2].name`) and
    ///   what was expected, e.g. "field 'n' must be an integer, got string \"x\"".
    public func decode<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        do {
            return try T(from: JSONValueDecoding(value: self, codingPath: []))
        } catch let e as DecodingError {
            throw RPCError.invalidParams(Self.explain(e))
        }
    }

    static func pathString(_ path: [CodingKey]) -> String {
        var s = ""
        for k in path {
            if let i = k.intValue, k.stringValue == "Index \(i)" || k.stringValue == String(i) { s += "[\(i)]" } else {
                s += s.isEmpty ? k.stringValue : "." + k.stringValue
            }
        }
        return s.isEmpty ? "params" : s
    }

    static func explain(_ e: DecodingError) -> String {
        switch e {
        case let .keyNotFound(key, ctx):
            let parent = ctx.codingPath.isEmpty ? "" : " in '\(pathString(ctx.codingPath))'"
            return "missing required field '\(key.stringValue)'\(parent)"
        case let .typeMismatch(_, ctx), let .valueNotFound(_, ctx), let .dataCorrupted(ctx):
            return "field '\(pathString(ctx.codingPath))': \(ctx.debugDescription)"
        @unknown default:
            return "\(e)"
        }
    }
}

extension RequestContext {
    /// The params decoded as `T` (absent params decode as an empty object, so all-optional structs work).
    /// - Throws: `RPCError` -32602 naming the field.
    public func decodeParams<T: Decodable>(_ type: T.Type = T.self) throws -> T {
        try (params == .null ? JSONValue.object(JSONObject()) : params).decode(T.self)
    }
}

private struct IndexKey: CodingKey {
    var intValue: Int?
    var stringValue: String
    init(_ i: Int) { intValue = i; stringValue = "Index \(i)" }
    init?(intValue: Int) { self.init(intValue) }
    init?(stringValue: String) { return nil }
}

private struct JSONValueDecoding: Decoder {
    let value: JSONValue
    let codingPath: [CodingKey]
    var userInfo: [CodingUserInfoKey: Any] { [:] }

    func mismatch(_ expected: String) -> DecodingError {
        let got: String
        switch value {
        case .string(let s): got = "string \"\(s.prefix(40))\""
        default: got = "\(value.typeName) \(String(describing: value).prefix(40))"
        }
        return DecodingError.typeMismatch(Any.self, .init(codingPath: codingPath, debugDescription: "must be \(expected), got \(got)"))
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        guard case .object(let o) = value else { throw mismatch("an object") }
        return KeyedDecodingContainer(Keyed<Key>(object: o, codingPath: codingPath))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer {
        guard case .array(let a) = value else { throw mismatch("an array") }
        return Unkeyed(items: a, codingPath: codingPath)
    }

    func singleValueContainer() throws -> SingleValueDecodingContainer { Single(decoder: self) }

    func decodeScalar<T: Decodable>(_ type: T.Type) throws -> T {
        switch type {
        case is JSONValue.Type: return value as! T
        case is Bool.Type:
            guard let b = value.boolValue else { throw mismatch("a boolean") }
            return b as! T
        case is String.Type:
            guard let s = value.stringValue else { throw mismatch("a string") }
            return s as! T
        case is Double.Type:
            guard let d = value.doubleValue else { throw mismatch("a number") }
            return d as! T
        case is Float.Type:
            guard let d = value.doubleValue else { throw mismatch("a number") }
            return Float(d) as! T
        case is Int.Type, is Int64.Type, is Int32.Type, is UInt.Type, is UInt64.Type, is UInt32.Type, is UInt8.Type, is Int8.Type, is Int16.Type, is UInt16.Type:
            guard let i = value.int64Value else { throw mismatch("an integer") }
            let out: Any?
            switch type {
            case is Int.Type: out = Int(exactly: i)
            case is Int64.Type: out = i
            case is Int32.Type: out = Int32(exactly: i)
            case is Int16.Type: out = Int16(exactly: i)
            case is Int8.Type: out = Int8(exactly: i)
            case is UInt.Type: out = UInt(exactly: i)
            case is UInt64.Type: out = UInt64(exactly: i)
            case is UInt32.Type: out = UInt32(exactly: i)
            case is UInt16.Type: out = UInt16(exactly: i)
            default: out = UInt8(exactly: i)
            }
            guard let o = out else { throw mismatch("an integer in the range of \(type)") }
            return o as! T
        default:
            return try T(from: self)
        }
    }

    struct Single: SingleValueDecodingContainer {
        let decoder: JSONValueDecoding
        var codingPath: [CodingKey] { decoder.codingPath }
        func decodeNil() -> Bool { decoder.value == .null }
        func decode<T: Decodable>(_ type: T.Type) throws -> T { try decoder.decodeScalar(type) }
    }

    struct Keyed<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let object: JSONObject
        let codingPath: [CodingKey]
        var allKeys: [Key] { object.keys.compactMap { Key(stringValue: $0) } }
        func contains(_ key: Key) -> Bool { object[key.stringValue] != nil }

        func child(_ key: Key) throws -> JSONValueDecoding {
            guard let v = object[key.stringValue] else {
                throw DecodingError.keyNotFound(key, .init(codingPath: codingPath, debugDescription: "missing"))
            }
            return JSONValueDecoding(value: v, codingPath: codingPath + [key])
        }

        func decodeNil(forKey key: Key) throws -> Bool { (object[key.stringValue] ?? .null) == .null }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T {
            let d = try child(key)
            if d.value == .null && !(type is JSONValue.Type) {
                throw DecodingError.valueNotFound(type, .init(codingPath: d.codingPath, debugDescription: "must not be null"))
            }
            return try d.decodeScalar(type)
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws -> KeyedDecodingContainer<NestedKey> {
            try child(key).container(keyedBy: type)
        }

        func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer { try child(key).unkeyedContainer() }
        func superDecoder() throws -> Decoder { JSONValueDecoding(value: .object(object), codingPath: codingPath) }
        func superDecoder(forKey key: Key) throws -> Decoder { try child(key) }
    }

    struct Unkeyed: UnkeyedDecodingContainer {
        let items: [JSONValue]
        let codingPath: [CodingKey]
        var currentIndex = 0
        var count: Int? { items.count }
        var isAtEnd: Bool { currentIndex >= items.count }

        init(items: [JSONValue], codingPath: [CodingKey]) {
            self.items = items
            self.codingPath = codingPath
        }

        mutating func next() throws -> JSONValueDecoding {
            guard !isAtEnd else {
                throw DecodingError.valueNotFound(Any.self, .init(codingPath: codingPath + [IndexKey(currentIndex)],
                                                                  debugDescription: "array has only \(items.count) elements"))
            }
            defer { currentIndex += 1 }
            return JSONValueDecoding(value: items[currentIndex], codingPath: codingPath + [IndexKey(currentIndex)])
        }

        mutating func decodeNil() throws -> Bool {
            if !isAtEnd && items[currentIndex] == .null { currentIndex += 1; return true }
            return false
        }

        mutating func decode<T: Decodable>(_ type: T.Type) throws -> T { try next().decodeScalar(type) }
        mutating func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type) throws -> KeyedDecodingContainer<NestedKey> {
            try next().container(keyedBy: type)
        }
        mutating func nestedUnkeyedContainer() throws -> UnkeyedDecodingContainer { try next().unkeyedContainer() }
        mutating func superDecoder() throws -> Decoder { try next() }
    }
}

extension JSONValue: Decodable {
    /// Decodes any JSON value (so `JSONValue` fields in param structs receive the raw JSON).
    public init(from decoder: Decoder) throws {
        if let d = decoder as? JSONValueDecoding {
            self = d.value
            return
        }
        let c = try decoder.singleValueContainer()
        if c.decodeNil() { self = .null } else if let b = try? c.decode(Bool.self) { self = .bool(b) } else if let i = try? c.decode(Int64.self) {
            self = .int(i)
        } else if let d = try? c.decode(Double.self) { self = .double(d) } else if let s = try? c.decode(String.self) {
            self = .string(s)
        } else if let a = try? c.decode([JSONValue].self) { self = .array(a) } else {
            self = .object(JSONObject(try c.decode([String: JSONValue].self).sorted { $0.key < $1.key }.map { ($0.key, $0.value) }))
        }
    }
}
