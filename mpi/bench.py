#!/usr/bin/env python3
"""MPI scale-out benchmark (docs/SCALING.md): every capillary-mpi command on 1 and 2 ranks, one thread per rank.

Usage: python3 mpi/bench.py BIN [--work DIR] [--count N] [--out bench-out/scaling.json]
For each command: wall seconds, CPU seconds of all processes (getrusage of the children: mpirun and the ranks),
and the busiest rank's CPU seconds as the command reports it (the critical path on dedicated cores). Training
runs also report the bytes allreduced per step and the time rank 0 spent in MPI_Allreduce. Then
bench-allreduce times one allreduce of each trainer's buffer. Prints a markdown table, writes JSON.
CAPILLARY_THREADS=1 and OPENBLAS_NUM_THREADS=1: 1 rank uses one core, 2 ranks two.
"""
import argparse, json, os, re, resource, shutil, subprocess, sys, time

p = argparse.ArgumentParser()
p.add_argument("bin")
p.add_argument("--work", default="/tmp/capillary-scaling")
p.add_argument("--count", type=int, default=160)
p.add_argument("--out", default="bench-out/scaling.json")
args = p.parse_args()
CAP, MPI = os.path.join(args.bin, "capillary"), os.path.join(args.bin, "capillary-mpi")
env = dict(os.environ, CAPILLARY_THREADS="1", OPENBLAS_NUM_THREADS="1",
           OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
W = args.work
shutil.rmtree(W, ignore_errors=True)
os.makedirs(W)


def run(ranks, argv):
    cmd = ([MPI] if ranks == 1 else ["mpirun", "-np", str(ranks), "--oversubscribe", "--bind-to", "none", MPI]) + argv
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if res.returncode != 0:
        sys.exit(f"bench: {' '.join(cmd)} failed ({res.returncode}):\n{res.stderr[-3000:]}")
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    row = {"ranks": ranks, "wall_s": round(wall, 3), "cpu_all_processes_s": round(cpu, 3)}
    out = res.stdout
    m = re.search(r"CPU ([0-9.]+) s all ranks, ([0-9.]+) s busiest rank", out)
    if m:
        row["cpu_busiest_rank_s"] = float(m.group(2))
    for line in out.splitlines():
        if line.startswith("{"):
            j = json.loads(line)
            row.update({k: j[k] for k in ("train_seconds", "cpu_seconds_max_rank", "cpu_seconds_all_ranks", "steps",
                                          "allreduce_bytes_per_step", "allreduce_seconds_rank0", "parameters") if k in j})
            row["cpu_busiest_rank_s"] = j.get("cpu_seconds_max_rank")
    return row


def load_average():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


rows = []
c = str(args.count)
cohort = os.path.join(W, "cohort")
for n in (1, 2):
    start_load = load_average()
    steps = [
        ("generate", ["generate", "--count", c, "--seed", "7", "--out", cohort if n == 2 else os.path.join(W, "cohort1")]),
        ("graph --cohort", ["graph", "--cohort", cohort if n == 2 else os.path.join(W, "cohort1"), "--out-dir", os.path.join(W, f"graphs{n}")]),
    ]
    for name, argv in steps:
        rows.append(dict(command=name, **run(n, argv), load_average=start_load))
    if n == 1:
        shutil.rmtree(os.path.join(W, "cohort1"))
# The graph cache is filled once so that training compares training, not graph building.
run(1, ["train-gnn", "--cohort", cohort, "--store", os.path.join(W, "warm"), "--epochs", "1", "--dropout", "0"])
for n in (1, 2):
    rows.append(dict(command="train-gnn (hidden 64, 2 layers, batch 32, 10 epochs)",
                     **run(n, ["train-gnn", "--cohort", cohort, "--store", os.path.join(W, f"gnn{n}"), "--epochs", "10",
                               "--patience", "100", "--dropout", "0"]), load_average=load_average()))
for n in (1, 2):
    rows.append(dict(command="stage --cohort", **run(n, ["stage", "--cohort", cohort, "--store", os.path.join(W, "gnn1"),
                                                          "--out", os.path.join(W, f"pred{n}.jsonl")]), load_average=load_average()))
for n in (1, 2):
    rows.append(dict(command="knowledge (IG 50 steps)", **run(n, ["knowledge", "--cohort", cohort, "--store", os.path.join(W, "gnn1"),
                                                                  "--out", os.path.join(W, f"k{n}")]), load_average=load_average()))
for n in (1, 2):
    rows.append(dict(command="train-vlm (small, batch 16, 20 steps)",
                     **run(n, ["train-vlm", "--data", os.path.join(W, "k1"), "--config", "small", "--store", os.path.join(W, f"vlm{n}"),
                               "--align-steps", "5", "--steps", "15", "--batch", "16", "--warmup", "2"]), load_average=load_average()))
sizes = sorted({r["allreduce_bytes_per_step"] for r in rows if "allreduce_bytes_per_step" in r})
ar = subprocess.run(["mpirun", "-np", "2", "--oversubscribe", "--bind-to", "none", MPI, "bench-allreduce", "--bytes",
                     ",".join(map(str, sizes)), "--repeats", "200", "--out", os.path.join(W, "allreduce.json")],
                    env=env, capture_output=True, text=True, check=True)
allreduce = json.load(open(os.path.join(W, "allreduce.json")))

print("| command | ranks | wall s | CPU s (all processes) | busiest rank CPU s | allreduce B/step | rank 0 in allreduce s | load avg |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| {r['command']} | {r['ranks']} | {r['wall_s']:.1f} | {r['cpu_all_processes_s']:.1f} | "
          f"{r.get('cpu_busiest_rank_s') or float('nan'):.1f} | {r.get('allreduce_bytes_per_step', '')} | "
          f"{r.get('allreduce_seconds_rank0', float('nan')):.2f} | {r['load_average']:.1f} |")
print()
print(ar.stdout)
os.makedirs(os.path.dirname(args.out) or ".", exist_ok=True)
cpuinfo = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
with open(args.out, "w") as f:
    json.dump({"machine": {"nproc": os.cpu_count(), "cpu": cpuinfo}, "count": args.count, "rows": rows, "allreduce": allreduce}, f, indent=2, sort_keys=True)
print(f"wrote {args.out}")
