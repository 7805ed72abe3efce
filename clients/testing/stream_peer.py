#!/usr/bin/env python3
"""A scripted JSON-RPC peer that streams `explain`-shaped partial results, for client tests only.

capillaryd does not serve `explain` yet (it needs the VLM module), so the clients' streaming and
early-close cancellation are pinned against this peer, over a real Unix socket with the daemon's framing
(NDJSON), lifecycle (-32002 before initialize) and cancellation rules (-32800 with data.reason). It is not a
model: the deltas are the words `w0 w1 ...`. Usage: stream_peer.py SOCKET_PATH (runs until SIGTERM).

Methods: initialize, initialized, shutdown, exit, ping, explain {partialResultToken?, deltas=20, delayMS=20}
-> partials {"kind":"delta","text":"wI "} then {"text": all, "deltas": n}; peer/stats -> {"cancelled": [ids],
"completed": [ids]} (ids of explain requests, in order).
"""

import json
import os
import signal
import socket
import sys
import threading

stats = {"cancelled": [], "completed": []}
stats_lock = threading.Lock()


def serve(conn):
    write_lock = threading.Lock()
    cancelled = set()
    initialized = [False]

    def send(message):
        data = (json.dumps(message) + "\n").encode()
        with write_lock:
            try:
                conn.sendall(data)
            except OSError:
                pass

    def explain(request_id, params):
        token = params.get("partialResultToken")
        count = int(params.get("deltas", 20))
        delay = float(params.get("delayMS", 20)) / 1000
        text = ""
        for i in range(count):
            if request_id in cancelled:
                break
            piece = f"w{i} "
            text += piece
            if token is not None:
                send({"jsonrpc": "2.0", "method": "$/progress",
                      "params": {"token": token, "value": {"kind": "delta", "text": piece}}})
            threading.Event().wait(delay)
        with stats_lock:
            if request_id in cancelled:
                stats["cancelled"].append(request_id)
                send({"jsonrpc": "2.0", "id": request_id,
                      "error": {"code": -32800, "message": "Request cancelled", "data": {"reason": "cancelRequest"}}})
            else:
                stats["completed"].append(request_id)
                send({"jsonrpc": "2.0", "id": request_id, "result": {"text": text, "deltas": count}})

    buffer = b""
    while True:
        try:
            chunk = conn.recv(65536)
        except OSError:
            break
        if not chunk:
            break
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            if not line.strip():
                continue
            message = json.loads(line)
            method, request_id, params = message.get("method"), message.get("id"), message.get("params") or {}
            if "id" not in message:
                if method == "$/cancelRequest":
                    cancelled.add(params.get("id"))
                elif method == "exit":
                    conn.close()
                    return
                continue
            if method != "initialize" and not initialized[0]:
                send({"jsonrpc": "2.0", "id": request_id,
                      "error": {"code": -32002, "message": "Server not initialized", "data": method}})
            elif method == "initialize":
                initialized[0] = True
                send({"jsonrpc": "2.0", "id": request_id, "result": {
                    "protocolVersion": "1.0", "serverInfo": {"name": "stream-peer", "version": "0"},
                    "capabilities": {"methods": ["explain", "ping", "peer/stats"], "partialResults": True}}})
            elif method in ("ping", "shutdown"):
                send({"jsonrpc": "2.0", "id": request_id, "result": None})
            elif method == "explain":
                threading.Thread(target=explain, args=(request_id, params), daemon=True).start()
            elif method == "peer/stats":
                with stats_lock:
                    send({"jsonrpc": "2.0", "id": request_id, "result": dict(stats)})
            else:
                send({"jsonrpc": "2.0", "id": request_id,
                      "error": {"code": -32601, "message": "Method not found", "data": method}})
    conn.close()


def main():
    path = sys.argv[1]
    if os.path.exists(path):
        os.unlink(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(16)
    signal.signal(signal.SIGTERM, lambda *_: (os.unlink(path) if os.path.exists(path) else None, os._exit(0)))
    print("ready", flush=True)
    while True:
        conn, _ = server.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
