#!/usr/bin/env bash
# make demo: runs the furthest part of the pipeline that works today (it grows with each module).
set -euo pipefail
BIN="$1"; OUT="$2"
mkdir -p "$OUT"
REAL=../shared/real-octa
echo "== Capillary demo =="
if [ -d "$REAL/octa500-6mm" ]; then
  echo "-- reading real OCTA-500 projections (BMP) --"
  "$BIN/capillary" image-info "$REAL"/octa500-6mm/ILM_OPL_*.bmp
fi
if [ -d "$REAL/drac-samples" ]; then
  echo "-- reading DRAC samples (PNG) --"
  "$BIN/capillary" image-info "$REAL"/drac-samples/*.png
fi
