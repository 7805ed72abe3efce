#!/usr/bin/env bash
# make bench: runs every benchmark and writes bench-out/benchmarks.{md,json}.
set -euo pipefail
BIN="$1"
mkdir -p bench-out
echo "no benchmarks yet" >&2
"$BIN/capillary" bench-rpc
"$BIN/capillary" bench-graph --repeats 10 --out bench-out/graph.json   # VesselGraph: ms per image, pixels to graph JSON
"$BIN/capillary" bench-tensors
"$BIN/capillary" bench-retina --out bench-out/retina.json
"$BIN/capillary" bench-vlm --out bench-out/vlm.json
"$BIN/capillary" bench-daemon --out bench-out/daemon.json   # Daemon: graph/stage p50/p99, explain TTFT and tokens/s (1 and 8 clients), RSS with default models
