"""Wire details shared by the sync and asyncio clients: socket path, framing, parameter shapes."""

import base64
import json
import os

PROTOCOL_VERSION = "1.0"


def default_socket_path():
    """The daemon's default socket: ``$CAPILLARY_SOCKET`` if set (a client-side override), else
    ``$XDG_RUNTIME_DIR/capillary.sock``, else ``/tmp/capillary-$UID/capillary.sock`` (as capillaryd)."""
    explicit = os.environ.get("CAPILLARY_SOCKET")
    if explicit:
        return explicit
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime:
        return os.path.join(runtime, "capillary.sock")
    return f"/tmp/capillary-{os.getuid()}/capillary.sock"


def encode(message):
    """One NDJSON frame: compact JSON (never contains a raw newline) plus ``\\n``, as UTF-8 bytes."""
    return (json.dumps(message, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")


def image_param(image):
    """The daemon's ``image`` parameter from a path (made absolute: the daemon refuses relative paths),
    PNG/BMP bytes (sent base64), or a dict passed as is (e.g. ``{"synthetic": {"seed": 7, "stage": "npdr"}}``)."""
    if isinstance(image, dict):
        return image
    if isinstance(image, (bytes, bytearray, memoryview)):
        return {"png_base64": base64.b64encode(bytes(image)).decode("ascii")}
    if isinstance(image, (str, os.PathLike)):
        return {"path": os.path.abspath(os.fspath(image))}
    raise TypeError(f"image must be a path, bytes or a dict, not {type(image).__name__}")


def client_info():
    """The ``initialize`` params these clients send."""
    return {"clientInfo": {"name": "capillary-client-python", "version": "0.1.0"}, "capabilities": {}}


def delta_text(value):
    """The text of one explain partial result ``{"kind": "delta", "text": ...}``; None for other chunks."""
    if isinstance(value, dict) and value.get("kind") == "delta":
        return value.get("text", "")
    if isinstance(value, str):
        return value
    return None


def route(message, progress, response):
    """Walks one received message (or batch reply): ``progress(token, value)`` for each ``$/progress``
    notification, ``response(message)`` for each response; other notifications (none are defined) are dropped."""
    if isinstance(message, list):
        for m in message:
            route(m, progress, response)
        return
    if not isinstance(message, dict):
        return
    if message.get("method") == "$/progress":
        params = message.get("params") or {}
        progress(params.get("token"), params.get("value"))
    elif "method" not in message:
        response(message)


def request(request_id, method, params=None):
    """A JSON-RPC request object (``params`` left out when None)."""
    message = {"jsonrpc": "2.0", "id": request_id, "method": method}
    if params is not None:
        message["params"] = params
    return message


def notification(method, params=None):
    """A JSON-RPC notification object (no id; ``params`` left out when None)."""
    message = {"jsonrpc": "2.0", "method": method}
    if params is not None:
        message["params"] = params
    return message


def _without_none(params, **optional):
    """``params`` plus the ``optional`` members that are not None."""
    params.update({key: value for key, value in optional.items() if value is not None})
    return params


def image_with_fov(image, fov_mm):
    """``image_param(image)`` with ``fovMM`` (mm) when given."""
    return _without_none(dict(image_param(image)), fovMM=fov_mm)


def graph_params(image, include_graph, fov_mm):
    """The params of ``graph``."""
    return {"image": image_with_fov(image, fov_mm), "includeGraph": bool(include_graph)}


def stage_params(image, model, fov_mm):
    """The params of ``stage``; None leaves ``model`` out (the daemon's default model)."""
    return _without_none({"image": image_with_fov(image, fov_mm)}, model=model)


def attribute_params(image, model, target, steps, top_k, heatmap, fov_mm):
    """The params of ``attribute``; None leaves a field out. ``heatmap``: "base64" or a path."""
    params = _without_none({"image": image_with_fov(image, fov_mm)}, model=model, target=target, steps=steps, topK=top_k)
    if heatmap is not None:
        params["heatmap"] = heatmap if heatmap == "base64" else {"path": str(heatmap)}
    return params


def explain_params(image, fov_mm, params):
    """The params of ``explain``: the caller's ``params`` (maxTokens, temperature, ...) plus the image."""
    params = dict(params)
    params["image"] = image_with_fov(image, fov_mm)
    return params


def train_params(kind, cohort, generate, config, name):
    """The params of ``train``; None leaves a field out."""
    return _without_none({"kind": kind}, cohort=cohort, generate=generate, config=config, name=name)


def generate_dataset_params(count, seed, out, size_px, mix):
    """The params of ``dataset/generate``; None leaves a field out."""
    return _without_none({"count": count, "seed": seed, "out": out}, sizePX=size_px, mix=mix)
