#!/usr/bin/env python3
"""Checks the checkers: the trace validator must reject messages that break the schemas (and accept ones
that do not), and the example matcher must honour its placeholders. Run by run.sh before the daemon."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from replay import Matcher, Mismatch  # noqa: E402
from schemas import Catalog, TraceChecker  # noqa: E402

catalog = Catalog()
IMAGE = {"source": "synthetic", "widthPX": 96, "heightPX": 96, "pixelSizeMM": 0.03, "fovMM": 3.0}
STAGE = {"stage": "npdr", "classIndex": 1, "probabilities": {"healthy": 0.1, "npdr": 0.8, "pdr": 0.1},
         "model": {"name": "graphnet", "version": "1", "kind": "graphnet"}, "image": IMAGE,
         "timings": {"decodeMS": 1.0, "graphMS": 2.0, "inferenceMS": 0.5, "totalMS": 3.5}}


def failures(conversation):
    """Feeds (direction, message) pairs on connection 1 to a TraceChecker; returns its failures."""
    t = TraceChecker(catalog)
    for direction, msg in conversation:
        text = msg if isinstance(msg, str) else json.dumps(msg)
        (t.received if direction == ">" else t.sent)(1, text)
    return t.failures


def stage_request(params=None):
    return (">", {"jsonrpc": "2.0", "id": 1, "method": "stage",
                  "params": params or {"image": {"synthetic": {"seed": 1, "stage": "npdr"}}, "partialResultToken": "p"}})


cases = {
    "a valid stage result passes": (failures([stage_request(), ("<", {"jsonrpc": "2.0", "id": 1, "result": STAGE})]), False),
    "a result missing a required member fails": (failures([stage_request(), ("<", {"jsonrpc": "2.0", "id": 1, "result": {
        k: v for k, v in STAGE.items() if k != "stage"}})]), True),
    "an undocumented result member fails": (failures([stage_request(), ("<", {"jsonrpc": "2.0", "id": 1, "result": dict(
        STAGE, extra=1)})]), True),
    "a result nobody asked for fails": (failures([("<", {"jsonrpc": "2.0", "id": 5, "result": None})]), True),
    "an error with the wrong message for its code fails": (failures([stage_request(), ("<", {"jsonrpc": "2.0", "id": 1,
        "error": {"code": -32020, "message": "Not found", "data": "x"}})]), True),
    "a -32800 without data.reason fails": (failures([stage_request(), ("<", {"jsonrpc": "2.0", "id": 1,
        "error": {"code": -32800, "message": "Request cancelled"}})]), True),
    "progress for a token no request gave fails": (failures([("<", {"jsonrpc": "2.0", "method": "$/progress",
        "params": {"token": "zz", "value": {"kind": "delta", "text": "a"}}})]), True),
    "partial results from a method that does not stream fail": (failures([stage_request(), ("<", {
        "jsonrpc": "2.0", "method": "$/progress", "params": {"token": "p", "value": {"kind": "delta", "text": "a"}}})]), True),
    "a valid explain delta passes": (failures([(">", {"jsonrpc": "2.0", "id": 2, "method": "explain", "params": {
        "image": "/x.png", "partialResultToken": 7}}), ("<", {"jsonrpc": "2.0", "method": "$/progress", "params": {
        "token": 7, "value": {"kind": "delta", "text": "Stage"}}})]), False),
    "a job end whose result breaks jobResult fails": (failures([(">", {"jsonrpc": "2.0", "id": 3, "method": "dataset/generate",
        "params": {"count": 1, "seed": 1, "out": "/o", "workDoneToken": "w"}}), ("<", {"jsonrpc": "2.0", "method": "$/progress",
        "params": {"token": "w", "value": {"kind": "end", "message": "done", "jobId": "job-1", "state": "succeeded",
                                           "result": {"out": "/o"}}}})]), True),
    "text that is not JSON fails": (failures([("<", "{oops")]), True),
}
passed = 0
for name, (found, should_fail) in cases.items():
    if bool(found) == should_fail:
        passed += 1
    else:
        print(f"FAIL trace checker: {name}: got {found or 'no failure'}")

m = Matcher({"job": "job-3", "n": 4})
matcher_cases = [
    ({"a": "$integer", "$more": True}, {"a": 1, "b": 2}, True),
    ({"a": "$integer"}, {"a": 1, "b": 2}, False),
    ({"a": "$string"}, {"a": 1}, False),
    ("${job}", "job-3", True),
    ("${n}", 4, True),
    ("x/${job}/y", "x/job-3/y", True),
    ("$regex:^job-[0-9]+$", "job-12", True),
    ("$regex:running \\(${job}\\)", "1 running (job-3)", True),
    ({"$oneOf": ["a", None]}, None, True),
    ({"$unordered": [1, 2]}, [2, 1], True),
    ({"$unordered": [1, 2]}, [2, 2], False),
    ("$/progress", "$/progress", True),
    ([1, "$any"], [1, {"x": 1}], True),
    ([1], [1, 2], False),
]
for pattern, actual, ok in matcher_cases:
    try:
        m.match(pattern, actual)
        got = True
    except Mismatch:
        got = False
    if got == ok:
        passed += 1
    else:
        print(f"FAIL matcher: {json.dumps(pattern)} vs {json.dumps(actual)} should {'match' if ok else 'not match'}")
m.match({"id": "$capture:x"}, {"id": "job-9"})
if m.substitute({"p": "${x}"}) == {"p": "job-9"}:
    passed += 1
else:
    print("FAIL matcher: $capture then ${x}")
total = len(cases) + len(matcher_cases) + 1
print(f"{passed} passed (conformance self-test)")
sys.exit(0 if passed == total else 1)
