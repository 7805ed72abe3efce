/// A JSON-RPC error a handler throws (or the server produces): `code`, `message`, optional `data`.
///
/// Codes used by Capillary (see docs/DAEMON.md): JSON-RPC's -32700..-32603, LSP's -32002 (not initialized) and
/// -32800 (request cancelled), and implementation-defined -32000..-32099 server errors such as -32010 busy.
public struct RPCError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The numeric error code sent to the client.
    public var code: Int
    /// A one-line human-readable message.
    public var message: String
    /// Extra detail for the client (what was wrong, a retry hint, ...).
    public var data: JSONValue?

    /// An error with any code; prefer the named constructors for the standard ones.
    public init(code: Int, message: String, data: JSONValue? = nil) {
        self.code = code
        self.message = message
        self.data = data
    }

    public var description: String {
        if let data { return "RPC error \(code): \(message) (\(data))" }
        return "RPC error \(code): \(message)"
    }

    /// The error as the JSON object sent in a response.
    public var json: JSONValue {
        var o: JSONObject = ["code": .int(Int64(code)), "message": .string(message)]
        if let data { o["data"] = data }
        return .object(o)
    }

    /// Well-known codes.
    public enum Code {
        /// Invalid JSON was received (JSON-RPC).
        public static let parseError = -32700
        /// The JSON is not a valid request object (JSON-RPC); also used for requests after `shutdown`.
        public static let invalidRequest = -32600
        /// No handler is registered for the method (JSON-RPC).
        public static let methodNotFound = -32601
        /// The params are missing, of the wrong type or out of range (JSON-RPC).
        public static let invalidParams = -32602
        /// The handler failed unexpectedly (JSON-RPC).
        public static let internalError = -32603
        /// A request arrived before `initialize` (LSP ServerNotInitialized).
        public static let serverNotInitialized = -32002
        /// The request was cancelled by `$/cancelRequest`, a disconnect, or server shutdown (LSP RequestCancelled).
        public static let requestCancelled = -32800
        /// The worker queue is full; retry after `data.retryAfterMs` (implementation-defined server error).
        public static let serverBusy = -32010
        /// The connection already has this request id in flight (implementation-defined server error).
        public static let duplicateRequestID = -32011
    }

    /// -32700: the text is not JSON; `detail` says where.
    public static func parseError(_ detail: String) -> RPCError {
        RPCError(code: Code.parseError, message: "Parse error", data: .string(detail))
    }

    /// -32600: the message is not a valid request; `detail` says why.
    public static func invalidRequest(_ detail: String) -> RPCError {
        RPCError(code: Code.invalidRequest, message: "Invalid Request", data: .string(detail))
    }

    /// -32601: `method` has no handler.
    public static func methodNotFound(_ method: String) -> RPCError {
        RPCError(code: Code.methodNotFound, message: "Method not found",
                 data: .string("no method named '\(method)' is registered; see initialize's capabilities.methods"))
    }

    /// -32602: the params are wrong; `detail` names the field and what was expected.
    public static func invalidParams(_ detail: String) -> RPCError {
        RPCError(code: Code.invalidParams, message: "Invalid params", data: .string(detail))
    }

    /// -32603: the handler failed; `detail` is the underlying error.
    public static func internalError(_ detail: String) -> RPCError {
        RPCError(code: Code.internalError, message: "Internal error", data: .string(detail))
    }

    /// -32800: the request was cancelled; `reason` is "cancelRequest", "disconnected" or "shutdown".
    public static func requestCancelled(reason: String = "cancelRequest") -> RPCError {
        RPCError(code: Code.requestCancelled, message: "Request cancelled", data: ["reason": .string(reason)])
    }
}
