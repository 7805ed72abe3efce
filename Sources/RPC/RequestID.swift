/// A JSON-RPC request id: a number (integral) or a string, echoed back in the response.
public enum RequestID: Hashable, Sendable, CustomStringConvertible {
    case number(Int64)
    case string(String)

    /// The id from its JSON form, or nil if it is neither an integer nor a string.
    public init?(json: JSONValue) {
        switch json {
        case .int(let i): self = .number(i)
        case .string(let s): self = .string(s)
        default: return nil
        }
    }

    /// The id as JSON.
    public var json: JSONValue {
        switch self {
        case .number(let n): return .int(n)
        case .string(let s): return .string(s)
        }
    }

    public var description: String {
        switch self {
        case .number(let n): return String(n)
        case .string(let s): return "\"\(s)\""
        }
    }
}
