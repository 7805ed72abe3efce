#!/usr/bin/env bash
# make demo: the whole pipeline on this machine, from simulated pixels to a streamed explanation through the
# daemon. Every step is cached in $OUT: a re-run reuses what is already built (delete a folder to redo it).
set -euo pipefail
BIN="$1"; OUT="$2"
COUNT="${DEMO_COUNT:-300}"        # cohort size: 210 train / 45 val / 45 test
SEED="${DEMO_SEED:-1}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
COHORT="$OUT/cohort"; STORE="$OUT/store"; SOCK="$OUT/capillary.sock"
REAL=../shared/real-octa
t0=$SECONDS
step() { printf '\n\033[1m== %s\033[0m (%ss so far)\n' "$1" $((SECONDS - t0)); }

step "1. Simulate a cohort of $COUNT OCTA eyes (3x3 mm, 304 px) with DR pathology and ground truth"
if [ -f "$COHORT/manifest.jsonl" ] && [ "$(wc -l < "$COHORT/manifest.jsonl")" -eq "$COUNT" ]; then
  echo "cached: $COHORT"
else
  rm -rf "$COHORT"
  "$BIN/capillary" generate --count "$COUNT" --seed "$SEED" --out "$COHORT"
fi

step "2. Vessel graph of one eye (segmentation, skeleton, vessel/ICA/FAZ nodes, biomarkers)"
EYE=$(grep '"split":"test"' "$COHORT/manifest.jsonl" | head -1 | sed 's/.*"path":"\([^"]*\)".*/\1/')
"$BIN/capillary" graph "$COHORT/$EYE" --out "$OUT/eye.graph.json" --overlay "$OUT/eye.overlay.png"
echo "graph: $OUT/eye.graph.json   overlay: $OUT/eye.overlay.png"

step "3. Train the graph neural network (stages Healthy / NPDR / PDR from the graph)"
if [ -d "$STORE/graphnet" ]; then echo "cached: $STORE/graphnet"; else
  "$BIN/capillary" train-gnn --cohort "$COHORT" --store "$STORE" --seed "$SEED"
fi

step "4. Evaluate the GNN and the biomarker baseline on the held-out test split"
"$BIN/capillary" eval-gnn --cohort "$COHORT" --store "$STORE" --baselines --no-cnn | tee "$OUT/eval-gnn.txt"

step "5. Train the student vision-language model (small) on ground-truth captions"
if [ -d "$STORE/vlm" ]; then echo "cached: $STORE/vlm"; else
  "$BIN/capillary" vlm-captions --cohort "$COHORT" --out "$OUT/captions.json" --style truth
  "$BIN/capillary" train-vlm --data "$OUT/captions.json" --config small --store "$STORE" \
      --align-steps "${DEMO_ALIGN_STEPS:-150}" --steps "${DEMO_STEPS:-600}" --seed "$SEED"
fi

step "6. Start capillaryd with these models and stream an explanation of a held-out eye"
"$BIN/capillaryd" --socket "$SOCK" --store "$STORE" --log-level warn &
DPID=$!
trap 'kill -TERM $DPID 2>/dev/null || true; wait $DPID 2>/dev/null || true' EXIT
for _ in $(seq 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
PYTHONPATH="$PWD/clients/python" python3 - "$SOCK" "$COHORT/$EYE" "$COHORT" <<'PY'
import json, sys
from capillary_client import Client
sock, image, cohort = sys.argv[1], sys.argv[2], sys.argv[3]
meta = json.load(open(image.replace("/images/", "/meta/").replace(".png", ".json")))
with Client(sock) as c:
    st = c.stage(image)
    probs = ", ".join(f"{k} {v:.2f}" for k, v in st["probabilities"].items()) if isinstance(st.get("probabilities"), dict) else st.get("probabilities")
    print(f"image: {image}")
    print(f"truth: {meta['stage']} (severity {meta['severity']:.2f}, FAZ {meta['faz_area_mm2']:.3f} mm2)")
    print(f"GNN:   {st['stage']}  [{probs}]  model {st['model']['name']} v{st['model']['version']}")
    print("VLM explanation, streamed token by token through the daemon:\n")
    s = c.explain(image, maxTokens=160)
    for delta in s:
        print(delta, end="", flush=True)
    r = s.result
    print(f"\n\n[{r['tokens']} tokens, first token after {r['ttftMS']:.1f} ms, {r['tokensPerSecond']:.0f} tokens/s]")
PY

step "7. Stop the daemon cleanly"
kill -TERM $DPID; wait $DPID || true; trap - EXIT
[ -S "$SOCK" ] && echo "socket left behind!" || echo "daemon stopped, socket removed"

if [ -d "$REAL/octa500-6mm" ]; then
  step "8. The same graph pipeline on real OCTA-500 eyes against their manual masks"
  "$BIN/capillary" graph --evaluate-real "$REAL/octa500-6mm" --overlay-dir "$OUT/real"
fi
printf '\nDemo finished in %ss. Outputs in %s\n' $((SECONDS - t0)) "$OUT"
