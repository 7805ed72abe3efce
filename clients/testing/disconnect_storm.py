#!/usr/bin/env python3
"""Client disconnect storm during streaming `explain` (issue 14). Standard library only.

    disconnect_storm.py SOCKET --pid PID [--rounds 300] [--parallel 16] [--seed 1] [--rss-bound-mib 64]

Opens ROUNDS connections (PARALLEL at a time), each starting a streaming explain (partialResultToken, long
maxTokens) on a daemon that serves a VLM and then vanishing in one of six ways: close after a few deltas,
close right after sending, close with a half-sent message, half-close (shutdown SHUT_WR), reset (SO_LINGER 0)
mid-stream, or $/cancelRequest then close. Before and after (once the daemon reports no connection but the
probe's and nothing in flight) it reads the daemon's open file descriptors (/proc/PID/fd), threads
(/proc/PID/task) and RSS (/proc/PID/status VmRSS), after a warm-up of the same storm so pools and caches are
at their steady size. Fails unless fds and threads are back to the baseline exactly, RSS grew by less than
the bound, and the daemon still answers.
"""
import argparse
import json
import os
import random
import socket
import struct
import sys
import threading
import time


def proc_counts(pid):
    fds = len(os.listdir(f"/proc/{pid}/fd"))
    threads = len(os.listdir(f"/proc/{pid}/task"))
    rss_kb = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    return {"fds": fds, "threads": threads, "rssMiB": rss_kb / 1024}


def rpc(sock, ident, method, params=None):
    msg = {"jsonrpc": "2.0", "id": ident, "method": method}
    if params is not None:
        msg["params"] = params
    sock.sendall(json.dumps(msg).encode() + b"\n")


def read_until(sock, buf, pred, timeout=30):
    sock.settimeout(timeout)
    while True:
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            m = json.loads(line)
            if pred(m):
                return m, buf
        chunk = sock.recv(1 << 16)
        if not chunk:
            raise ConnectionError("closed")
        buf += chunk


def explain_params(rng, token=True):
    p = {"image": {"synthetic": {"seed": rng.randrange(1000), "stage": rng.choice(["healthy", "npdr", "pdr"]), "sizePX": 96}},
         "maxTokens": 4096, "temperature": 1.0, "seed": rng.randrange(1 << 30)}
    if token:
        p["partialResultToken"] = "t"
    return p


def one_round(path, rng, kind):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    buf = b""
    rpc(s, 0, "initialize", {})
    _, buf = read_until(s, buf, lambda m: m.get("id") == 0)
    if kind == "after-deltas":
        rpc(s, 1, "explain", explain_params(rng))
        for _ in range(rng.randint(1, 3)):
            m, buf = read_until(s, buf, lambda m: m.get("method") == "$/progress" or m.get("id") == 1)
            if m.get("id") == 1:
                break
        s.close()
    elif kind == "right-after-send":
        rpc(s, 1, "explain", explain_params(rng))
        s.close()
    elif kind == "half-message":
        raw = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "explain", "params": explain_params(rng)}).encode()
        s.sendall(raw[: rng.randint(1, len(raw) - 1)])
        s.close()
    elif kind == "half-close":
        rpc(s, 1, "explain", explain_params(rng))
        s.shutdown(socket.SHUT_WR)
        time.sleep(rng.uniform(0, 0.05))
        s.close()
    elif kind == "reset":
        rpc(s, 1, "explain", explain_params(rng))
        read_until(s, buf, lambda m: m.get("method") == "$/progress" or m.get("id") == 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
    else:  # cancel-then-close
        rpc(s, 1, "explain", explain_params(rng))
        s.sendall(json.dumps({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": 1}}).encode() + b"\n")
        if rng.random() < 0.5:
            read_until(s, buf, lambda m: m.get("id") == 1)
        s.close()


KINDS = ["after-deltas", "right-after-send", "half-message", "half-close", "reset", "cancel-then-close"]


def storm(path, rounds, parallel, seed):
    errors = []
    counter = {"n": 0}
    lock = threading.Lock()

    def worker(wid):
        rng = random.Random(seed * 1000 + wid)
        while True:
            with lock:
                if counter["n"] >= rounds:
                    return
                i = counter["n"]
                counter["n"] += 1
            kind = KINDS[i % len(KINDS)]
            try:
                one_round(path, rng, kind)
            except (OSError, ConnectionError, ValueError) as e:
                errors.append(f"{kind}: {e!r}")

    ts = [threading.Thread(target=worker, args=(w,)) for w in range(parallel)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return errors


def settle(path, timeout=60):
    """Waits until the daemon has only the probe's connection and nothing in flight; returns its status."""
    deadline = time.time() + timeout
    while True:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        rpc(s, 0, "initialize", {})
        rpc(s, 1, "status")
        st, _ = read_until(s, b"", lambda m: m.get("id") == 1)
        s.close()
        r = st["result"]
        if (r["connections"] == 1 and r["inflightRequests"] == 0 and r["busyWorkers"] == 0
                and r["pendingWriteBytes"] == 0) or time.time() > deadline:
            time.sleep(0.3)  # the probe's own close is processed
            return r
        time.sleep(0.1)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("socket")
    ap.add_argument("--pid", type=int, required=True, help="capillaryd's process id (for /proc)")
    ap.add_argument("--rounds", type=int, default=300)
    ap.add_argument("--parallel", type=int, default=16)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--rss-bound-mib", type=float, default=64)
    args = ap.parse_args()
    t0 = time.time()
    warm = storm(args.socket, max(24, args.rounds // 5), args.parallel, args.seed + 7)
    settle(args.socket)
    before = proc_counts(args.pid)
    errors = storm(args.socket, args.rounds, args.parallel, args.seed)
    st = settle(args.socket)
    after = proc_counts(args.pid)
    problems = []
    if st["connections"] != 1 or st["inflightRequests"] != 0:
        problems.append(f"daemon did not settle: {st['connections']} connections, {st['inflightRequests']} in flight")
    if after["fds"] != before["fds"]:
        problems.append(f"open fds {before['fds']} -> {after['fds']}")
    if after["threads"] != before["threads"]:
        problems.append(f"threads {before['threads']} -> {after['threads']}")
    if after["rssMiB"] - before["rssMiB"] > args.rss_bound_mib:
        problems.append(f"RSS grew {after['rssMiB'] - before['rssMiB']:.1f} MiB (bound {args.rss_bound_mib})")
    # Client-side errors are allowed only as the daemon's own close racing ours (a reset or a broken pipe).
    bad = [e for e in errors + warm if "BrokenPipe" not in e and "ConnectionReset" not in e]
    if bad:
        problems.append(f"{len(bad)} unexpected client errors, first: {bad[:3]}")
    print(f"disconnect_storm: {args.rounds} streaming explains abandoned ({args.parallel} at a time, 6 ways) in "
          f"{time.time() - t0:.1f} s; fds {before['fds']} -> {after['fds']}, threads {before['threads']} -> "
          f"{after['threads']}, RSS {before['rssMiB']:.1f} -> {after['rssMiB']:.1f} MiB; requests answered "
          f"{st['requestsAnswered']}")
    if problems:
        print("disconnect_storm: FAILED: " + "; ".join(problems))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
