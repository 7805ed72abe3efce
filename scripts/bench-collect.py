#!/usr/bin/env python3
"""Collects the benchmarks `scripts/bench.sh` ran into one table: bench-out/benchmarks.md and .json.

    bench-collect.py RUNS_TSV OUT_MD OUT_JSON

RUNS_TSV has one line per benchmark: name, its JSON file (or -), wall seconds, exit code, command. Every
benchmark JSON is read as it is; each of its "rows" (or the file itself when it has none) becomes one line of
the table (a benchmark without "rows" uses its first list of objects), labelled by the row's text fields, with its numeric fields as `key value` pairs (nested objects
flattened with dots). The header names the machine (nproc, CPU model, memory), the date and the git commit.
"""
import json
import os
import platform
import subprocess
import sys
import time


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = "?"
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem = f"{int(line.split()[1]) / 1048576:.1f} GiB"
    load = open("/proc/loadavg").read().split()[:3]
    return {"nproc": os.cpu_count(), "cpu": cpu, "memory": mem, "kernel": platform.release(),
            "loadAverageAtEnd": " ".join(load)}


def commit():
    try:
        sha = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], capture_output=True, text=True).stdout.strip()
        return sha + ("-dirty" if dirty else "") if sha else "unknown"
    except OSError:
        return "unknown"


def flatten(obj, prefix=""):
    """(key, number) and (key, text) leaves of a JSON object; lists of numbers are summarised by length."""
    nums, texts = [], []
    for k, v in obj.items():
        key = f"{prefix}{k}"
        if isinstance(v, bool):
            texts.append((key, str(v).lower()))
        elif isinstance(v, (int, float)):
            nums.append((key, v))
        elif isinstance(v, str):
            texts.append((key, v))
        elif isinstance(v, dict):
            n, t = flatten(v, key + ".")
            nums += n
            texts += t
    return nums, texts


def fmt(v):
    if isinstance(v, int):
        return f"{v:,}"
    if v != v:
        return "nan"
    a = abs(v)
    return f"{v:,.0f}" if a >= 1000 else f"{v:.3g}" if a < 10 else f"{v:.1f}"


def table_rows(name, data):
    """One (case, metrics) pair per row of a benchmark's JSON."""
    rows = None
    if isinstance(data, dict):
        # "rows" by convention; otherwise the first list of objects ("results", "runs", ...).
        for key in ["rows"] + [k for k, v in data.items() if isinstance(v, list)]:
            v = data.get(key)
            if isinstance(v, list) and v and all(isinstance(r, dict) for r in v):
                rows = v
                break
    if rows:
        items = rows
    elif isinstance(data, dict):
        items = [{k: v for k, v in data.items() if k not in ("machine", "rows")}]
    else:
        items = [{"value": data}] if isinstance(data, (int, float)) else []
    out = []
    for r in items:
        nums, texts = flatten(r)
        skip = {"cpu", "machine.cpu", "date", "commit"}
        case = ", ".join(f"{v}" for k, v in texts if k not in skip)[:120] or "-"
        metrics = "; ".join(f"{k} {fmt(v)}" for k, v in nums if k not in ("cores", "nproc", "machine.cores"))
        out.append((case, metrics, r))
    return out


def main():
    runs_path, out_md, out_json = sys.argv[1:4]
    runs = []
    with open(runs_path) as f:
        for line in f:
            name, jpath, secs, rc, cmd = line.rstrip("\n").split("\t", 4)
            entry = {"name": name, "command": cmd, "wallSeconds": round(float(secs), 1), "exitCode": int(rc),
                     "json": None if jpath == "-" else jpath, "result": None}
            if jpath != "-" and os.path.exists(jpath) and int(rc) == 0:
                try:
                    with open(jpath) as jf:
                        entry["result"] = json.load(jf)
                except (OSError, ValueError) as e:
                    entry["error"] = f"cannot read {jpath}: {e}"
            runs.append(entry)
    info = {"date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "commit": commit(), "machine": machine()}
    with open(out_json, "w") as f:
        json.dump(dict(info, benchmarks=runs), f, indent=2)
    m = info["machine"]
    lines = [f"# Benchmarks (`make bench`)", "",
             f"Date {info['date']}, commit {info['commit']}; machine: {m['nproc']} cores (`nproc`), {m['cpu']}, "
             f"{m['memory']}, Linux {m['kernel']}; load average at the end {m['loadAverageAtEnd']}.", "",
             "| benchmark | wall s | status | case | metrics |", "|---|---|---|---|---|"]
    for r in runs:
        status = "ok" if r["exitCode"] == 0 else f"FAILED ({r['exitCode']})"
        if r["result"] is None:
            lines.append(f"| {r['name']} | {r['wallSeconds']} | {status} | - | {r.get('error', 'no JSON') if r['json'] else '-'} |")
            continue
        for i, (case, metrics, _) in enumerate(table_rows(r["name"], r["result"])):
            first = i == 0
            lines.append(f"| {r['name'] if first else ''} | {r['wallSeconds'] if first else ''} | {status if first else ''} "
                         f"| {case} | {metrics} |")
    lines += ["", "Commands (each also printed its own tables: bench-out/logs/NAME.md):", ""]
    lines += [f"- {r['name']}: `{r['command']}`" for r in runs]
    with open(out_md, "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))
    print(f"\nbench-collect: {out_md} and {out_json}")
    return 0 if all(r["exitCode"] == 0 for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
