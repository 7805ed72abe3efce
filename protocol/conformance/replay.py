#!/usr/bin/env python3
"""Replays protocol/examples/*.jsonl against a live capillaryd and checks every reply.

Each example file is one conversation on a fresh connection; each line is one JSON object (a directive):

  {"comment": "..."}                     ignored (explains the example to readers)
  {"framing": "contentLength"}           first line only: use LSP framing instead of lines (NDJSON)
  {"retries": N}                         first line only: a conversation that races by nature (a cancel
                                         against the end of a generation) is run again, up to N times in
                                         all, with ${attempt} = 1, 2, ... (e.g. as the sampling seed)
  {"send": MESSAGE}                      send MESSAGE (params are checked against the method's schema)
  {"send": MESSAGE, "invalid": true}     send a deliberately wrong message (not checked against the schemas)
  {"sendText": "raw"}                    send raw text as one frame (e.g. not JSON)
  {"sendFiller": N}                      send a line of N bytes (for the message-size limit)
  {"expect": PATTERN}                    the next server message must match PATTERN
  {"expect": PATTERN, "repeat": "+"}     one or more consecutive messages matching PATTERN ("*": zero or more)
  {"allow": PATTERN}                     from now on, messages matching PATTERN may come at any point and are
                                         skipped while waiting for an expectation (e.g. job progress reports)
  {"expectSilence": SECONDS}             nothing arrives for that long
  {"expectClose": true}                  the server closes the connection
  {"sleep": SECONDS}

PATTERN is JSON compared with the message: objects must have exactly the listed members unless the
pattern has "$more": true; strings starting with "$" are placeholders:
  "$any", "$string", "$number", "$integer", "$boolean", "$object", "$array", "$null"
  "$regex:EXPR"          a string matching EXPR (re.search)
  "$capture:NAME"        anything; remembered as ${NAME} for later lines
  "${NAME}"              a variable: the runner's (${scratch}, ${png_path}, ${png_base64}) or a capture;
                         inside a longer string it is replaced by its text
{"$oneOf": [P1, P2]} matches if any alternative matches; {"$unordered": [P1, ...]} matches an array whose
elements match the patterns in any order (batch replies).

Prints one line per example and "N passed (protocol examples)"; exits 1 if any failed.
"""
import argparse
import base64
import json
import os
import re
import socket
import struct
import sys
import time
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import schemas  # noqa: E402

# train.jsonl trains the tiny models (graphnet, vlm) that the other examples use, so it runs first.
FIRST = ["train.jsonl"]


class Mismatch(Exception):
    pass


def tiny_png(width=64, height=64):
    """A gray PNG (a soft vertical stripe pattern), written with the standard library only."""
    rows = b"".join(b"\x00" + bytes((x * 7 + y) % 256 for x in range(width)) for y in range(height))

    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


class Connection:
    def __init__(self, path, framing):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.framing = framing
        self.buffer = b""
        self.pushed = []
        self.closed = False

    def send_frame(self, body: bytes):
        if self.framing == "lines":
            self.sock.sendall(body + b"\n")
        else:
            self.sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)

    def _frame(self):
        if self.framing == "lines":
            i = self.buffer.find(b"\n")
            if i < 0:
                return None
            body, self.buffer = self.buffer[:i], self.buffer[i + 1:]
            return body
        i = self.buffer.find(b"\r\n\r\n")
        if i < 0:
            return None
        header = self.buffer[:i].decode()
        n = int(header.split(":", 1)[1])
        if len(self.buffer) < i + 4 + n:
            return None
        body, self.buffer = self.buffer[i + 4:i + 4 + n], self.buffer[i + 4 + n:]
        return body

    def next(self, timeout):
        """The next message, or None on timeout; raises EOFError once the server closed."""
        if self.pushed:
            return self.pushed.pop()
        deadline = time.monotonic() + timeout
        while True:
            body = self._frame()
            if body is not None:
                return json.loads(body)
            if self.closed:
                raise EOFError
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                return None
            except ConnectionResetError:
                data = b""
            if not data:
                self.closed = True
            self.buffer += data

    def push_back(self, message):
        self.pushed.append(message)


class Matcher:
    def __init__(self, variables):
        self.vars = variables

    def substitute(self, value):
        if isinstance(value, str):
            m = re.fullmatch(r"\$\{(\w+)\}", value)
            if m:
                return self.vars[m.group(1)]
            return re.sub(r"\$\{(\w+)\}", lambda m: str(self.vars[m.group(1)]), value)
        if isinstance(value, list):
            return [self.substitute(v) for v in value]
        if isinstance(value, dict):
            return {k: self.substitute(v) for k, v in value.items()}
        return value

    def match(self, pattern, actual, path="$"):
        """Raises Mismatch naming the path of the first difference."""
        if isinstance(pattern, str) and "${" in pattern and not pattern.startswith("$regex:"):
            pattern = self.substitute(pattern)
            if not isinstance(pattern, str):
                return self.match(pattern, actual, path)
        elif isinstance(pattern, str) and pattern.startswith("$") and not pattern.startswith("$/"):
            self._placeholder(pattern, actual, path)
            return
        if isinstance(pattern, dict) and "$oneOf" in pattern:
            errors = []
            for alt in pattern["$oneOf"]:
                try:
                    saved = dict(self.vars)
                    self.match(alt, actual, path)
                    return
                except Mismatch as e:
                    self.vars = saved
                    errors.append(str(e))
            raise Mismatch(f"{path}: no alternative matches ({'; '.join(errors)})")
        if isinstance(pattern, dict) and "$unordered" in pattern:
            if not isinstance(actual, list) or len(actual) != len(pattern["$unordered"]):
                raise Mismatch(f"{path}: expected an array of {len(pattern['$unordered'])}, got {json.dumps(actual)[:200]}")
            left = list(actual)
            for p in pattern["$unordered"]:
                for i, a in enumerate(left):
                    try:
                        self.match(p, a, path)
                        del left[i]
                        break
                    except Mismatch:
                        continue
                else:
                    raise Mismatch(f"{path}: no element matches {json.dumps(p)}")
            return
        if isinstance(pattern, dict):
            if not isinstance(actual, dict):
                raise Mismatch(f"{path}: expected an object, got {json.dumps(actual)[:200]}")
            keys = [k for k in pattern if k != "$more"]
            for k in keys:
                if k not in actual:
                    raise Mismatch(f"{path}: member '{k}' missing in {json.dumps(actual)[:300]}")
                self.match(pattern[k], actual[k], f"{path}.{k}")
            if not pattern.get("$more"):
                extra = sorted(set(actual) - set(keys))
                if extra:
                    raise Mismatch(f"{path}: unexpected member(s) {extra}")
            return
        if isinstance(pattern, list):
            if not isinstance(actual, list) or len(actual) != len(pattern):
                raise Mismatch(f"{path}: expected {json.dumps(pattern)[:200]}, got {json.dumps(actual)[:200]}")
            for i, (p, a) in enumerate(zip(pattern, actual)):
                self.match(p, a, f"{path}[{i}]")
            return
        if isinstance(pattern, str):
            pattern = self.substitute(pattern)
        if type(pattern) is not type(actual) and not (isinstance(pattern, (int, float)) and isinstance(actual, (int, float))
                                                       and not isinstance(actual, bool)):
            raise Mismatch(f"{path}: expected {json.dumps(pattern)}, got {json.dumps(actual)[:200]}")
        if pattern != actual:
            raise Mismatch(f"{path}: expected {json.dumps(pattern)}, got {json.dumps(actual)[:200]}")

    def _placeholder(self, p, a, path):
        if re.fullmatch(r"\$\{(\w+)\}", p):
            return self.match(self.substitute(p), a, path)
        if p.startswith("$capture:"):
            self.vars[p[len("$capture:"):]] = a
            return
        if p.startswith("$regex:"):
            expr = re.sub(r"\$\{(\w+)\}", lambda m: re.escape(str(self.vars[m.group(1)])), p[len("$regex:"):])
            if not isinstance(a, str) or not re.search(expr, a):
                raise Mismatch(f"{path}: {json.dumps(a)[:200]} does not match /{p[7:]}/")
            return
        checks = {
            "$any": lambda v: True,
            "$string": lambda v: isinstance(v, str),
            "$number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
            "$integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
            "$boolean": lambda v: isinstance(v, bool),
            "$object": lambda v: isinstance(v, dict),
            "$array": lambda v: isinstance(v, list),
            "$null": lambda v: v is None,
        }
        if p not in checks:
            raise Mismatch(f"{path}: unknown placeholder {p}")
        if not checks[p](a):
            raise Mismatch(f"{path}: expected {p[1:]}, got {json.dumps(a)[:200]}")


def run_example(path, socket_path, variables, catalog, timeout):
    lines = [json.loads(l) for l in open(path, encoding="utf-8") if l.strip()]
    attempts = lines.pop(0)["retries"] if lines and "retries" in lines[0] else 1
    for attempt in range(1, attempts + 1):
        try:
            return run_conversation(lines, socket_path, dict(variables, attempt=attempt), catalog, timeout)
        except Mismatch as e:
            if attempt == attempts:
                raise
            print(f"     {os.path.basename(path)}: attempt {attempt} lost the race ({e}); again", flush=True)


def run_conversation(lines, socket_path, variables, catalog, timeout):
    matcher = Matcher(dict(variables))
    lines = list(lines)
    framing = "lines"
    if lines and "framing" in lines[0]:
        framing = lines.pop(0)["framing"]
    conn = Connection(socket_path, framing)
    allowed = []
    sent_methods = set()

    def next_message(pattern):
        """The next message that is not skipped by an `allow` (a message matching `pattern` is never skipped)."""
        while True:
            m = conn.next(timeout)
            if m is None:
                raise Mismatch(f"timed out after {timeout} s waiting for {json.dumps(pattern)[:200]}")
            if _matches(matcher, pattern, m) or not any(_matches(matcher, a, m) for a in allowed):
                return m

    try:
        for n, d in enumerate(lines, 1):
            try:
                if "comment" in d:
                    continue
                if "send" in d:
                    msg = matcher.substitute(d["send"])
                    if not d.get("invalid"):
                        catalog.check_request(msg)
                    for m in (msg if isinstance(msg, list) else [msg]):
                        if isinstance(m, dict) and isinstance(m.get("method"), str):
                            sent_methods.add(m["method"])
                    conn.send_frame(json.dumps(msg, separators=(",", ":")).encode())
                elif "sendText" in d:
                    conn.send_frame(matcher.substitute(d["sendText"]).encode())
                elif "sendFiller" in d:
                    conn.send_frame(b"a" * d["sendFiller"])
                elif "expect" in d:
                    rep = d.get("repeat")
                    minimum = 0 if rep == "*" else 1
                    count = 0
                    while True:
                        try:
                            m = next_message(d["expect"])
                        except EOFError:
                            if rep and count >= minimum:
                                break
                            raise Mismatch("the server closed the connection")
                        try:
                            matcher.match(d["expect"], m)
                        except Mismatch:
                            if rep and count >= minimum:
                                conn.push_back(m)
                                break
                            raise
                        count += 1
                        if not rep:
                            break
                elif "allow" in d:
                    allowed.append(d["allow"])
                elif "expectSilence" in d:
                    conn.sock.settimeout(None)
                    m = conn.next(d["expectSilence"])
                    if m is not None:
                        raise Mismatch(f"expected silence, got {json.dumps(m)[:200]}")
                elif "expectClose" in d:
                    try:
                        while True:
                            m = conn.next(timeout)
                            if m is None:
                                raise Mismatch("the connection stayed open")
                            raise Mismatch(f"expected the connection to close, got {json.dumps(m)[:200]}")
                    except EOFError:
                        pass
                elif "sleep" in d:
                    time.sleep(d["sleep"])
                else:
                    raise Mismatch(f"unknown directive {json.dumps(d)}")
            except Mismatch as e:
                raise Mismatch(f"line {n + (1 if framing != 'lines' else 0)}: {e}")
            except (BrokenPipeError, ConnectionResetError) as e:
                raise Mismatch(f"line {n}: connection broken: {e}")
    finally:
        conn.sock.close()
    return sent_methods


def _matches(matcher, pattern, message):
    try:
        Matcher(dict(matcher.vars)).match(pattern, message)
        return True
    except Mismatch:
        return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--socket", required=True)
    ap.add_argument("--examples", default=os.path.join(os.path.dirname(__file__), "..", "examples"))
    ap.add_argument("--scratch", required=True, help="a folder the examples may write into")
    ap.add_argument("--timeout", type=float, default=240)
    ap.add_argument("--only", help="run only this example file name")
    args = ap.parse_args()
    catalog = schemas.Catalog()
    png = tiny_png()
    png_path = os.path.join(args.scratch, "stripes.png")
    with open(png_path, "wb") as f:
        f.write(png)
    variables = {"scratch": args.scratch, "png_path": png_path, "png_base64": base64.b64encode(png).decode()}
    files = sorted(f for f in os.listdir(args.examples) if f.endswith(".jsonl"))
    files = [f for f in FIRST if f in files] + [f for f in files if f not in FIRST]
    if args.only:
        files = [args.only]
    passed, failed, covered = 0, 0, set()
    for f in files:
        t0 = time.monotonic()
        try:
            covered |= run_example(os.path.join(args.examples, f), args.socket, variables, catalog, args.timeout)
            passed += 1
            print(f"ok   {f} ({time.monotonic() - t0:.1f} s)", flush=True)
        except Exception as e:  # noqa: BLE001 - report every failure and go on
            failed += 1
            print(f"FAIL {f}: {type(e).__name__ if not isinstance(e, Mismatch) else ''}{e}", flush=True)
    if not args.only:
        missing = sorted(set(catalog.methods) - covered)
        if missing:
            failed += 1
            print(f"FAIL examples: no example sends {missing} (add protocol/examples/<method>.jsonl)")
        else:
            passed += 1
            print(f"ok   every method of the schemas is sent by some example ({len(catalog.methods)})")
    print(f"{passed} passed (protocol examples)")
    if failed:
        print(f"protocol examples: {failed} failed", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
