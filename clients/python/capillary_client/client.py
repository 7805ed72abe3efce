"""Blocking client for capillaryd: one Unix-socket connection, a reader thread, any number of callers.

The reader thread owns the receiving side and routes each message to the queue of the request (by ``id``)
or progress token (``$/progress`` ``token``) it belongs to, so calls, streams and jobs can overlap from
several threads. Writes are serialised by a lock (a frame is never interleaved with another).
"""

import itertools
import json
import queue
import socket
import threading

from . import protocol
from .errors import (ClientError, ConnectionClosed, RequestCancelled, RPCError, daemon_not_running,
                     error_from_response, job_result)

_RESPONSE, _PROGRESS, _CLOSED = "response", "progress", "closed"


class Client:
    """A connection to capillaryd (``socket_path`` default: ``protocol.default_socket_path()``).

    Connecting runs ``initialize``/``initialized``; ``initialize_result`` keeps the daemon's answer and
    ``capabilities`` its capabilities (``capabilities["methods"]`` lists what this daemon serves).
    Raises ``DaemonNotRunning`` when nothing listens on the path. Use as a context manager or call ``close()``.
    """

    def __init__(self, socket_path=None, initialize=True, connect_timeout=5.0):
        self.socket_path = socket_path or protocol.default_socket_path()
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(connect_timeout)
        try:
            sock.connect(self.socket_path)
        except OSError as e:
            sock.close()
            raise daemon_not_running(self.socket_path, e) from None
        sock.settimeout(None)
        self._sock = sock
        self._write_lock = threading.Lock()
        self._lock = threading.Lock()
        self._pending = {}      # request id -> queue.Queue receiving (_RESPONSE, message)
        self._tokens = {}       # progress token -> queue.Queue receiving (_PROGRESS, value)
        self._ids = itertools.count(1)
        self._closed = None     # the ConnectionClosed once the connection is gone
        self._reader = threading.Thread(target=self._read_loop, name="capillary-client-reader", daemon=True)
        self._reader.start()
        self.initialize_result = None
        if initialize:
            self.initialize_result = self.call("initialize", protocol.client_info())
            self.notify("initialized", {})

    # -- context management -------------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def capabilities(self):
        """The ``capabilities`` object of the initialize result (empty before initialize)."""
        return (self.initialize_result or {}).get("capabilities", {})

    def close(self):
        """Ends the session politely (``shutdown`` then ``exit``) and closes the socket. Idempotent."""
        if self._closed is None and self.initialize_result is not None:
            try:
                self.call("shutdown", timeout=2.0)
                self.notify("exit")
            except (ClientError, RPCError, TimeoutError, OSError):
                pass
        self._mark_closed(ConnectionClosed("the client closed the connection"))
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
        if self._reader is not threading.current_thread():
            self._reader.join(timeout=2.0)

    # -- the wire -----------------------------------------------------------------------------------

    def _send(self, message):
        if self._closed is not None:
            raise self._closed
        data = protocol.encode(message)
        try:
            with self._write_lock:
                self._sock.sendall(data)
        except OSError as e:
            err = ConnectionClosed(f"writing to {self.socket_path} failed: {e}")
            self._mark_closed(err)
            raise err from None

    def _read_loop(self):
        reason = "the daemon closed the connection"
        try:
            with self._sock.makefile("rb") as stream:
                for line in stream:
                    if line.strip():
                        protocol.route(json.loads(line), self._progress, self._response)
        except (OSError, ValueError) as e:
            reason = f"reading from the daemon failed: {e}"
        self._mark_closed(ConnectionClosed(reason))

    def _progress(self, token, value):
        with self._lock:
            q = self._tokens.get(token)
        if q is not None:
            q.put((_PROGRESS, value))

    def _response(self, message):
        with self._lock:
            q = self._pending.pop(message.get("id"), None)
        if q is not None:
            q.put((_RESPONSE, message))

    def _mark_closed(self, err):
        with self._lock:
            if self._closed is not None:
                return
            self._closed = err
            waiting = list(self._pending.values()) + list(self._tokens.values())
            self._pending.clear()
        for q in waiting:
            q.put((_CLOSED, err))

    def _register(self, q, token=None):
        with self._lock:
            if self._closed is not None:
                raise self._closed
            request_id = next(self._ids)
            self._pending[request_id] = q
            if token is not None:
                self._tokens[token] = q
        return request_id

    def _forget(self, request_id=None, token=None):
        with self._lock:
            self._pending.pop(request_id, None)
            self._tokens.pop(token, None)

    # -- requests -----------------------------------------------------------------------------------

    def notify(self, method, params=None):
        """Sends a notification (no reply)."""
        self._send(protocol.notification(method, params))

    def cancel(self, request_id):
        """Sends ``$/cancelRequest`` for ``request_id``; that request then fails with ``RequestCancelled``."""
        self.notify("$/cancelRequest", {"id": request_id})

    def call(self, method, params=None, timeout=None):
        """Calls ``method`` and returns its result. Raises the typed ``RPCError`` for an error reply,
        ``ConnectionClosed`` if the connection drops, and ``TimeoutError`` after ``timeout`` seconds (the
        request is then cancelled on the daemon). Ctrl-C while waiting cancels the request too."""
        q = queue.Queue()
        request_id = self._register(q)
        try:
            self._send(protocol.request(request_id, method, params))
            kind, payload = q.get(timeout=timeout)
        except queue.Empty:
            self._forget(request_id)
            self._cancel_quietly(request_id)
            raise TimeoutError(f"{method}: no reply within {timeout} s (request cancelled)") from None
        except BaseException:
            self._forget(request_id)
            self._cancel_quietly(request_id)
            raise
        return _result(kind, payload, method)

    def _cancel_quietly(self, request_id):
        try:
            self.cancel(request_id)
        except ClientError:
            pass

    def stream(self, method, params=None):
        """Calls ``method`` with a fresh ``partialResultToken`` and returns a ``Stream`` that yields each
        partial result (``$/progress`` value) as it arrives; ``stream.result`` is the final result."""
        return Stream(self, method, dict(params or {}), transform=None)

    def start_job(self, method, params=None, on_progress=None):
        """Starts a job method (``train``, ``dataset/generate``) with a ``workDoneToken`` and returns its
        ``Job`` once the daemon replied with the job id. ``on_progress(value)`` is called from ``Job.wait``
        for each ``begin``/``report``/``end`` value. Raises the typed ``RPCError`` if the job was refused
        (e.g. ``ServerBusy`` while another job runs, ``InvalidParams``)."""
        q = queue.Queue()
        token = f"capillary-py-work-{next(self._ids)}"
        request_id = self._register(q, token=token)
        params = dict(params or {})
        params["workDoneToken"] = token
        early = []
        try:
            self._send(protocol.request(request_id, method, params))
            while True:
                kind, payload = q.get()
                if kind == _PROGRESS:
                    early.append(payload)   # begin usually overtakes the reply; replayed by wait()
                    continue
                result = _result(kind, payload, method)
                break
        except BaseException:
            self._forget(request_id, token)
            raise
        return Job(self, method, result, q, token, early, on_progress)

    # -- Capillary methods --------------------------------------------------------------------------

    def ping(self):
        """Round trip; returns None."""
        return self.call("ping")

    def status(self):
        """Daemon state (uptime, connections, queue, workers, store, loaded models, jobs)."""
        return self.call("status")

    def graph(self, image, include_graph=False, fov_mm=None):
        """Image -> vessel graph summary, biomarkers and timings (the full graph with ``include_graph``).
        ``image``: path, PNG/BMP bytes or an image dict (see ``protocol.image_param``); ``fov_mm`` in mm."""
        return self.call("graph", protocol.graph_params(image, include_graph, fov_mm))

    def stage(self, image, model=None, fov_mm=None):
        """DR stage with probabilities from a warm model (default ``graphnet``). ``ModelNotFound`` if the
        store has none."""
        return self.call("stage", protocol.stage_params(image, model, fov_mm))

    def attribute(self, image, model=None, target=None, steps=None, top_k=None, heatmap=None, fov_mm=None):
        """Integrated gradients of a warm GNN's decision for ``image``: the top structures (type, sector,
        score, strongest features), per-type feature totals, edge sums and the convergence delta.
        ``target`` is a class name (default: the predicted class); ``heatmap`` is ``"base64"`` (PNG inline
        as ``result["heatmap"]["pngBase64"]``) or an absolute path the daemon writes the PNG to."""
        return self.call("attribute", protocol.attribute_params(image, model, target, steps, top_k, heatmap, fov_mm))

    def explain(self, image, fov_mm=None, **params):
        """Streams the explanation of ``image``: iterate to get each text delta as it is generated;
        ``.result`` holds the final result. Breaking out of the loop (or ``close()``) cancels the request.
        ``MethodNotFound`` if this daemon has no ``explain``."""
        return Stream(self, "explain", protocol.explain_params(image, fov_mm, params), transform=protocol.delta_text)

    def models(self):
        """``models/list``: the store, its versions and which are loaded."""
        return self.call("models/list", {})

    def load_model(self, name, version=None, keep_alive=None):
        """``models/load``: warm ``name`` (``keep_alive`` seconds idle before unloading; -1 forever)."""
        params = {"name": name}
        if version is not None:
            params["version"] = str(version)
        if keep_alive is not None:
            params["keepAlive"] = keep_alive
        return self.call("models/load", params)

    def unload_model(self, name):
        """``models/unload``."""
        return self.call("models/unload", {"name": name})

    def jobs(self):
        """``jobs/list``: running and recently finished jobs."""
        return self.call("jobs/list", {})

    def cancel_job(self, job_id):
        """``jobs/cancel``: asks the job to stop; returns its row."""
        return self.call("jobs/cancel", {"id": job_id})

    def train(self, kind="gnn", cohort=None, generate=None, config=None, name=None, on_progress=None,
              wait=True):
        """Trains a model as a job. Data: ``cohort`` (absolute folder with manifest.jsonl) or ``generate``
        (``{"count", "seed", "sizePX"?}``). With ``wait`` (default) blocks until the job ends and returns
        its result (name, version, accuracies), calling ``on_progress(value)`` on each progress value;
        Ctrl-C cancels the job. Raises ``JobFailed``/``JobCancelled``. ``wait=False`` returns the ``Job``."""
        return self._run_job("train", protocol.train_params(kind, cohort, generate, config, name), on_progress, wait)

    def generate_dataset(self, count, seed, out, size_px=None, mix=None, on_progress=None, wait=True):
        """``dataset/generate``: writes a synthetic cohort of ``count`` eyes to the absolute folder ``out``
        (must not exist or be empty). Same waiting, progress and errors as ``train``."""
        params = protocol.generate_dataset_params(count, seed, out, size_px, mix)
        return self._run_job("dataset/generate", params, on_progress, wait)

    def _run_job(self, method, params, on_progress, wait):
        job = self.start_job(method, params, on_progress)
        if not wait:
            return job
        try:
            return job.wait()
        except KeyboardInterrupt:
            job.cancel()
            raise


def _result(kind, payload, method):
    if kind == _CLOSED:
        raise payload
    if "error" in payload:
        raise error_from_response(payload["error"], method)
    return payload.get("result")


class Stream:
    """Partial results of one request, in order. Iterating yields each chunk (for ``explain``: the
    delta text); the iteration ends at the final response, whose result is then ``self.result``; an error
    response is raised as its typed ``RPCError``. ``close()`` (also on ``break`` in a ``with``/``for``
    once the stream is dropped) sends ``$/cancelRequest`` if the request is still running."""

    def __init__(self, client, method, params, transform):
        self._client = client
        self.method = method
        self._transform = transform
        self._queue = queue.Queue()
        self.token = f"capillary-py-partial-{next(client._ids)}"
        self.id = client._register(self._queue, token=self.token)
        self.result = None
        self.done = False
        params["partialResultToken"] = self.token
        try:
            client._send(protocol.request(self.id, method, params))
        except BaseException:
            self._finish()
            raise

    def __iter__(self):
        return self

    def __next__(self):
        while not self.done:
            try:
                kind, payload = self._queue.get()
            except BaseException:           # Ctrl-C while waiting for the next chunk
                self.close()
                raise
            if kind == _PROGRESS:
                value = payload if self._transform is None else self._transform(payload)
                if value is not None:
                    return value
                continue
            self._finish()
            self.result = _result(kind, payload, self.method)
        raise StopIteration

    def close(self):
        """Cancels the request if it has not finished and waits (up to 5 s) for its final reply."""
        if self.done:
            return
        self._client._cancel_quietly(self.id)
        while True:
            try:
                kind, payload = self._queue.get(timeout=5.0)
            except queue.Empty:
                break
            if kind != _PROGRESS:
                try:
                    self.result = _result(kind, payload, self.method)
                except (RequestCancelled, ClientError):
                    pass
                break
        self._finish()

    def _finish(self):
        self.done = True
        self._client._forget(self.id, self.token)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            if not self.done:
                self.close()
        except Exception:
            pass


class Job:
    """A running daemon job (``id``, e.g. ``job-3``). ``wait()`` follows its work-done progress to the end."""

    def __init__(self, client, method, start_result, q, token, early, on_progress):
        self._client = client
        self.method = method
        self.start_result = start_result
        self.id = start_result.get("jobId")
        self._queue = q
        self.token = token
        self._early = list(early)
        self.on_progress = on_progress
        self.end = None

    def wait(self, timeout=None):
        """Blocks until the job's ``end`` progress; returns its ``result``. Raises ``JobFailed`` or
        ``JobCancelled`` by the end's ``state``, ``TimeoutError`` after ``timeout`` seconds (the job keeps
        running), ``ConnectionClosed`` if the connection drops (the job keeps running on the daemon)."""
        while self.end is None:
            if self._early:
                kind, payload = _PROGRESS, self._early.pop(0)
            else:
                try:
                    kind, payload = self._queue.get(timeout=timeout)
                except queue.Empty:
                    raise TimeoutError(f"job {self.id} still running after {timeout} s") from None
            if kind == _CLOSED:
                raise payload
            if kind != _PROGRESS or not isinstance(payload, dict):
                continue
            if self.on_progress is not None:
                self.on_progress(payload)
            if payload.get("kind") == "end":
                self.end = payload
                self._client._forget(token=self.token)
        return job_result(self.id, self.end)

    def cancel(self):
        """``jobs/cancel`` for this job; its ``end`` then says ``cancelled``. Returns the job's row."""
        return self._client.cancel_job(self.id)
