'use strict';
// Typed errors: RPCError subclasses by JSON-RPC code (docs/DAEMON.md), ClientError for transport failures.

/** A failure on the client side (no daemon, lost connection). */
class ClientError extends Error {
  constructor(message) { super(message); this.name = this.constructor.name; }
}

/** Nothing listens on `path`: start capillaryd or pass socketPath / set CAPILLARY_SOCKET. */
class DaemonNotRunning extends ClientError {
  constructor(path, reason) {
    super(`no capillaryd is listening on ${path} (${reason}); start one with \`capillaryd --socket ${path}\` or pass socketPath / set CAPILLARY_SOCKET`);
    this.path = path;
    this.reason = reason;
  }
}

/** The connection closed while requests were waiting. */
class ConnectionClosed extends ClientError {}

/** A JSON-RPC error reply: `code`, `rpcMessage`, `data`, `method`. */
class RPCError extends Error {
  constructor(code, message, data, method) {
    const detail = data === undefined || data === null ? '' : `: ${typeof data === 'string' ? data : JSON.stringify(data)}`;
    super(`${method ? method + ': ' : ''}${message} (${code})${detail}`);
    this.name = this.constructor.name;
    this.code = code;
    this.rpcMessage = message;
    this.data = data === undefined ? null : data;
    this.method = method;
  }
}

class ParseError extends RPCError {}
class InvalidRequest extends RPCError {}
/** -32601: the daemon has no such method. */
class MethodNotFound extends RPCError {}
/** -32602: a param is missing or ill-typed; `data` names it. */
class InvalidParams extends RPCError {}
class InternalError extends RPCError {}
class ServerNotInitialized extends RPCError {}
/** -32800: cancelled; `reason` is cancelRequest, disconnected, shutdown or clientStalled. */
class RequestCancelled extends RPCError {
  get reason() { return this.data && this.data.reason; }
}
/** -32010: busy; retry after `retryAfterMs`. */
class ServerBusy extends RPCError {
  get retryAfterMs() { return this.data && this.data.retryAfterMs; }
}
class DuplicateRequestId extends RPCError {}
/** -32020: unknown model or an empty store. */
class ModelNotFound extends RPCError {}
class ModelLoadFailed extends RPCError {}

/** A job ended `failed`; `end` is its last progress value. */
class JobFailed extends ClientError {
  constructor(jobId, end) { super(`job ${jobId} ${end.message || 'failed'}`); this.jobId = jobId; this.end = end; }
}
/** A job ended `cancelled`. */
class JobCancelled extends ClientError {
  constructor(jobId, end) { super(`job ${jobId} was cancelled`); this.jobId = jobId; this.end = end; }
}

const BY_CODE = new Map([
  [-32700, ParseError], [-32600, InvalidRequest], [-32601, MethodNotFound], [-32602, InvalidParams],
  [-32603, InternalError], [-32002, ServerNotInitialized], [-32800, RequestCancelled], [-32010, ServerBusy],
  [-32011, DuplicateRequestId], [-32020, ModelNotFound], [-32021, ModelLoadFailed],
]);

/** The typed error for a JSON-RPC `error` object. */
function errorFromResponse(error, method) {
  const Cls = BY_CODE.get(error.code) || RPCError;
  return new Cls(error.code, error.message || '', error.data, method);
}

module.exports = {
  ClientError, DaemonNotRunning, ConnectionClosed, RPCError, ParseError, InvalidRequest, MethodNotFound,
  InvalidParams, InternalError, ServerNotInitialized, RequestCancelled, ServerBusy, DuplicateRequestId,
  ModelNotFound, ModelLoadFailed, JobFailed, JobCancelled, errorFromResponse,
};
