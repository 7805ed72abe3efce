"""Typed exceptions for JSON-RPC errors from capillaryd and for transport failures.

Every error the daemon sends becomes an ``RPCError`` subclass chosen by its code (table in docs/DAEMON.md);
unknown codes become a plain ``RPCError``. Transport problems (no daemon, connection lost) are
``ClientError`` subclasses, not ``RPCError``: the daemon never answered.
"""


class ClientError(Exception):
    """A failure on the client side: no daemon, a lost connection, a bad reply."""


class DaemonNotRunning(ClientError):
    """Nothing accepts connections on the socket path (``path``): start ``capillaryd`` or pass ``socket_path``."""

    def __init__(self, path, reason):
        self.path = path
        self.reason = reason
        super().__init__(
            f"no capillaryd is listening on {path} ({reason}); start one with `capillaryd --socket {path}` "
            f"or pass socket_path=/ set CAPILLARY_SOCKET"
        )


def daemon_not_running(path, error):
    """The ``DaemonNotRunning`` for an ``OSError`` raised while connecting to ``path`` (both clients)."""
    if isinstance(error, FileNotFoundError):
        return DaemonNotRunning(path, "no such socket")
    if isinstance(error, ConnectionRefusedError):
        return DaemonNotRunning(path, "connection refused: a stale socket file")
    return DaemonNotRunning(path, error.strerror or str(error))


class ConnectionClosed(ClientError):
    """The daemon closed the connection (or it broke) while requests were waiting for a reply."""


class RPCError(Exception):
    """A JSON-RPC error response: ``code`` (int), ``message`` (str) and ``data`` (any JSON value or None)."""

    code = None

    def __init__(self, code, message, data=None, method=None):
        self.code = code
        self.message = message
        self.data = data
        self.method = method
        detail = f": {data}" if data is not None else ""
        where = f"{method}: " if method else ""
        super().__init__(f"{where}{message} ({code}){detail}")

    def _data_member(self, key):
        """``data[key]`` when ``data`` is an object, else None."""
        return self.data.get(key) if isinstance(self.data, dict) else None


class ParseError(RPCError):
    """-32700: the daemon could not parse what was sent (or it was over the size limit)."""
    code = -32700


class InvalidRequest(RPCError):
    """-32600: malformed request, second initialize, or a request after shutdown."""
    code = -32600


class MethodNotFound(RPCError):
    """-32601: the daemon has no such method (``data`` names it; see ``Client.capabilities['methods']``)."""
    code = -32601


class InvalidParams(RPCError):
    """-32602: missing or ill-typed params; ``data`` names the field (e.g. ``image: no such file ...``)."""
    code = -32602


class InternalError(RPCError):
    """-32603: a handler failed unexpectedly."""
    code = -32603


class ServerNotInitialized(RPCError):
    """-32002: a request before ``initialize`` (the clients initialize automatically)."""
    code = -32002


class RequestCancelled(RPCError):
    """-32800: the request was cancelled; ``reason`` is cancelRequest, disconnected, shutdown or clientStalled."""
    code = -32800
    reason = property(lambda self: self._data_member("reason"))


class ServerBusy(RPCError):
    """-32010: all workers busy (or a job already running); retry after ``retry_after_ms`` milliseconds."""
    code = -32010
    retry_after_ms = property(lambda self: self._data_member("retryAfterMs"))


class DuplicateRequestId(RPCError):
    """-32011: a request reused an id still in flight on this connection."""
    code = -32011


class ModelNotFound(RPCError):
    """-32020: unknown model name or version, or an empty store (``data`` says how to fill it)."""
    code = -32020


class ModelLoadFailed(RPCError):
    """-32021: the model's files are damaged or of a kind this daemon cannot load."""
    code = -32021


class _JobEnded(ClientError):
    """A job that ended without a result: ``job_id`` and ``end``, its final progress value."""

    def __init__(self, job_id, end, text):
        self.job_id = job_id
        self.end = end
        super().__init__(f"job {job_id} {text}")


class JobFailed(_JobEnded):
    """A job (train, dataset/generate) ended with state ``failed``; ``end`` is its final progress value."""

    def __init__(self, job_id, end):
        super().__init__(job_id, end, end.get("message", "failed"))


class JobCancelled(_JobEnded):
    """A job ended with state ``cancelled`` (``jobs/cancel``, Ctrl-C in the client, or daemon shutdown)."""

    def __init__(self, job_id, end):
        super().__init__(job_id, end, "was cancelled")


def job_result(job_id, end):
    """The ``result`` of a job's ``end`` progress value; raises ``JobCancelled`` or ``JobFailed`` by its ``state``."""
    state = end.get("state")
    if state == "cancelled":
        raise JobCancelled(job_id, end)
    if state == "failed":
        raise JobFailed(job_id, end)
    return end.get("result")


_BY_CODE = {cls.code: cls for cls in (
    ParseError, InvalidRequest, MethodNotFound, InvalidParams, InternalError, ServerNotInitialized,
    RequestCancelled, ServerBusy, DuplicateRequestId, ModelNotFound, ModelLoadFailed)}


def error_from_response(error, method=None):
    """Builds the typed exception for a JSON-RPC ``error`` object ``{"code", "message", "data"?}``."""
    code = error.get("code")
    cls = _BY_CODE.get(code, RPCError)
    return cls(code, error.get("message", ""), error.get("data"), method)
