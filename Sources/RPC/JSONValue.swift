/// A JSON value as Capillary's daemon sees it: what jansson parsed, or what a handler wants sent.
///
/// Integers stay exact (`Int64`); numbers with a fraction or exponent are `double`. Objects keep the order in
/// which their keys arrived (or were inserted), so replies read the way they were written.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int64)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object(JSONObject)

    /// The boolean, or nil if this is not `true`/`false`.
    public var boolValue: Bool? { if case .bool(let b) = self { return b }; return nil }

    /// The integer, or nil if this is not an integer (a double with an exact integral value also counts,
    /// because some clients write `3.0` for 3).
    public var int64Value: Int64? {
        switch self {
        case .int(let i): return i
        case .double(let d):
            guard d.isFinite, d == d.rounded(), d >= -9.2e18, d <= 9.2e18 else { return nil }
            return Int64(d)
        default: return nil
        }
    }

    /// The integer as `Int`, or nil (see `int64Value`).
    public var intValue: Int? { int64Value.flatMap { Int(exactly: $0) } }

    /// The number as a `Double` (integers convert), or nil if this is not a number.
    public var doubleValue: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .double(let d): return d
        default: return nil
        }
    }

    /// The string, or nil if this is not a string.
    public var stringValue: String? { if case .string(let s) = self { return s }; return nil }

    /// The elements, or nil if this is not an array.
    public var arrayValue: [JSONValue]? { if case .array(let a) = self { return a }; return nil }

    /// The object, or nil if this is not an object.
    public var objectValue: JSONObject? { if case .object(let o) = self { return o }; return nil }

    /// True for `null`.
    public var isNull: Bool { self == .null }

    /// Member `key` of an object; nil if this is not an object or has no such key.
    public subscript(key: String) -> JSONValue? {
        if case .object(let o) = self { return o[key] }
        return nil
    }

    /// Element `index` of an array; nil if this is not an array or the index is out of range.
    public subscript(index: Int) -> JSONValue? {
        if case .array(let a) = self, a.indices.contains(index) { return a[index] }
        return nil
    }

    /// A short name of the JSON type ("null", "boolean", "integer", "number", "string", "array", "object"),
    /// used in error messages.
    public var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int: return "integer"
        case .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

/// A JSON object that keeps its keys in insertion order (lookups are linear: RPC objects are small).
public struct JSONObject: Equatable, Sendable, Sequence, ExpressibleByDictionaryLiteral {
    /// The members in order.
    public private(set) var entries: [(key: String, value: JSONValue)]

    /// An empty object.
    public init() { entries = [] }

    /// An object with these members in this order; a later duplicate key replaces the earlier value.
    public init(_ pairs: [(String, JSONValue)]) {
        entries = []
        entries.reserveCapacity(pairs.count)
        for (k, v) in pairs { self[k] = v }
    }

    /// `["a": 1, "b": "x"]` keeps the written order.
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self.init(elements) }

    /// The number of members.
    public var count: Int { entries.count }

    /// The keys in order.
    public var keys: [String] { entries.map { $0.key } }

    /// Member `key`; setting nil removes it, setting a new key appends it.
    public subscript(key: String) -> JSONValue? {
        get { entries.first { $0.key == key }?.value }
        set {
            if let i = entries.firstIndex(where: { $0.key == key }) {
                if let v = newValue { entries[i].value = v } else { entries.remove(at: i) }
            } else if let v = newValue {
                entries.append((key, v))
            }
        }
    }

    /// The members in order.
    public func makeIterator() -> IndexingIterator<[(key: String, value: JSONValue)]> { entries.makeIterator() }

    /// Equal when both hold the same keys with equal values (member order does not matter, as in JSON).
    public static func == (a: JSONObject, b: JSONObject) -> Bool {
        guard a.entries.count == b.entries.count else { return false }
        for (k, v) in a.entries where b[k] != v { return false }
        return true
    }
}

/// Literals build values directly: `["id": 1, "tags": ["a", nil], "ok": true]`.
extension JSONValue: ExpressibleByNilLiteral, ExpressibleByBooleanLiteral, ExpressibleByIntegerLiteral,
    ExpressibleByFloatLiteral, ExpressibleByStringLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral {
    public init(nilLiteral: ()) { self = .null }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(integerLiteral value: Int64) { self = .int(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) { self = .object(JSONObject(elements)) }
}

extension JSONValue: CustomStringConvertible {
    /// Compact JSON text (through jansson); "<unencodable>" never happens for values built from Swift.
    public var description: String {
        (try? JSONCodec.encodeString(self)) ?? "<unencodable JSON>"
    }
}
