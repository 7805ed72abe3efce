#!/usr/bin/env bash
# make bench: runs every benchmark (each prints markdown and writes bench-out/<name>.json), then collects them
# all into bench-out/benchmarks.md and bench-out/benchmarks.json with the machine, date and git commit
# (scripts/bench-collect.py). A benchmark that fails is recorded as failed and the others still run; the
# exit status is non-zero if any failed. BENCH_ONLY="rpc graph" runs a subset (names as in `run` below).
set -uo pipefail
BIN="$1"
mkdir -p bench-out/logs
: > bench-out/runs.tsv
failed=0

# run NAME JSON COMMAND...: times COMMAND, keeps its output in bench-out/logs/NAME.md, records the outcome.
run() {
  local name="$1" json="$2"
  shift 2
  if [ -n "${BENCH_ONLY:-}" ] && [[ " $BENCH_ONLY " != *" $name "* ]]; then return 0; fi
  echo "== bench: $name: $*" >&2
  local t0 t1 rc
  t0=$(date +%s.%N)
  "$@" 2>&1 | tee "bench-out/logs/$name.md"
  rc=${PIPESTATUS[0]}
  t1=$(date +%s.%N)
  printf '%s\t%s\t%s\t%s\t%s\n' "$name" "$json" "$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.1f", b - a}')" "$rc" "$*" >> bench-out/runs.tsv
  if [ "$rc" -ne 0 ]; then failed=1; echo "bench: $name failed (exit $rc)" >&2; fi
}

run rpc bench-out/rpc.json "$BIN/capillary" bench-rpc
run retina bench-out/retina.json "$BIN/capillary" bench-retina --out bench-out/retina.json
run tensors bench-out/tensors.json "$BIN/capillary" bench-tensors
run graph bench-out/graph.json "$BIN/capillary" bench-graph --repeats 10 --out bench-out/graph.json   # VesselGraph: ms per image, pixels to graph JSON
run vlm bench-out/vlm.json "$BIN/capillary" bench-vlm --out bench-out/vlm.json
# GraphNet: real graphs for bench-gnn (not a benchmark itself; recorded so a failure shows).
run gnn-cohort - bash -c "\"$BIN/capillary\" generate --count 64 --seed 7 --out bench-out/gnn-cohort > /dev/null"
run gnn bench-out/gnn.json "$BIN/capillary" bench-gnn --cohort bench-out/gnn-cohort --out bench-out/gnn.json    # GraphNet: s/epoch of 1,000 graphs, ms/graph at batch 1 and 64
run daemon bench-out/daemon.json "$BIN/capillary" bench-daemon --out bench-out/daemon.json   # Daemon: graph/stage p50/p99, explain TTFT and tokens/s (1 and 8 clients), RSS with default models
run attribution bench-out/attribution.json "$BIN/capillary" bench-attribution --out bench-out/attribution.json   # Attribution: ms for 50-step IG on one graph, batched vs step by step

# MPI: 1 vs 2 ranks, allreduce bytes/step, 16-256 rank projection (docs/SCALING.md); needs `make mpi`.
if [ -x "$BIN/capillary-mpi" ] && command -v mpirun >/dev/null; then
  run scaling bench-out/scaling.json bash -c "python3 mpi/bench.py \"$BIN\" --out bench-out/scaling.json && python3 mpi/project.py bench-out/scaling.json"
else
  echo "bench: capillary-mpi or mpirun missing (make mpi): MPI scaling skipped" >&2
fi

python3 scripts/bench-collect.py bench-out/runs.tsv bench-out/benchmarks.md bench-out/benchmarks.json || failed=1
exit "$failed"
