#!/usr/bin/env python3
"""RSS of a capillaryd before and after a GNN training job (issue 14: a daemon that had trained stayed large).
Standard library only.

    rss_after_training.py BIN_DIR [--count 40] [--epochs 4] [--work DIR]

Starts capillaryd on an empty store, prints its RSS, trains a GNN through `train` on a generated cohort of
COUNT eyes (304 px), then prints the RSS right after the job, 3 s later, and after 5 `stage` requests.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from fault_injection import Connection  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("bin_dir")
    ap.add_argument("--count", type=int, default=40)
    ap.add_argument("--epochs", type=int, default=4)
    ap.add_argument("--work")
    args = ap.parse_args()
    work = args.work or tempfile.mkdtemp(prefix="capillary-rss.")
    os.makedirs(work + "/store", exist_ok=True)
    sock = work + "/d.sock"
    p = subprocess.Popen([args.bin_dir + "/capillaryd", "--socket", sock, "--store", work + "/store"],
                         stderr=open(work + "/daemon.log", "w"))

    def rss():
        for line in open(f"/proc/{p.pid}/status"):
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024

    try:
        for _ in range(600):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        c = Connection(sock, timeout=1200)
        c.call("initialize", {})
        print(f"RSS at start {rss():.1f} MiB", flush=True)
        c.call("train", {"kind": "gnn", "generate": {"count": args.count, "seed": 1}, "config": {"epochs": args.epochs},
                         "workDoneToken": "t"})
        end = c.progress("t", lambda v: v.get("kind") == "end", timeout=1800)
        print(f"training {end.get('state')}; RSS right after the job {rss():.1f} MiB", flush=True)
        time.sleep(3)
        print(f"RSS 3 s later {rss():.1f} MiB", flush=True)
        for i in range(5):
            c.call("stage", {"image": {"synthetic": {"seed": i, "stage": "npdr"}}})
        print(f"RSS after 5 stage requests {rss():.1f} MiB", flush=True)
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
