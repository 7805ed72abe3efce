/// A Swift type that can be read from a `JSONValue` (for typed params) and written back as one.
public protocol JSONConvertible {
    /// The value, or nil if `json` has the wrong type or is out of range.
    init?(json: JSONValue)
    /// What `init?(json:)` accepts, for error messages ("an integer", "a string", ...).
    static var jsonExpectation: String { get }
    /// The value as JSON.
    var json: JSONValue { get }
}

extension JSONValue: JSONConvertible {
    public init?(json: JSONValue) { self = json }
    public static var jsonExpectation: String { "any JSON value" }
    public var json: JSONValue { self }
}

extension Bool: JSONConvertible {
    public init?(json: JSONValue) { guard let b = json.boolValue else { return nil }; self = b }
    public static var jsonExpectation: String { "a boolean" }
    public var json: JSONValue { .bool(self) }
}

extension Int: JSONConvertible {
    public init?(json: JSONValue) { guard let i = json.intValue else { return nil }; self = i }
    public static var jsonExpectation: String { "an integer" }
    public var json: JSONValue { .int(Int64(self)) }
}

extension Int64: JSONConvertible {
    public init?(json: JSONValue) { guard let i = json.int64Value else { return nil }; self = i }
    public static var jsonExpectation: String { "an integer" }
    public var json: JSONValue { .int(self) }
}

extension Double: JSONConvertible {
    public init?(json: JSONValue) { guard let d = json.doubleValue else { return nil }; self = d }
    public static var jsonExpectation: String { "a number" }
    public var json: JSONValue { .double(self) }
}

extension String: JSONConvertible {
    public init?(json: JSONValue) { guard let s = json.stringValue else { return nil }; self = s }
    public static var jsonExpectation: String { "a string" }
    public var json: JSONValue { .string(self) }
}

extension Array: JSONConvertible where Element: JSONConvertible {
    public init?(json: JSONValue) {
        guard let a = json.arrayValue else { return nil }
        var out: [Element] = []
        out.reserveCapacity(a.count)
        for e in a {
            guard let x = Element(json: e) else { return nil }
            out.append(x)
        }
        self = out
    }
    public static var jsonExpectation: String { "an array of \(Element.jsonExpectation)" }
    public var json: JSONValue { .array(map { $0.json }) }
}

extension JSONValue {
    /// Required member `name` of these params, converted to `T`.
    /// - Throws: `RPCError` -32602 naming the field when params are not an object, the member is missing,
    ///   or it has the wrong type.
    public func required<T: JSONConvertible>(_ name: String, as type: T.Type = T.self) throws -> T {
        guard case .object(let o) = self else {
            throw RPCError.invalidParams("params must be an object with field '\(name)', got \(typeName)")
        }
        guard let v = o[name] else {
            throw RPCError.invalidParams("missing required field '\(name)' (\(T.jsonExpectation))")
        }
        guard let x = T(json: v) else {
            throw RPCError.invalidParams("field '\(name)' must be \(T.jsonExpectation), got \(v.typeName) \(v)")
        }
        return x
    }

    /// Optional member `name` converted to `T`: nil when absent or `null`.
    /// - Throws: `RPCError` -32602 naming the field when present with the wrong type, or when params are
    ///   neither an object nor null/absent.
    public func optional<T: JSONConvertible>(_ name: String, as type: T.Type = T.self) throws -> T? {
        switch self {
        case .null: return nil
        case .object(let o):
            guard let v = o[name], v != .null else { return nil }
            guard let x = T(json: v) else {
                throw RPCError.invalidParams("field '\(name)' must be \(T.jsonExpectation), got \(v.typeName) \(v)")
            }
            return x
        default:
            throw RPCError.invalidParams("params must be an object, got \(typeName)")
        }
    }

    /// Member `name` converted to `T`, or `defaultValue` when absent or `null` (errors as `optional`).
    public func optional<T: JSONConvertible>(_ name: String, default defaultValue: T) throws -> T {
        try optional(name, as: T.self) ?? defaultValue
    }
}
