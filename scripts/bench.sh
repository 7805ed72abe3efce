#!/usr/bin/env bash
# make bench: runs every benchmark and writes bench-out/benchmarks.{md,json}.
set -euo pipefail
BIN="$1"
mkdir -p bench-out
"$BIN/capillary" bench-rpc
"$BIN/capillary" bench-retina --out bench-out/retina.json
"$BIN/capillary" bench-tensors
"$BIN/capillary" bench-graph --repeats 10 --out bench-out/graph.json   # VesselGraph: ms per image, pixels to graph JSON
"$BIN/capillary" bench-vlm --out bench-out/vlm.json
"$BIN/capillary" generate --count 64 --seed 7 --out bench-out/gnn-cohort > /dev/null   # GraphNet: real graphs for bench-gnn
"$BIN/capillary" bench-gnn --cohort bench-out/gnn-cohort --out bench-out/gnn.json    # GraphNet: s/epoch of 1,000 graphs, ms/graph at batch 1 and 64
"$BIN/capillary" bench-daemon --out bench-out/daemon.json   # Daemon: graph/stage p50/p99, explain TTFT and tokens/s (1 and 8 clients), RSS with default models
"$BIN/capillary" bench-attribution --out bench-out/attribution.json   # Attribution: ms for 50-step IG on one graph, batched vs step by step
if [ -x "$BIN/capillary-mpi" ] && command -v mpirun >/dev/null; then python3 mpi/bench.py "$BIN" --out bench-out/scaling.json && python3 mpi/project.py bench-out/scaling.json; else echo "bench: capillary-mpi or mpirun missing (make mpi): MPI scaling skipped"; fi   # MPI: 1 vs 2 ranks, allreduce bytes/step, 16-256 rank projection (docs/SCALING.md)
