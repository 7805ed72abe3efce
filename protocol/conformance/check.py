#!/usr/bin/env python3
"""Protocol checks that need no example:

  check.py trace FILE...     every message a daemon sent (capillaryd --trace FILE) is valid against
                             protocol/schema: responses against their method's result, errors against
                             error.json, $/progress values against the requesting method's partialResult /
                             workDoneProgress (and a job's end result against its jobResult)
  check.py names --socket S --daemon BIN
                             initialize's capabilities.methods, the daemon's registry (BIN --list-methods),
                             the method sections of protocol/README.md ("### `name`") and the schemas
                             (protocol/schema/methods/*.json titles) name the same set

Each prints "N passed (...)"; exits 1 on any failure.
"""
import argparse
import json
import os
import re
import socket
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from schemas import Catalog, TraceChecker  # noqa: E402

README = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "README.md")


def check_traces(files):
    catalog = Catalog()
    passed = failed = 0
    for path in files:
        checker = TraceChecker(catalog)
        lines = 0
        with open(path, encoding="utf-8") as f:
            for line in f:
                rec = json.loads(line)
                lines += 1
                if rec["direction"] == "received":
                    checker.received(rec["connection"], rec["text"])
                else:
                    checker.sent(rec["connection"], rec["text"])
        c = checker.counts
        summary = (f"{c['responses']} results, {c['errors']} errors, {c['notifications']} notifications, "
                   f"{c['batches']} batch replies in {lines} traced messages")
        if lines == 0:
            checker.fail("the trace is empty: was capillaryd started with --trace?")
        if checker.failures:
            failed += 1
            print(f"FAIL {os.path.basename(path)}: {len(checker.failures)} message(s) break the schemas ({summary}):")
            for f_ in checker.failures[:15]:
                print("  " + f_)
        else:
            passed += 1
            print(f"ok   {os.path.basename(path)}: every message the daemon sent is valid ({summary})")
    print(f"{passed} passed (daemon messages against protocol/schema)")
    return failed == 0


def readme_methods(path=README):
    """Method names of the "### `name`" headings inside the README's "## Methods" section."""
    names, inside = [], False
    for line in open(path, encoding="utf-8"):
        if line.startswith("## "):
            inside = line.strip() == "## Methods"
        m = re.match(r"^### `([^`]+)`", line)
        if inside and m:
            names.append(m.group(1))
    return names


def initialize_methods(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    s.sendall(b'{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"clientInfo":{"name":"check.py"}}}\n')
    buf = b""
    while b"\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("the daemon closed the connection")
        buf += chunk
    s.close()
    return json.loads(buf.split(b"\n", 1)[0])["result"]["capabilities"]["methods"]


def check_names(sock, daemon):
    sets = {
        "initialize capabilities.methods": initialize_methods(sock),
        "daemon registry (capillaryd --list-methods)": subprocess.run(
            [daemon, "--list-methods"], check=True, capture_output=True, text=True).stdout.split(),
        "protocol/README.md method sections": readme_methods(),
        "protocol/schema/methods/*.json titles": list(Catalog().methods),
    }
    ok = True
    for name, values in sets.items():
        dups = sorted({v for v in values if values.count(v) > 1})
        if dups:
            ok = False
            print(f"FAIL {name} names {dups} more than once")
    reference = set(sets["daemon registry (capillaryd --list-methods)"])
    for name, values in sets.items():
        if set(values) != reference:
            ok = False
            print(f"FAIL {name} differs from the daemon registry: missing {sorted(reference - set(values))}, "
                  f"extra {sorted(set(values) - reference)}")
    if ok:
        print(f"ok   initialize, the registry, protocol/README.md and the schemas name the same {len(reference)} methods")
        print("1 passed (method names)")
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    t = sub.add_parser("trace")
    t.add_argument("files", nargs="+")
    n = sub.add_parser("names")
    n.add_argument("--socket", required=True)
    n.add_argument("--daemon", required=True)
    args = ap.parse_args()
    ok = check_traces(args.files) if args.cmd == "trace" else check_names(args.socket, args.daemon)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
