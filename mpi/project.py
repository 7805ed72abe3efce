#!/usr/bin/env python3
"""Projects data-parallel training to 16-256 ranks from bench-out/scaling.json (python3 mpi/bench.py).

Usage: python3 mpi/project.py [bench-out/scaling.json]
Model (docs/SCALING.md):
  ring allreduce of n bytes on p ranks: T(p) = 2 (p - 1) alpha + 2 (p - 1) / p * n / beta
  t_c: measured compute of one step on 1 rank (busiest-rank CPU seconds / steps, at the run's global batch G)
  f:   serial fraction from the 2-rank run, t2 / t1 = (1 - f) / 2 + f (an upper bound: it also holds MPI's
       busy-wait and start-up on a loaded machine)
  strong scaling (global batch G fixed): step(p) = t_c ((1 - f) / min(p, G) + f) + T(p); speed-up t_c / step(p),
       with the measured f and with f = 0 (communication the only overhead)
  weak scaling (G per rank, global batch G p): efficiency = t_c / (t_c + T(p))
Networks (assumed, not measured here): 10 GbE with TCP (alpha 50 us, beta 1.1 GB/s) and 100 Gb/s InfiniBand
(alpha 2 us, beta 11 GB/s).
"""
import json, sys

data = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "bench-out/scaling.json"))
nets = [("10 GbE", 50e-6, 1.1e9), ("IB 100G", 2e-6, 11e9)]
ranks = [2, 16, 64, 256]


def ring(n, p, alpha, beta):
    return 2 * (p - 1) * alpha + 2 * (p - 1) / p * n / beta


for prefix, batch in (("train-gnn", 32), ("train-vlm", 16)):
    one = next(r for r in data["rows"] if r["command"].startswith(prefix) and r["ranks"] == 1)
    two = next(r for r in data["rows"] if r["command"].startswith(prefix) and r["ranks"] == 2)
    n, steps = two["allreduce_bytes_per_step"], one["steps"]
    tc = one["cpu_seconds_max_rank"] / steps
    f = max(0.0, 2 * two["cpu_seconds_max_rank"] / one["cpu_seconds_max_rank"] - 1)
    print(f"### {prefix}: {n} bytes allreduced per step, t_c = {tc * 1000:.1f} ms per step (global batch {batch}, "
          f"{steps} steps), serial fraction f <= {f:.3f}\n")
    print("| network | ranks | allreduce ms | compute/comm (weak) | weak-scaling efficiency | strong speed-up, measured f | strong speed-up, f = 0 |")
    print("|---|---|---|---|---|---|---|")
    for name, alpha, beta in nets:
        for p in ranks:
            t = ring(n, p, alpha, beta)
            step = tc * ((1 - f) / min(p, batch) + f) + t
            ideal = tc / min(p, batch) + t
            print(f"| {name} | {p} | {t * 1000:.2f} | {tc / t:.0f} | {tc / (tc + t):.3f} | {tc / step:.1f} | {tc / ideal:.1f} |")
    print()
