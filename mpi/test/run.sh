#!/usr/bin/env bash
# MPI scale-out test (issue 15, docs/SCALING.md), run by `make test` through scripts/test-clients.sh.
# Builds capillary-mpi (CAPILLARY_MPI=1: only the MPI targets compile on top of the plain release build),
# then with 2 ranks on a small synthetic cohort checks that:
#   generate, graph --cohort and knowledge write the same bytes as the single-process `capillary` commands,
#   stage --cohort writes the same predictions on 2 ranks as on 1,
#   a rank killed mid-job fails the job loudly (non-zero exit naming rank 1) and a rerun skips the finished shard,
#   train-gnn and train-vlm on 2 ranks give the weights of single-process `capillary train-gnn|train-vlm` with the
#   same global batch (compare_weights.py: relative 1e-5; a negative control shows the bound discriminates),
#   and a 2-rank train-vlm killed mid-run resumes from rank 0's checkpoint to the same weights.
# Skips (exit 0, with the reason) when mpirun is absent: install it with scripts/install-deps.sh --mpi.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v mpirun >/dev/null 2>&1 || ! pkg-config --exists ompi 2>/dev/null; then
  echo "test-mpi: SKIPPED: mpirun or Open MPI's pkg-config file not found (install: bash scripts/install-deps.sh --mpi)"
  exit 0
fi

SWIFT="${SWIFT:-swift}"
FLAGS=(-c release -Xswiftc -enable-testing)
CAPILLARY_MPI=1 "$SWIFT" build "${FLAGS[@]}" --product capillary-mpi 2>&1 | grep -Ev '^\[[0-9]+/[0-9]+\]' || true
BIN="$("$SWIFT" build "${FLAGS[@]}" --show-bin-path)"
for exe in capillary capillary-mpi; do
  [ -x "$BIN/$exe" ] || { echo "test-mpi: $BIN/$exe not built" >&2; exit 1; }
done
CAP="$BIN/capillary" MPI="$BIN/capillary-mpi"

# Open MPI refuses root without both variables; 2 ranks on 2 (shared) cores need --oversubscribe.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
RUN=(mpirun -np 2 --oversubscribe --bind-to none)

W="$(mktemp -d /tmp/capillary-mpi-test.XXXXXX)"
trap '[ -n "${KEEP:-}" ] || rm -rf "$W"' EXIT
passed=0
ok() { passed=$((passed + 1)); echo "test-mpi: ok: $*"; }
fail() { echo "test-mpi: FAILED: $*" >&2; exit 1; }
COHORT=(--count 24 --size 160 --seed 3)

# 1. generate: 2 ranks vs capillary generate, every file byte for byte.
"$CAP" generate "${COHORT[@]}" --out "$W/ref" >/dev/null 2>&1
"${RUN[@]}" "$MPI" generate "${COHORT[@]}" --out "$W/c2" >"$W/log" 2>&1 || { cat "$W/log"; fail "generate on 2 ranks"; }
diff -r "$W/ref" "$W/c2" >/dev/null || fail "generate: 2-rank cohort differs from capillary generate: $(diff -rq "$W/ref" "$W/c2" | head -3)"
ok "generate: 2 ranks write the same $(find "$W/ref" -type f | wc -l) files as capillary generate"

# 2. A rank that dies: rank 1 is stopped once it is inside its shard (its first image, eye 2, exists), rank 0
#    finishes its shard (its done marker appears), then rank 1 is killed. The job must fail loudly naming rank 1 and write no manifest; a rerun must skip
#    shard 0 and give the same cohort.
"${RUN[@]}" "$MPI" generate "${COHORT[@]}" --out "$W/kill" >"$W/kill.out" 2>"$W/kill.err" &
mpirun_pid=$!
rank1=""
for _ in $(seq 1 200); do
  for c in $(pgrep -P "$mpirun_pid" || true); do
    if tr '\0' '\n' <"/proc/$c/environ" 2>/dev/null | grep -qx 'OMPI_COMM_WORLD_RANK=1'; then rank1=$c; fi
  done
  [ -n "$rank1" ] && [ -f "$W/kill/images/eye_00002.png" ] && break
  sleep 0.02
done
[ -n "$rank1" ] || { kill "$mpirun_pid" 2>/dev/null || true; fail "kill test: rank 1 of mpirun $mpirun_pid not found"; }
kill -STOP "$rank1"
for _ in $(seq 1 1200); do [ -f "$W/kill/.mpi-shards/done-0-of-2" ] && break; sleep 0.05; done
[ -f "$W/kill/.mpi-shards/done-0-of-2" ] || { kill -KILL "$rank1"; fail "kill test: shard 0 did not finish within 60 s"; }
kill -KILL "$rank1"
set +e; wait "$mpirun_pid"; rc=$?; set -e
[ "$rc" -ne 0 ] || fail "kill test: mpirun exited 0 although rank 1 was killed"
grep -q "rank 1" "$W/kill.err" || { cat "$W/kill.err"; fail "kill test: the error output does not name rank 1"; }
[ ! -e "$W/kill/manifest.jsonl" ] || fail "kill test: a manifest was written although shard 1 never finished"
ok "killed rank 1: mpirun exit $rc, message: $(grep -m1 -o 'process rank 1[^.]*' "$W/kill.err" || true)"
"${RUN[@]}" "$MPI" generate "${COHORT[@]}" --out "$W/kill" >"$W/log" 2>&1 || { cat "$W/log"; fail "rerun after the kill"; }
grep -q "shard 0 of 2 already done in an earlier run: skipped" "$W/log" || { cat "$W/log"; fail "rerun did not skip the finished shard 0"; }
diff -r "$W/ref" "$W/kill" >/dev/null || fail "rerun after the kill: cohort differs from capillary generate: $(diff -rq "$W/ref" "$W/kill" | head -3)"
ok "rerun skipped finished shard 0, redid shard 1, same cohort as capillary generate"

# 3. graph --cohort: 2 ranks vs capillary graph --cohort (graph JSON files + biomarkers.csv).
"$CAP" graph --cohort "$W/ref" --out-dir "$W/g1" >/dev/null 2>&1
"${RUN[@]}" "$MPI" graph --cohort "$W/ref" --out-dir "$W/g2" >"$W/log" 2>&1 || { cat "$W/log"; fail "graph on 2 ranks"; }
diff -r "$W/g1" "$W/g2" >/dev/null || fail "graph: 2-rank output differs: $(diff -rq "$W/g1" "$W/g2" | head -3)"
ok "graph --cohort: 2 ranks write the same $(ls "$W/g1" | wc -l) files as capillary graph --cohort"

# 4. train-gnn: 2 ranks vs capillary train-gnn with the same global batch (dropout 0: masks are per rank).
GNN=(--cohort "$W/ref" --epochs 4 --batch-size 6 --dropout 0 --hidden 16 --patience 10 --seed 5)
"$CAP" train-gnn "${GNN[@]}" --store "$W/s1" >/dev/null 2>&1
"${RUN[@]}" "$MPI" train-gnn "${GNN[@]}" --store "$W/s2" >"$W/gnn.json" 2>"$W/log" || { cat "$W/log"; fail "train-gnn on 2 ranks"; }
python3 mpi/test/compare_weights.py "$W/s1/graphnet/1/weights.safetensors" "$W/s2/graphnet/1/weights.safetensors" --rtol 1e-5 \
  || fail "train-gnn: 2-rank weights differ from capillary train-gnn beyond 1e-5"
diff <(grep -v created_at "$W/s1/graphnet/1/config.json") <(grep -v created_at "$W/s2/graphnet/1/config.json") >/dev/null \
  || fail "train-gnn: stored config differs"
# Negative control: another global batch (3) must break the bound, or the comparison would prove nothing.
"$CAP" train-gnn --cohort "$W/ref" --epochs 4 --batch-size 3 --dropout 0 --hidden 16 --patience 10 --seed 5 --store "$W/s3" >/dev/null 2>&1
if python3 mpi/test/compare_weights.py "$W/s3/graphnet/1/weights.safetensors" "$W/s2/graphnet/1/weights.safetensors" --rtol 1e-5 >"$W/neg" 2>&1; then
  cat "$W/neg"; fail "negative control: batch 3 vs batch 6 passed the 1e-5 bound"
fi
ok "train-gnn: 2 ranks = 1 process within 1e-5 (control with another batch: $(sed -n 's/.*ratio \([^ ]*\).*/\1/p' "$W/neg"))"

# 5. stage --cohort: 2 ranks vs 1 rank, same predictions file.
"$MPI" stage --cohort "$W/ref" --store "$W/s1" --out "$W/p1.jsonl" >/dev/null 2>&1
"${RUN[@]}" "$MPI" stage --cohort "$W/ref" --store "$W/s1" --out "$W/p2.jsonl" >"$W/log" 2>&1 || { cat "$W/log"; fail "stage on 2 ranks"; }
cmp -s "$W/p1.jsonl" "$W/p2.jsonl" || fail "stage: 2-rank predictions differ from 1 rank"
[ "$(wc -l <"$W/p2.jsonl")" -eq 24 ] || fail "stage: expected 24 predictions"
ok "stage --cohort: 2 ranks = 1 rank (24 predictions)"

# 6. knowledge: 2 ranks vs capillary knowledge (all split files byte for byte).
"$CAP" knowledge --cohort "$W/ref" --store "$W/s1" --out "$W/k1" --ig-steps 8 >/dev/null 2>&1
"${RUN[@]}" "$MPI" knowledge --cohort "$W/ref" --store "$W/s1" --out "$W/k2" --ig-steps 8 >"$W/log" 2>&1 || { cat "$W/log"; fail "knowledge on 2 ranks"; }
diff -r "$W/k1" "$W/k2" >/dev/null || fail "knowledge: 2-rank dataset differs: $(diff -rq "$W/k1" "$W/k2" | head -3)"
ok "knowledge: 2 ranks write the same $(ls "$W/k1" | wc -l) files as capillary knowledge"

# 7. train-vlm (tiny): 2 ranks vs capillary train-vlm with the same global batch.
VLM=(--data "$W/k1" --config tiny --align-steps 3 --steps 5 --batch 6 --warmup 1 --vocab 300 --lr 2e-3)
"$CAP" train-vlm "${VLM[@]}" --store "$W/v1" >/dev/null 2>&1
"${RUN[@]}" "$MPI" train-vlm "${VLM[@]}" --store "$W/v2" >"$W/vlm.json" 2>"$W/log" || { cat "$W/log"; fail "train-vlm on 2 ranks"; }
cmp -s "$W/v1/vlm/v1/tokenizer.json" "$W/v2/vlm/v1/tokenizer.json" || fail "train-vlm: tokenizers differ"
d="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["d_model"])' "$W/v1/vlm/v1/config.json")"
# The attention key bias (rows d..2d of qkv.bias) has an exactly zero gradient; Adam turns its rounding noise
# into steps of up to lr: bound 2 * lr * 8 steps = 0.032 there, 1e-5 relative everywhere else.
python3 mpi/test/compare_weights.py "$W/v1/vlm/v1/weights.safetensors" "$W/v2/vlm/v1/weights.safetensors" --rtol 1e-5 \
  --zero-gradient "blocks.*.qkv.bias:$d:$((2 * d))" --atol 0.032 || fail "train-vlm: 2-rank weights differ from capillary train-vlm"
ok "train-vlm: 2 ranks = 1 process within 1e-5 (key bias within 2 lr steps)"

# 8. train-vlm killed mid-run on 2 ranks (after rank 0's checkpoint at step 20 or earlier), rerun: every rank
#    resumes from rank 0's checkpoint and the weights match an uninterrupted single-process run of 63 steps
#    (key-bias bound 2 lr x 63 steps = 0.252; the kill lands between steps 20 and 63).
RES=(--data "$W/k1" --config tiny --align-steps 3 --steps 60 --batch 6 --warmup 1 --vocab 300 --lr 2e-3 --checkpoint-every 2)
"$CAP" train-vlm "${RES[@]}" --store "$W/r1" >/dev/null 2>&1
"${RUN[@]}" "$MPI" train-vlm "${RES[@]}" --store "$W/r2" >/dev/null 2>"$W/r2.err" &
mpirun_pid=$!
for _ in $(seq 1 1200); do
  [ -f "$W/r2/vlm/checkpoint/checkpoint.safetensors" ] && grep -q "step 20/" "$W/r2.err" && break
  sleep 0.05
done
victim="$(pgrep -P "$mpirun_pid" | tail -1 || true)"
[ -n "$victim" ] || fail "resume test: no rank to kill (did the run end already?)"
kill -KILL "$victim"
set +e; wait "$mpirun_pid"; rc=$?; set -e
[ "$rc" -ne 0 ] || fail "resume test: mpirun exited 0 although a rank was killed"
"${RUN[@]}" "$MPI" train-vlm "${RES[@]}" --store "$W/r2" >"$W/r2.json" 2>"$W/log" || { cat "$W/log"; fail "train-vlm rerun after the kill"; }
resumed="$(python3 -c 'import json,sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["resumed_from"])' "$W/r2.json")"
[ "$resumed" -gt 0 ] || fail "resume test: the rerun did not resume from a checkpoint"
python3 mpi/test/compare_weights.py "$W/r1/vlm/v1/weights.safetensors" "$W/r2/vlm/v1/weights.safetensors" --rtol 1e-5 \
  --zero-gradient "blocks.*.qkv.bias:$d:$((2 * d))" --atol 0.252 || fail "train-vlm resumed on 2 ranks differs from 1 uninterrupted process"
ok "train-vlm killed on 2 ranks (mpirun exit $rc), resumed from step $resumed, = 1 uninterrupted process within 1e-5"

echo "$passed passed (test-mpi)"
