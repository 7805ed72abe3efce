#!/usr/bin/env python3
"""Soak test (issue 14): many clients for minutes against one capillaryd. Standard library only.

    soak.py BIN_DIR [--minutes 10] [--clients 64] [--seed 1] [--store DIR] [--out bench-out/soak.json]
            [--rss-bound-mib 96] [--size-px 96]
    soak.py --socket SOCK --pid PID [...]     (attach to a running daemon; methods without a model are left out)

Starts capillaryd on a private socket. Without --store it trains tiny models through the daemon first (a
GNN and a VLM on a 14-eye 96 px synthetic cohort: `train` kind pipeline), so the run needs nothing but the
binaries. Then CLIENTS threads, each with its own connection, loop for MINUTES over `stage` (45%),
`attribute` (20%) and streaming `explain` (35%) on the cohort's PNGs (by path) or synthetic eyes; 10% of
the requests are cancelled ($/cancelRequest after a random delay) and 10% are abandoned by disconnecting
mid-request (the client reconnects). Recorded: requests completed per second, p50/p99 latency per method,
error counts by code, and the daemon's RSS, open fds and threads at start (after a warm-up), every 10 s and
at the end (after it settles). Fails when RSS grew by more than the bound, fds or threads did not return to
their start values, a reply carried an unexpected error, or the daemon stopped answering.
Writes a markdown table to stdout and JSON to --out.
"""
import argparse
import glob
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

GNN = {"epochs": 3, "hidden": 16, "layers": 2, "batchSize": 4, "patience": 3, "seed": 1}
VLM = {"preset": "tiny", "alignmentSteps": 10, "instructionSteps": 40, "batchSize": 4, "maxVocab": 400, "seed": 1}
WEIGHTS = [("stage", 0.45), ("attribute", 0.20), ("explain", 0.35)]
CANCELLED, BUSY = -32800, -32010


def proc_counts(pid):
    rss_kb = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss_kb = int(line.split()[1])
    return {"fds": len(os.listdir(f"/proc/{pid}/fd")), "threads": len(os.listdir(f"/proc/{pid}/task")),
            "rssMiB": round(rss_kb / 1024, 1)}


class Conn:
    def __init__(self, path):
        self.s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.s.settimeout(120)
        self.s.connect(path)
        self.buf = b""
        self.send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}})
        self.until(0)

    def send(self, msg):
        self.s.sendall(json.dumps(msg).encode() + b"\n")

    def next(self):
        while b"\n" not in self.buf:
            chunk = self.s.recv(1 << 16)
            if not chunk:
                raise ConnectionError("daemon closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def until(self, ident):
        while True:
            m = self.next()
            if m.get("id") == ident and "method" not in m:
                return m

    def close(self):
        try:
            self.s.close()
        except OSError:
            pass


def call_once(path, method, params, timeout=120):
    c = Conn(path)
    try:
        msg = {"jsonrpc": "2.0", "id": 1, "method": method}
        if params is not None:
            msg["params"] = params
        c.send(msg)
        return c.until(1)
    finally:
        c.close()


def start_daemon(bin_dir, work, store):
    sock = os.path.join(work, "d.sock")
    log = open(os.path.join(work, "daemon.log"), "ab")
    p = subprocess.Popen([os.path.join(bin_dir, "capillaryd"), "--socket", sock, "--store", store, "--log-level", "info"],
                         stdout=subprocess.DEVNULL, stderr=log)
    deadline = time.time() + 60
    while time.time() < deadline:
        if p.poll() is not None:
            raise RuntimeError(f"capillaryd exited at start-up; see {work}/daemon.log")
        try:
            Conn(sock).close()
            return p, sock
        except (FileNotFoundError, ConnectionRefusedError):
            time.sleep(0.05)
    raise RuntimeError("capillaryd did not listen within 60 s")


def train_tiny(sock):
    c = Conn(sock)
    c.send({"jsonrpc": "2.0", "id": 1, "method": "train", "params": {
        "kind": "pipeline", "generate": {"count": 14, "seed": 3, "sizePX": 96}, "config": dict(GNN, **VLM),
        "workDoneToken": "w"}})
    while True:
        m = c.next()
        if m.get("id") == 1 and "error" in m:
            raise RuntimeError(f"train refused: {m}")
        v = m.get("params", {}).get("value", {}) if m.get("method") == "$/progress" else {}
        if v.get("kind") == "end":
            c.close()
            if v.get("state") != "succeeded":
                raise RuntimeError(f"training failed: {v}")
            return v["result"]


class Attached:
    """A daemon this script did not start: only its pid, for /proc and liveness."""
    def __init__(self, pid):
        self.pid = pid
        self.returncode = None

    def poll(self):
        return None if os.path.exists(f"/proc/{self.pid}") else 1


def percentile(xs, q):
    if not xs:
        return None
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))]


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.latency = {"stage": [], "attribute": [], "explain": []}
        self.errors = {}          # "method code" -> count
        self.unexpected = []
        self.cancelled_sent = 0
        self.disconnects = 0
        self.completed = 0

    def add(self, method, ms=None, code=None, expected=True, detail=""):
        with self.lock:
            if ms is not None:
                self.latency[method].append(ms)
                self.completed += 1
            if code is not None:
                key = f"{method} {code}"
                self.errors[key] = self.errors.get(key, 0) + 1
                if not expected:
                    self.unexpected.append(f"{method}: {detail}"[:300])


SIZE_PX = 96


def params_for(method, rng, images):
    if images and rng.random() < 0.6:
        image = {"path": rng.choice(images)}
    else:
        image = {"synthetic": {"seed": rng.randrange(10000), "stage": rng.choice(["healthy", "npdr", "pdr"]),
                               "sizePX": SIZE_PX}}
    if method == "explain":
        return {"image": image, "maxTokens": 64, "partialResultToken": "p", "temperature": rng.choice([0, 0.8]),
                "seed": rng.randrange(1 << 30)}
    if method == "attribute":
        return {"image": image, "steps": rng.choice([10, 20]), "topK": 5}
    return {"image": image}


def client_loop(cid, path, images, stop_at, stats, seed):
    rng = random.Random(seed * 7919 + cid)
    conn = None
    ident = 0
    while time.time() < stop_at:
        try:
            if conn is None:
                conn = Conn(path)
            method = rng.choices([m for m, _ in WEIGHTS], [w for _, w in WEIGHTS])[0]
            action = rng.random()
            ident += 1
            t0 = time.perf_counter()
            conn.send({"jsonrpc": "2.0", "id": ident, "method": method, "params": params_for(method, rng, images)})
            if action < 0.10:     # abandon: disconnect mid-request
                time.sleep(rng.uniform(0, 0.3))
                conn.close()
                conn = None
                with stats.lock:
                    stats.disconnects += 1
                continue
            if action < 0.20:     # cancel after a random delay
                time.sleep(rng.uniform(0, 0.3))
                conn.send({"jsonrpc": "2.0", "method": "$/cancelRequest", "params": {"id": ident}})
                with stats.lock:
                    stats.cancelled_sent += 1
            m = conn.until(ident)
            ms = (time.perf_counter() - t0) * 1000
            if "result" in m:
                stats.add(method, ms=ms if action >= 0.20 else None)
            else:
                code = m["error"]["code"]
                ok = (code == CANCELLED and action < 0.20) or code == BUSY
                stats.add(method, code=code, expected=ok, detail=json.dumps(m["error"]))
                if code == BUSY:
                    time.sleep(m["error"].get("data", {}).get("retryAfterMs", 100) / 1000)
        except (OSError, ConnectionError, ValueError) as e:
            stats.add("connection", code="exception", expected=False, detail=repr(e))
            if conn:
                conn.close()
            conn = None
            time.sleep(0.1)
    if conn:
        conn.close()


def status(path):
    return call_once(path, "status", None)["result"]


def settle(path, timeout=120):
    deadline = time.time() + timeout
    while True:
        r = status(path)
        if (r["connections"] <= 1 and r["inflightRequests"] == 0 and r["busyWorkers"] == 0) or time.time() > deadline:
            time.sleep(0.3)
            return r
        time.sleep(0.2)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bin_dir", nargs="?")
    ap.add_argument("--socket", help="attach to this running daemon instead of starting one")
    ap.add_argument("--pid", type=int, help="the attached daemon's process id (for /proc)")
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--store", help="a store with graphnet and vlm models (default: tiny ones trained first)")
    ap.add_argument("--out", default="bench-out/soak.json")
    ap.add_argument("--size-px", type=int, default=96, help="side of the synthetic eyes requested (px)")
    ap.add_argument("--rss-bound-mib", type=float, default=96,
                    help="largest allowed RSS growth from the start (after warm-up) to the end")
    args = ap.parse_args()

    global WEIGHTS, SIZE_PX
    SIZE_PX = args.size_px
    attached = args.socket is not None
    if attached == (args.bin_dir is not None) or (attached and not args.pid):
        ap.error("give BIN_DIR, or --socket with --pid")
    if attached:
        daemon, sock = Attached(args.pid), args.socket
        names = {m["name"] for m in call_once(sock, "models/list", {})["result"]["models"]}
        WEIGHTS = [(m, w) for m, w in WEIGHTS if ("vlm" if m == "explain" else "graphnet") in names]
        if not WEIGHTS:
            ap.error("the attached daemon has neither a graphnet nor a vlm model")
    else:
        work = tempfile.mkdtemp(prefix="capillary-soak.")
        store = args.store or os.path.join(work, "store")
        os.makedirs(store, exist_ok=True)
        daemon, sock = start_daemon(args.bin_dir, work, store)
    problems = []
    try:
        t_train = time.time()
        trained = None
        if not args.store and not attached:
            trained = train_tiny(sock)
        train_s = time.time() - t_train
        after_training = proc_counts(daemon.pid)
        cohort = trained["gnn"]["cohort"] if trained else None
        images = sorted(glob.glob(os.path.join(cohort, "images", "*.png")))[:40] if cohort else []
        # Warm-up: every method a few times, so lazily built state (model caches, thread-local buffers) exists.
        warm_stats = Stats()
        threads = [threading.Thread(target=client_loop, args=(i, sock, images, time.time() + 10, warm_stats, args.seed + 99))
                   for i in range(min(8, args.clients))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        settle(sock)
        start = proc_counts(daemon.pid)
        st0 = status(sock)

        stats = Stats()
        samples = []
        t0 = time.time()
        stop_at = t0 + args.minutes * 60
        threads = [threading.Thread(target=client_loop, args=(i, sock, images, stop_at, stats, args.seed))
                   for i in range(args.clients)]
        for t in threads:
            t.start()
        while time.time() < stop_at:
            time.sleep(min(10, max(0.1, stop_at - time.time())))
            samples.append(dict(proc_counts(daemon.pid), t=round(time.time() - t0, 1), load1=os.getloadavg()[0]))
        for t in threads:
            t.join()
        elapsed = time.time() - t0
        st1 = settle(sock)
        end = proc_counts(daemon.pid)
        if call_once(sock, "ping", None).get("result", "x") is not None:
            problems.append("the daemon does not answer ping after the run")
        if daemon.poll() is not None:
            problems.append(f"the daemon exited ({daemon.returncode})")
    finally:
        if not attached and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            try:
                daemon.wait(timeout=30)
            except subprocess.TimeoutExpired:
                daemon.kill()

    growth = end["rssMiB"] - start["rssMiB"]
    if growth > args.rss_bound_mib:
        problems.append(f"RSS grew {growth:.1f} MiB (bound {args.rss_bound_mib})")
    if end["fds"] != start["fds"]:
        problems.append(f"open fds {start['fds']} -> {end['fds']}")
    if end["threads"] != start["threads"]:
        problems.append(f"threads {start['threads']} -> {end['threads']}")
    if stats.unexpected:
        problems.append(f"{len(stats.unexpected)} unexpected errors, first: {stats.unexpected[:3]}")
    if stats.completed == 0:
        problems.append("no request completed")

    rows = []
    for m, _ in [("stage", 0), ("attribute", 0), ("explain", 0)]:
        xs = stats.latency[m]
        rows.append({"method": m, "completed": len(xs), "p50MS": percentile(xs, 50), "p99MS": percentile(xs, 99),
                     "maxMS": max(xs) if xs else None})
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
    report = {
        "name": "soak", "minutes": args.minutes, "clients": args.clients, "seed": args.seed, "sizePX": args.size_px,
        "models": args.store or ("those of the attached daemon" if attached else "tiny (trained by the run)"),
        "trainSeconds": round(train_s, 1), "elapsedSeconds": round(elapsed, 1),
        "requestsCompleted": stats.completed, "throughputPerSecond": round(stats.completed / elapsed, 2),
        "cancelsSent": stats.cancelled_sent, "disconnects": stats.disconnects,
        "errors": dict(sorted(stats.errors.items())), "unexpectedErrors": stats.unexpected[:20],
        "methods": rows, "afterTraining": after_training, "start": start, "end": end, "samples": samples,
        "rssGrowthMiB": round(growth, 1), "rssBoundMiB": args.rss_bound_mib,
        "requestsAnsweredByDaemon": st1["requestsAnswered"] - st0["requestsAnswered"],
        "machine": {"nproc": os.cpu_count(), "cpu": cpu},
        "loadAverage1MinMean": round(sum(x["load1"] for x in samples) / max(1, len(samples)), 2), "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "passed": not problems, "problems": problems,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w") as f:
        json.dump(report, f, indent=2)

    fmt = lambda v: "-" if v is None else f"{v:.0f}"
    print(f"\n### Soak: {args.clients} clients, {elapsed / 60:.1f} min ({report['date']}, {os.cpu_count()} x {cpu})\n")
    print("| method | completed | p50 ms | p99 ms | max ms |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['method']} | {r['completed']} | {fmt(r['p50MS'])} | {fmt(r['p99MS'])} | {fmt(r['maxMS'])} |")
    print(f"\nthroughput {report['throughputPerSecond']} completed requests/s; {stats.cancelled_sent} cancels, "
          f"{stats.disconnects} disconnects; errors {report['errors'] or 'none'}")
    print(f"RSS after training {after_training['rssMiB']} MiB; start {start['rssMiB']} -> end {end['rssMiB']} MiB "
          f"(growth {growth:.1f}, bound {args.rss_bound_mib}); fds {start['fds']} -> {end['fds']}; threads "
          f"{start['threads']} -> {end['threads']}")
    print(f"1-minute load average during the run: mean {report['loadAverage1MinMean']} on {os.cpu_count()} cores")
    print(f"soak: {'FAILED: ' + '; '.join(problems) if problems else 'passed'} (JSON: {args.out})")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
