#!/usr/bin/env bash
# make demo: the whole pipeline on this machine, from simulated pixels to a streamed explanation through the
# daemon. Every expensive step is cached in $OUT by content: it is redone only when the bytes of its inputs
# or its settings changed since it last ran (fingerprints in $OUT/.stamps; delete that folder to redo all).
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
# Content-keyed cache: `fingerprint` hashes files and folders (their bytes, in name order) and plain settings;
# a step whose stored fingerprint equals the current one is reused.
fingerprint() {
  for x in "$@"; do
    if [ -d "$x" ]; then find "$x" -type f -print0 | sort -z | xargs -0 cat | sha256sum
    elif [ -f "$x" ]; then sha256sum < "$x"
    else printf '%s\n' "$x"; fi
  done | sha256sum | cut -c1-16
}
cached() { [ -f "$OUT/.stamps/$1" ] && [ "$(cat "$OUT/.stamps/$1")" = "$2" ] && echo "cached: $1 (inputs unchanged)"; }
stamp() { mkdir -p "$OUT/.stamps"; printf '%s' "$2" > "$OUT/.stamps/$1"; }

step "1. Simulate a cohort of $COUNT OCTA eyes (3x3 mm, 304 px) with DR pathology and ground truth"
K=$(fingerprint generate "$COUNT" "$SEED" "$BIN/capillary")
if [ -f "$COHORT/manifest.jsonl" ] && cached cohort "$K"; then :; else
  rm -rf "$COHORT"
  "$BIN/capillary" generate --count "$COUNT" --seed "$SEED" --out "$COHORT"
  stamp cohort "$K"
fi
IMAGES=$(fingerprint "$COHORT/images" "$COHORT/manifest.jsonl")

step "2. Vessel graph of one eye (segmentation, skeleton, vessel/ICA/FAZ nodes, biomarkers)"
# grep -m1, not `| head -1`: under pipefail, head closing the pipe early kills grep with SIGPIPE (exit 141) once
# the manifest's test lines outgrow the pipe buffer.
EYE=$(grep -m1 '"split":"test"' "$COHORT/manifest.jsonl" | sed 's/.*"path":"\([^"]*\)".*/\1/')
"$BIN/capillary" graph "$COHORT/$EYE" --out "$OUT/eye.graph.json" --overlay "$OUT/eye.overlay.png"
echo "graph: $OUT/eye.graph.json   overlay: $OUT/eye.overlay.png"

step "3. Train the graph neural network (stages Healthy / NPDR / PDR from the graph)"
K=$(fingerprint train-gnn "$IMAGES" "$SEED")
if [ -d "$STORE/graphnet" ] && cached graphnet "$K"; then :; else
  rm -rf "$STORE/graphnet"
  "$BIN/capillary" train-gnn --cohort "$COHORT" --store "$STORE" --seed "$SEED" --log "$OUT/gnn-train.jsonl"
  stamp graphnet "$K"
fi

step "4. Evaluate the GNN and the biomarker baseline on the held-out test split"
"$BIN/capillary" eval-gnn --cohort "$COHORT" --store "$STORE" --baselines --no-cnn | tee "$OUT/eval-gnn.txt"
"$BIN/capillary" eval-gnn --cohort "$COHORT" --store "$STORE" --baselines --no-cnn --json > "$OUT/eval-gnn.json"

step "5. Integrated gradients: which structures drove the GNN's decision for that eye"
"$BIN/capillary" attribute "$COHORT/$EYE" --offline --store "$STORE" --out "$OUT/eye.attribution.json" \
    --heatmap "$OUT/eye.heatmap.png"

step "6. Graph knowledge -> grounded Q&A for every eye (findings vs healthy ranges, IG weights)"
K=$(fingerprint knowledge "$IMAGES" "$STORE/graphnet" "$SEED" "${DEMO_IG_STEPS:-16}" student-text)
if [ -f "$OUT/knowledge/train.json" ] && cached knowledge "$K"; then :; else
  rm -rf "$OUT/knowledge"
  "$BIN/capillary" knowledge --cohort "$COHORT" --store "$STORE" --out "$OUT/knowledge" --seed "$SEED" \
      --stage-source label --student-text --ig-steps "${DEMO_IG_STEPS:-16}"
  stamp knowledge "$K"
fi
python3 - "$OUT/knowledge/test.json" <<'PY'
import json, sys
rec = json.load(open(sys.argv[1]))[0]
print("example (" + rec["image"] + "):")
for turn in rec["conversations"][-2:]:
    print(("  Q: " if turn["from"] == "human" else "  A: ") + turn["value"].replace("<image>\n", "").replace("\n", "\n     "))
PY

step "7. Train the student VLM twice on the same images and budget: FT (stage label only) and GFT (graph knowledge)"
# Both students get the same staging aids (docs/VLM.md): encoder distillation (FT: the stage; GFT: the stage and
# the graph biomarkers), class-balanced and rotation/mirror-augmented stage 1.
VLM_SETTINGS=(--config small --align-steps "${DEMO_ALIGN_STEPS:-150}" --steps "${DEMO_STEPS:-600}" --seed "$SEED"
              --distill 1 --balanced --augment)
VLM_ARGS=(--store "$STORE" "${VLM_SETTINGS[@]}")
K=$(fingerprint vlm-ft "$IMAGES" "${VLM_SETTINGS[@]}")
if [ -d "$STORE/vlm-ft" ] && cached vlm-ft "$K"; then :; else
  rm -rf "$STORE/vlm-ft"
  "$BIN/capillary" vlm-captions --cohort "$COHORT" --out "$OUT/labels.json" --style label
  "$BIN/capillary" train-vlm --data "$OUT/labels.json" --name vlm-ft --log "$OUT/vlm-ft-train.jsonl" "${VLM_ARGS[@]}"
  stamp vlm-ft "$K"
fi
K=$(fingerprint vlm-gft "$IMAGES" "$OUT/knowledge" "${VLM_SETTINGS[@]}")
if [ -d "$STORE/vlm" ] && cached vlm "$K"; then :; else
  rm -rf "$STORE/vlm"
  "$BIN/capillary" train-vlm --data "$OUT/knowledge" --name vlm --log "$OUT/vlm-gft-train.jsonl" "${VLM_ARGS[@]}"
  stamp vlm "$K"
fi

step "8. Evaluate both students on the held-out test split (stage from the Stage: line; facts with Knowledge's parser)"
for v in ft gft; do
  name=vlm; [ "$v" = ft ] && name=vlm-ft
  echo "-- student $v ($name)"
  "$BIN/capillary" eval-vlm --data "$OUT/knowledge" --store "$STORE" --name "$name" --facts knowledge \
      --out "$OUT/eval-vlm-$v.json" | grep -E "^\| (accuracy|balanced|macro F1|QWK|agreement|fact F1|hallucination)"
done

step "9. Start capillaryd with these models; stage, attribute and stream an explanation of a held-out eye"
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
    probs = ", ".join(f"{k} {v:.2f}" for k, v in st["probabilities"].items())
    print(f"image: {image}")
    print(f"truth: {meta['stage']} (severity {meta['severity']:.2f}, FAZ {meta['faz_area_mm2']:.3f} mm2)")
    print(f"GNN:   {st['stage']}  [{probs}]  model {st['model']['name']} v{st['model']['version']}")
    at = c.attribute(image, top_k=3)
    print(f"IG:    convergence delta {at['convergenceDelta']:+.3f} logits; top structures:")
    for n in at["top"]:
        feats = ", ".join(f["name"] for f in n["topFeatures"][:2])
        print(f"       {n['type']} {n['index']} in sector {n['sector']}: {n['score']:+.3f} ({feats})")
    print("student (GFT) explanation, streamed token by token through the daemon:\n")
    s = c.explain(image, maxTokens=200)
    for delta in s:
        print(delta, end="", flush=True)
    r = s.result
    print(f"\n\n[{r['tokens']} tokens, first token after {r['ttftMS']:.1f} ms, {r['tokensPerSecond']:.0f} tokens/s]")
PY
echo
python3 scripts/demo-cases.py --cohort "$COHORT" --socket "$SOCK" --out "$OUT" --count "${DEMO_CASES:-4}" --bin "$BIN"

step "10. Stop the daemon cleanly"
kill -TERM $DPID; wait $DPID || true; trap - EXIT
[ -S "$SOCK" ] && echo "socket left behind!" || echo "daemon stopped, socket removed"

step "11. The report: cases, metrics, confusion matrices and training curves in one self-contained page"
"$BIN/capillary" report --dir "$OUT"

if [ -d "$REAL/octa500-6mm" ]; then
  step "12. The same graph pipeline on real OCTA-500 eyes against their manual masks"
  "$BIN/capillary" graph --evaluate-real "$REAL/octa500-6mm" --overlay-dir "$OUT/real"
fi
printf '\nDemo finished in %ss. Outputs in %s\n' $((SECONDS - t0)) "$OUT"
