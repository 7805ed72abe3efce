#!/usr/bin/env python3
"""Fault injection against real capillaryd processes (issue 14). Standard library only.

    fault_injection.py BIN_DIR [--work DIR] [--kills 5] [--seed 1]

1. kill -9 during a GNN training job: the store keeps version 1 byte for byte, no other version appears, and a
   new daemon on the same store starts, loads version 1 and stages with it.
2. kill -9 during a model write, at several instants (the daemon runs with CAPILLARY_FAULT_WRITE_DELAY_MS so
   each file of the new version stays in its temporary state long enough to be hit): version 1 is intact,
   the new version is either absent or complete, and the next daemon removes the dead writer's temporary
   folder and serves the newest complete version.
3. A full disk while saving (a small tmpfs holding the store; needs root and `mount -t tmpfs`, otherwise
   skipped with the reason): the job fails with "no space left on the device", version 1 is intact and
   still served, no temporary folder is left, and after space is freed the next save succeeds.

Exit status 0 when every check held (skips are reported, not failures); 1 otherwise.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TINY = {"epochs": 2, "hidden": 8, "layers": 1, "batchSize": 4, "patience": 2, "seed": 1}


class Connection:
    def __init__(self, path, timeout=60):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(path)
        self.buf = b""
        self.notes = []
        self.next_id = 1

    def message(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("daemon closed the connection")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def call(self, method, params=None):
        ident = self.next_id
        self.next_id += 1
        msg = {"jsonrpc": "2.0", "id": ident, "method": method}
        if params is not None:
            msg["params"] = params
        self.sock.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            m = self.message()
            if m.get("id") == ident and "method" not in m:
                return m
            self.notes.append(m)

    def progress(self, token, until, timeout=180):
        """$/progress values under token until `until(value)` holds (that value is returned)."""
        deadline = time.time() + timeout
        pending = [n for n in self.notes if n.get("params", {}).get("token") == token]
        self.notes = [n for n in self.notes if n not in pending]
        while True:
            for n in pending:
                v = n["params"]["value"]
                if until(v):
                    return v
            pending = []
            if time.time() > deadline:
                raise TimeoutError(f"no progress value satisfying the condition within {timeout} s")
            m = self.message()
            if m.get("method") == "$/progress" and m["params"].get("token") == token:
                pending = [m]

    def close(self):
        self.sock.close()


class Daemon:
    def __init__(self, bin_dir, sock, store, log, env_extra=None):
        env = dict(os.environ)
        env.pop("CAPILLARY_FAULT_WRITE_DELAY_MS", None)
        env.update(env_extra or {})
        self.sock = sock
        self.log_path = log
        self.proc = subprocess.Popen([os.path.join(bin_dir, "capillaryd"), "--socket", sock, "--store", store,
                                      "--log-level", "info", "--workers", "2"],
                                     stdout=subprocess.DEVNULL, stderr=open(log, "ab"), env=env)
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"capillaryd exited at start-up ({self.proc.returncode}); log {log}")
            try:
                c = Connection(sock, timeout=5)
                c.call("initialize", {})
                self.conn = c
                return
            except (FileNotFoundError, ConnectionRefusedError):
                time.sleep(0.05)
        raise RuntimeError("capillaryd did not listen within 60 s")

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill9()

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


failures = []


def check(cond, what):
    print(("  ok   " if cond else "  FAIL ") + what)
    if not cond:
        failures.append(what)
    return cond


def digest(folder):
    """{file: sha256} of a version folder."""
    out = {}
    for f in sorted(os.listdir(folder)):
        with open(os.path.join(folder, f), "rb") as fh:
            out[f] = hashlib.sha256(fh.read()).hexdigest()
    return out


def train(conn, token, config=TINY, **params):
    r = conn.call("train", dict(kind="gnn", config=config, workDoneToken=token, **params))
    if "result" not in r:
        raise RuntimeError(f"train refused: {r}")
    return r["result"]["jobId"]


def stage_version(conn):
    r = conn.call("stage", {"image": {"synthetic": {"seed": 5, "stage": "npdr", "sizePX": 96}}})
    return r.get("result", {}).get("model", {}).get("version"), r


def complete_versions(model_dir):
    return sorted(v for v in os.listdir(model_dir) if not v.startswith("."))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bin_dir")
    ap.add_argument("--work", help="scratch folder (default: a new one under /tmp, removed at the end)")
    ap.add_argument("--kills", type=int, default=5, help="kill -9 instants during model writes")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    rng = random.Random(args.seed)
    work = args.work or tempfile.mkdtemp(prefix="capillary-faults.")
    own_work = args.work is None
    store = os.path.join(work, "store")
    os.makedirs(store, exist_ok=True)
    sock = os.path.join(work, "d.sock")
    log = os.path.join(work, "daemon.log")
    daemons = []
    mounted = None
    t_start = time.time()

    def start(store_dir=store, env=None):
        d = Daemon(args.bin_dir, sock, store_dir, log, env)
        daemons.append(d)
        return d

    try:
        # Version 1, trained by the daemon itself on a tiny generated cohort (its graphs get cached).
        d = start()
        train(d.conn, "v1", generate={"count": 14, "seed": 3, "sizePX": 96})
        end = d.conn.progress("v1", lambda v: v.get("kind") == "end")
        if end.get("state") != "succeeded":
            raise RuntimeError(f"training version 1 failed: {end}")
        cohort = end["result"]["cohort"]
        model_dir = os.path.join(store, "graphnet")
        v1 = digest(os.path.join(model_dir, "1"))

        print("fault 1: kill -9 during a training job")
        train(d.conn, "long", cohort=cohort, config=dict(TINY, epochs=500, patience=500))
        d.conn.progress("long", lambda v: v.get("phase") == "train")
        d.kill9()
        check(complete_versions(model_dir) == ["1"], f"only version 1 in the store: {os.listdir(model_dir)}")
        check(digest(os.path.join(model_dir, "1")) == v1, "version 1 byte-identical")
        d = start()
        version, r = stage_version(d.conn)
        check(version == "1", f"a new daemon starts and stages with version 1 ({r.get('error', 'ok')})")
        d.stop()

        print(f"fault 2: kill -9 during model writes ({args.kills} instants)")
        delay_ms = 300
        for k in range(args.kills):
            d = start(env={"CAPILLARY_FAULT_WRITE_DELAY_MS": str(delay_ms)})
            before = {v: digest(os.path.join(model_dir, v)) for v in complete_versions(model_dir)}
            train(d.conn, f"w{k}", cohort=cohort, config=dict(TINY, epochs=1))
            deadline = time.time() + 120
            tmp = []
            while not tmp and time.time() < deadline:
                tmp = [e for e in os.listdir(model_dir) if e.startswith(".tmp-")]
                time.sleep(0.002)
            if not check(bool(tmp), "the save started (a temporary version folder appeared)"):
                d.kill9()
                continue
            # Three files are written with a delay each before their rename: spread the kills over them.
            wait_s = rng.uniform(0, 2.5 * delay_ms / 1000) if k >= 2 else [0.02, 1.2 * delay_ms / 1000][k]
            time.sleep(wait_s)
            partial = sorted(os.listdir(os.path.join(model_dir, tmp[0]))) if os.path.isdir(os.path.join(model_dir, tmp[0])) else []
            d.kill9()
            after = complete_versions(model_dir)
            check(all(digest(os.path.join(model_dir, v)) == h for v, h in before.items()),
                  f"kill {k} after {wait_s * 1000:.0f} ms (temporary folder held {partial}): earlier versions byte-identical")
            new = [v for v in after if v not in before]
            check(all(sorted(os.listdir(os.path.join(model_dir, v))) == ["config.json", "metrics.json", "weights.safetensors"]
                      for v in new), f"new versions complete or absent: {new}")
            d = start()
            left = [e for e in os.listdir(model_dir) if e.startswith(".tmp-")]
            check(left == [], f"the next daemon removed the dead writer's temporary folder (left: {left})")
            version, r = stage_version(d.conn)
            check(version == after[-1], f"it stages with the newest complete version {after[-1]} (got {version})")
            d.stop()

        print("fault 3: full disk while saving")
        mnt = os.path.join(work, "small")
        os.makedirs(mnt, exist_ok=True)
        size_kb = 4096
        if os.geteuid() != 0:
            print("  SKIP full disk: mounting a tmpfs needs root (the RLIMIT_FSIZE variant runs in DaemonTests.StoreFaultTests)")
        else:
            m = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size_kb}k", "tmpfs", mnt], capture_output=True, text=True)
            if m.returncode != 0:
                print(f"  SKIP full disk: mount -t tmpfs failed ({m.stderr.strip() or m.returncode}); "
                      "the RLIMIT_FSIZE variant runs in DaemonTests.StoreFaultTests")
            else:
                mounted = mnt
                small_store = os.path.join(mnt, "store")
                os.makedirs(os.path.join(small_store, "graphnet"))
                shutil.copytree(os.path.join(model_dir, "1"), os.path.join(small_store, "graphnet", "1"))
                d = start(small_store)
                # Fill the file system to the last byte.
                filler = os.path.join(mnt, "filler")
                fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
                try:
                    while True:
                        os.write(fd, b"\0" * 512)
                except OSError:
                    pass
                finally:
                    os.close(fd)
                train(d.conn, "full", cohort=cohort, config=dict(TINY, epochs=1))
                end = d.conn.progress("full", lambda v: v.get("kind") == "end")
                check(end.get("state") == "failed" and "no space left on the device" in end.get("message", ""),
                      f"the job fails with a clear error: {end.get('message', end)[:200]}")
                sm = os.path.join(small_store, "graphnet")
                check(os.listdir(sm) == ["1"], f"no version or temporary folder added: {os.listdir(sm)}")
                check(digest(os.path.join(sm, "1")) == v1, "version 1 byte-identical")
                version, r = stage_version(d.conn)
                check(version == "1", "version 1 still served")
                os.remove(filler)
                train(d.conn, "room", cohort=cohort, config=dict(TINY, epochs=1))
                end = d.conn.progress("room", lambda v: v.get("kind") == "end")
                check(end.get("state") == "succeeded" and end["result"]["version"] == "2",
                      f"after freeing space the next save succeeds as version 2 ({end.get('state')})")
                d.stop()
    except Exception as e:  # a crash of the harness itself is a failure too
        failures.append(f"harness: {e!r}")
        print(f"  FAIL harness: {e!r}")
    finally:
        for d in daemons:
            if d.proc.poll() is None:
                d.kill9()
        if mounted:
            subprocess.run(["umount", mounted])
        if failures and os.path.exists(log):
            print("last lines of the daemon log:")
            print("\n".join(open(log, errors="replace").read().splitlines()[-20:]))
        if own_work and not failures:
            shutil.rmtree(work, ignore_errors=True)
    print(f"fault_injection: {'FAILED: ' + '; '.join(failures) if failures else 'all checks passed'} "
          f"({time.time() - t_start:.0f} s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
