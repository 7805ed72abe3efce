"""asyncio client for capillaryd: the same API as ``Client`` with coroutines and async iterators.

One reader task routes replies to futures (by ``id``) and ``$/progress`` values to queues (by token).
Cancelling a task that awaits ``call`` sends ``$/cancelRequest`` for its request.
"""

import asyncio
import inspect
import itertools
import json

from . import protocol
from .errors import (ClientError, ConnectionClosed, RequestCancelled, RPCError, daemon_not_running,
                     error_from_response, job_result)


class AsyncClient:
    """An asyncio connection to capillaryd. Create it with ``await AsyncClient.connect(socket_path=None)``
    (which runs initialize), e.g. ``async with await AsyncClient.connect() as c:``; ``connect`` raises
    ``DaemonNotRunning`` when nothing listens on the socket."""

    def __init__(self, reader, writer, socket_path):
        self.socket_path = socket_path
        self._reader = reader
        self._writer = writer
        self._pending = {}   # id -> Future of the response message
        self._tokens = {}    # token -> asyncio.Queue of progress values (None marks a closed connection)
        self._ids = itertools.count(1)
        self._closed = None
        self._read_task = asyncio.get_running_loop().create_task(self._read_loop())
        self.initialize_result = None

    @classmethod
    async def connect(cls, socket_path=None, initialize=True):
        """Connects (and initializes unless ``initialize=False``)."""
        path = socket_path or protocol.default_socket_path()
        try:
            reader, writer = await asyncio.open_unix_connection(path, limit=64 << 20)
        except OSError as e:
            raise daemon_not_running(path, e) from None
        client = cls(reader, writer, path)
        if initialize:
            client.initialize_result = await client.call("initialize", protocol.client_info())
            await client.notify("initialized", {})
        return client

    @property
    def capabilities(self):
        """The ``capabilities`` of the initialize result."""
        return (self.initialize_result or {}).get("capabilities", {})

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()

    async def close(self):
        """``shutdown`` + ``exit``, then closes the socket. Idempotent."""
        if self._closed is None and self.initialize_result is not None:
            try:
                await asyncio.wait_for(self.call("shutdown"), 2.0)
                await self.notify("exit")
            except (ClientError, RPCError, asyncio.TimeoutError, OSError):
                pass
        self._mark_closed(ConnectionClosed("the client closed the connection"))
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except OSError:
            pass
        self._read_task.cancel()
        try:
            await self._read_task
        except (asyncio.CancelledError, Exception):
            pass

    async def _send(self, message):
        if self._closed is not None:
            raise self._closed
        try:
            self._writer.write(protocol.encode(message))
            await self._writer.drain()
        except OSError as e:
            err = ConnectionClosed(f"writing to {self.socket_path} failed: {e}")
            self._mark_closed(err)
            raise err from None

    async def _read_loop(self):
        reason = "the daemon closed the connection"
        try:
            while True:
                line = await self._reader.readline()
                if not line:
                    break
                if line.strip():
                    protocol.route(json.loads(line), self._progress, self._response)
        except (OSError, ValueError) as e:
            reason = f"reading from the daemon failed: {e}"
        self._mark_closed(ConnectionClosed(reason))

    def _progress(self, token, value):
        q = self._tokens.get(token)
        if q is not None:
            q.put_nowait(("progress", value))

    def _response(self, message):
        fut = self._pending.pop(message.get("id"), None)
        if fut is not None and not fut.done():
            fut.set_result(message)

    def _mark_closed(self, err):
        if self._closed is not None:
            return
        self._closed = err
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(err)
        self._pending.clear()
        for q in self._tokens.values():
            q.put_nowait(("closed", err))

    async def notify(self, method, params=None):
        """Sends a notification."""
        await self._send(protocol.notification(method, params))

    async def cancel(self, request_id):
        """``$/cancelRequest`` for ``request_id``."""
        await self.notify("$/cancelRequest", {"id": request_id})

    def _start(self, method, params):
        if self._closed is not None:
            raise self._closed
        request_id = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[request_id] = fut
        return request_id, fut, protocol.request(request_id, method, params)

    async def call(self, method, params=None):
        """Calls ``method`` and returns its result; raises the typed ``RPCError`` or ``ConnectionClosed``.
        Cancelling the awaiting task sends ``$/cancelRequest``."""
        request_id, fut, message = self._start(method, params)
        try:
            await self._send(message)
            response = await fut
        except asyncio.CancelledError:
            self._pending.pop(request_id, None)
            if self._closed is None:
                try:
                    await self.cancel(request_id)
                except ClientError:
                    pass
            raise
        return _result(response, method)

    def stream(self, method, params=None):
        """An ``AsyncStream`` of ``method``'s partial results (``async for chunk in ...``)."""
        return AsyncStream(self, method, dict(params or {}), None)

    def explain(self, image, fov_mm=None, **params):
        """``async for delta in client.explain(path)``: text deltas as generated; ``aclose()`` or leaving
        an ``async with`` early cancels the request."""
        return AsyncStream(self, "explain", protocol.explain_params(image, fov_mm, params), protocol.delta_text)

    async def start_job(self, method, params=None, on_progress=None):
        """Starts a job with a ``workDoneToken``; returns an ``AsyncJob`` after the reply carrying its id.
        ``on_progress`` may be a function or a coroutine function."""
        token = f"capillary-aio-work-{next(self._ids)}"
        q = asyncio.Queue()
        self._tokens[token] = q
        params = dict(params or {})
        params["workDoneToken"] = token
        try:
            result = await self.call(method, params)
        except BaseException:
            self._tokens.pop(token, None)
            raise
        return AsyncJob(self, method, result, q, token, on_progress)

    async def _run_job(self, method, params, on_progress, wait):
        job = await self.start_job(method, params, on_progress)
        if not wait:
            return job
        try:
            return await job.wait()
        except asyncio.CancelledError:
            try:
                await job.cancel()
            except ClientError:
                pass
            raise

    async def ping(self):
        """Round trip; returns None."""
        return await self.call("ping")

    async def status(self):
        """Daemon state (connections, queue, workers, store, loaded models, jobs)."""
        return await self.call("status")

    async def graph(self, image, include_graph=False, fov_mm=None):
        """As ``Client.graph``: vessel graph summary, biomarkers and timings of ``image``."""
        return await self.call("graph", protocol.graph_params(image, include_graph, fov_mm))

    async def stage(self, image, model=None, fov_mm=None):
        """As ``Client.stage``: DR stage and probabilities from a warm model."""
        return await self.call("stage", protocol.stage_params(image, model, fov_mm))

    async def attribute(self, image, model=None, target=None, steps=None, top_k=None, heatmap=None, fov_mm=None):
        """As ``Client.attribute``: integrated gradients of a warm GNN's decision."""
        return await self.call("attribute", protocol.attribute_params(image, model, target, steps, top_k, heatmap, fov_mm))

    async def models(self):
        """``models/list``."""
        return await self.call("models/list", {})

    async def jobs(self):
        """``jobs/list``."""
        return await self.call("jobs/list", {})

    async def cancel_job(self, job_id):
        """``jobs/cancel``; returns the job's row."""
        return await self.call("jobs/cancel", {"id": job_id})

    async def train(self, kind="gnn", cohort=None, generate=None, config=None, name=None, on_progress=None,
                    wait=True):
        """As ``Client.train``; cancelling the awaiting task cancels the job."""
        return await self._run_job("train", protocol.train_params(kind, cohort, generate, config, name), on_progress, wait)

    async def generate_dataset(self, count, seed, out, size_px=None, mix=None, on_progress=None, wait=True):
        """As ``Client.generate_dataset``."""
        params = protocol.generate_dataset_params(count, seed, out, size_px, mix)
        return await self._run_job("dataset/generate", params, on_progress, wait)


def _result(response, method):
    if "error" in response:
        raise error_from_response(response["error"], method)
    return response.get("result")


class AsyncStream:
    """Async iterator over one request's partial results; ``result`` after the end. ``aclose()`` cancels."""

    def __init__(self, client, method, params, transform):
        self._client = client
        self.method = method
        self._params = params
        self._transform = transform
        self._queue = asyncio.Queue()
        self.token = f"capillary-aio-partial-{next(client._ids)}"
        self.id = None
        self._fut = None
        self.result = None
        self.done = False

    async def _begin(self):
        self._params["partialResultToken"] = self.token
        self._client._tokens[self.token] = self._queue
        self.id, self._fut, message = self._client._start(self.method, self._params)
        self._fut.add_done_callback(lambda _: self._queue.put_nowait(("response", None)))
        await self._client._send(message)

    def __aiter__(self):
        return self

    async def __anext__(self):
        if self._fut is None:
            await self._begin()
        while not self.done:
            try:
                kind, payload = await self._queue.get()
            except asyncio.CancelledError:
                await self.aclose()
                raise
            if kind == "progress":
                value = payload if self._transform is None else self._transform(payload)
                if value is not None:
                    return value
                continue
            if kind == "closed":
                self._finish()
                raise payload
            self._finish()
            self.result = _result(self._fut.result(), self.method)
        raise StopAsyncIteration

    async def aclose(self):
        """Cancels the request if still running and waits (up to 5 s) for its final reply."""
        if self.done or self._fut is None:
            self.done = True
            return
        if self._client._closed is None:
            try:
                await self._client.cancel(self.id)
                response = await asyncio.wait_for(asyncio.shield(self._fut), 5.0)
                self.result = _result(response, self.method)
            except (RequestCancelled, ClientError, asyncio.TimeoutError):
                pass
        self._finish()

    def _finish(self):
        self.done = True
        self._client._tokens.pop(self.token, None)
        self._client._pending.pop(self.id, None)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.aclose()


class AsyncJob:
    """A running job; ``await job.wait()`` follows it to its end."""

    def __init__(self, client, method, start_result, q, token, on_progress):
        self._client = client
        self.method = method
        self.start_result = start_result
        self.id = start_result.get("jobId")
        self._queue = q
        self.token = token
        self.on_progress = on_progress
        self.end = None

    async def wait(self):
        """Returns the job's result; raises ``JobFailed``/``JobCancelled``/``ConnectionClosed``."""
        while self.end is None:
            kind, payload = await self._queue.get()
            if kind == "closed":
                raise payload
            if not isinstance(payload, dict):
                continue
            if self.on_progress is not None:
                outcome = self.on_progress(payload)
                if inspect.isawaitable(outcome):
                    await outcome
            if payload.get("kind") == "end":
                self.end = payload
                self._client._tokens.pop(self.token, None)
        return job_result(self.id, self.end)

    async def cancel(self):
        """``jobs/cancel`` for this job."""
        return await self._client.cancel_job(self.id)
