import RPC

/// Why a Daemon method failed; each case maps to one JSON-RPC error (`rpcError`) whose `data` tells the
/// client what to do next.
public enum DaemonError: Error, CustomStringConvertible {
    /// The `image` parameter is missing, malformed, unreadable, corrupt or too large (-32602).
    case badImage(String)
    /// Some other parameter is wrong (-32602); the text names it.
    case invalidParams(String)
    /// A limit is reached (-32010 "Server busy"); retry after `retryAfterMs`.
    case busy(reason: String, retryAfterMs: Int)
    /// No such model (or version) in the store, or the store is empty (-32020).
    case modelNotFound(String)
    /// The model exists but could not be loaded (-32021): damaged files or no loader for its kind.
    case modelLoadFailed(String)
    /// No job with this id (-32602).
    case jobNotFound(String)

    /// Codes Capillary's daemon adds in the server range -32000..-32099 (see docs/DAEMON.md).
    public enum Code {
        /// The named model or version is not in the store (or the store is empty).
        public static let modelNotFound = -32020
        /// The model is in the store but failed to load.
        public static let modelLoadFailed = -32021
    }

    public var description: String {
        switch self {
        case .badImage(let s): return "bad image: \(s)"
        case .invalidParams(let s): return s
        case .busy(let r, let ms): return "busy: \(r) (retry after \(ms) ms)"
        case .modelNotFound(let s): return "model not found: \(s)"
        case .modelLoadFailed(let s): return "model load failed: \(s)"
        case .jobNotFound(let s): return s
        }
    }

    /// The JSON-RPC error sent to the client.
    public var rpcError: RPCError {
        switch self {
        case .badImage(let s): return .invalidParams("image: \(s)")
        case .invalidParams(let s): return .invalidParams(s)
        case .jobNotFound(let s): return .invalidParams(s)
        case .busy(let r, let ms):
            return RPCError(code: RPCError.Code.serverBusy, message: "Server busy",
                            data: ["reason": .string(r), "retryAfterMs": .int(Int64(ms))])
        case .modelNotFound(let s):
            return RPCError(code: Code.modelNotFound, message: "Model not found", data: .string(s))
        case .modelLoadFailed(let s):
            return RPCError(code: Code.modelLoadFailed, message: "Model load failed", data: .string(s))
        }
    }
}
