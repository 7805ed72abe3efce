#!/usr/bin/env python3
"""Bad-input sweep: sends thousands of malformed, truncated, wrong-typed and random messages to a live
capillaryd (seeded, so a failure can be replayed) and checks that every reply carries the JSON-RPC error code
its category must get, that the connection keeps working after each one, and that the daemon still answers
new connections at the end. Standard library only.

    bad_input_sweep.py SOCKET [--count 3000] [--seed 1]

Exit status 0 when every reply was as expected; 1 with the first mismatches otherwise.
"""
import argparse
import json
import random
import socket
import sys

PARSE, INVALID_REQUEST, METHOD_NOT_FOUND, INVALID_PARAMS, MODEL_NOT_FOUND = -32700, -32600, -32601, -32602, -32020


class Connection:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.buf = b""

    def send_line(self, raw: bytes):
        self.sock.sendall(raw + b"\n")

    def reply(self):
        """The next message that is not a notification (progress/log), parsed."""
        while True:
            while b"\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise ConnectionError("daemon closed the connection")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\n", 1)
            msg = json.loads(line)
            if isinstance(msg, dict) and "method" in msg and "id" not in msg:
                continue
            return msg

    def call(self, method, params, ident):
        self.send_line(json.dumps({"jsonrpc": "2.0", "id": ident, "method": method, "params": params}).encode())
        return self.reply()


def junk_value(rng):
    return rng.choice([None, True, -1, 0, 1e308, "", "x" * rng.randint(1, 40), [], [1, "a"], {}, {"k": [None]},
                       -2 ** 63, 3.5, "\u0000", "/no/such/file.png"])


def cases(rng, count):
    """(category, raw line, expected error code or set of acceptable codes) tuples."""
    methods = ["graph", "stage", "attribute", "explain", "train", "dataset/generate", "jobs/cancel",
               "models/load", "models/unload"]
    for i in range(count):
        ident = 1000 + i
        kind = rng.randrange(7)
        if kind == 0:      # bytes that are not JSON at all (random printable junk, invalid UTF-8)
            raw = bytes(rng.randrange(1, 256) for _ in range(rng.randint(1, 200))).replace(b"\n", b" ")
            if raw.strip() == b"" or raw.lstrip()[:1] in (b"C", b"c"):
                raw = b"@" + raw    # a leading C would switch the connection to Content-Length framing
            yield "not-json", raw, PARSE
        elif kind == 1:    # a valid request cut short
            full = json.dumps({"jsonrpc": "2.0", "id": ident, "method": rng.choice(methods),
                               "params": {"image": {"synthetic": {"seed": 1, "stage": "npdr"}}}}).encode()
            yield "truncated", full[: rng.randint(1, len(full) - 1)], PARSE
        elif kind == 2:    # JSON that is not a request object
            yield "not-a-request", json.dumps(rng.choice([1, "x", None, True, [], {"id": ident},
                                                          {"jsonrpc": "1.0", "id": ident, "method": "ping"},
                                                          {"jsonrpc": "2.0", "id": ident, "method": 7}])).encode(), INVALID_REQUEST
        elif kind == 3:    # an unknown method
            name = rng.choice(["", "nosuch", "graph/", "$/unknown", "stage ", "GRAPH", "x" * 300])
            yield "unknown-method", json.dumps({"jsonrpc": "2.0", "id": ident, "method": name, "params": {}}).encode(), METHOD_NOT_FOUND
        elif kind == 4:    # a known method with params of the wrong type
            method = rng.choice(methods)
            params = rng.choice([junk_value(rng), {"image": junk_value(rng)}, [1, 2]])
            if isinstance(params, dict) and not params:
                params = {"image": 5}
            # JSON-RPC 2.0: params that are not a structured value make the whole request invalid.
            expected = INVALID_PARAMS if isinstance(params, (dict, list)) else INVALID_REQUEST
            yield "wrong-params", json.dumps({"jsonrpc": "2.0", "id": ident, "method": method, "params": params}).encode(), expected
        elif kind == 5:    # a good image with a wrong option
            method, option = rng.choice([("attribute", {"steps": rng.choice([-1, 0, 1, 10 ** 6, "50"])}),
                                         ("attribute", {"target": rng.choice(["", "severe", 3])}),
                                         ("attribute", {"heatmap": rng.choice(["png", {"path": "rel.png"}, 7])}),
                                         ("explain", {"maxTokens": rng.choice([-5, 10 ** 7, "many"])}),
                                         ("explain", {"temperature": rng.choice([-1, "hot"])}),
                                         ("graph", {"includeGraph": rng.choice(["yes", 2])})])
            params = {"image": {"synthetic": {"seed": rng.randint(0, 9), "stage": "npdr", "sizePX": 64}}, **option}
            # A class name can only be checked against a model: on a store without one it is "model not found".
            expected = {INVALID_PARAMS, MODEL_NOT_FOUND} if "target" in option else INVALID_PARAMS
            yield "wrong-option", json.dumps({"jsonrpc": "2.0", "id": ident, "method": method, "params": params}).encode(), expected
        else:              # bad images: missing files, relative paths, non-PNG base64, impossible sizes
            image = rng.choice([{"path": "/no/such.png"}, {"path": "relative.png"}, {"png_base64": "AAAA"},
                                {"png_base64": "not base64!"}, {"synthetic": {"seed": 1, "stage": "severe"}},
                                {"synthetic": {"seed": 1, "stage": "npdr", "sizePX": 100000}},
                                {"path": "/etc/passwd"}, {"path": "/no.png", "png_base64": "AAAA"}])
            yield "bad-image", json.dumps({"jsonrpc": "2.0", "id": ident, "method": "graph", "params": {"image": image}}).encode(), INVALID_PARAMS


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("socket")
    ap.add_argument("--count", type=int, default=3000)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    c = Connection(args.socket)
    init = c.call("initialize", {"clientInfo": {"name": "bad-input-sweep"}}, 0)
    assert "result" in init, init
    c.send_line(json.dumps({"jsonrpc": "2.0", "method": "initialized", "params": {}}).encode())
    failures, seen = [], {}
    for n, (category, raw, expected) in enumerate(cases(rng, args.count)):
        c.send_line(raw)
        msg = c.reply()
        code = msg.get("error", {}).get("code") if isinstance(msg, dict) else None
        seen[category] = seen.get(category, 0) + 1
        if code != expected and not (isinstance(expected, set) and code in expected):
            failures.append(f"#{n} {category}: sent {raw[:120]!r}, expected error {expected}, got {json.dumps(msg)[:200]}")
        # The connection must stay usable after every refusal (checked every 50 messages to keep it quick).
        if n % 50 == 0:
            pong = c.call("ping", {}, 10 ** 9 + n)
            if "result" not in pong:
                failures.append(f"#{n}: ping after {category} failed: {pong}")
    fresh = Connection(args.socket)
    ok = "result" in fresh.call("initialize", {"clientInfo": {"name": "after-sweep"}}, 1)
    if not ok:
        failures.append("a new connection after the sweep was not served")
    # One test for CI's summary line, however many messages it sent.
    print(f"{0 if failures else 1} passed (bad-input sweep: {args.count} messages, " +
          ", ".join(f"{k} {v}" for k, v in sorted(seen.items())) + f"; seed {args.seed}; {len(failures)} unexpected replies)")
    if failures:
        print(f"bad-input sweep: {len(failures)} failed", file=sys.stderr)
        for f in failures[:20]:
            print("  " + f, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
