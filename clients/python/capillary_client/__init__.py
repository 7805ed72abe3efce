"""capillary_client: standard-library clients (blocking and asyncio) for the capillaryd JSON-RPC daemon.

    from capillary_client import Client
    with Client() as c:                       # default socket, like capillaryd
        print(c.stage({"synthetic": {"seed": 7, "stage": "npdr"}})["stage"])
        for delta in c.explain("/abs/eye.png"):
            print(delta, end="", flush=True)
"""

from .aio import AsyncClient, AsyncJob, AsyncStream
from .client import Client, Job, Stream
from .errors import (ClientError, ConnectionClosed, DaemonNotRunning, DuplicateRequestId, InternalError,
                     InvalidParams, InvalidRequest, JobCancelled, JobFailed, MethodNotFound, ModelLoadFailed,
                     ModelNotFound, ParseError, RequestCancelled, RPCError, ServerBusy, ServerNotInitialized,
                     error_from_response)
from .protocol import default_socket_path, image_param

__all__ = [
    "AsyncClient", "AsyncJob", "AsyncStream", "Client", "Job", "Stream", "ClientError", "ConnectionClosed",
    "DaemonNotRunning", "DuplicateRequestId", "InternalError", "InvalidParams", "InvalidRequest", "JobCancelled",
    "JobFailed", "MethodNotFound", "ModelLoadFailed", "ModelNotFound", "ParseError", "RequestCancelled",
    "RPCError", "ServerBusy", "ServerNotInitialized", "error_from_response", "default_socket_path", "image_param",
]
