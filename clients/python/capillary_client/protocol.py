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
