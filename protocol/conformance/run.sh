#!/usr/bin/env bash
# The protocol conformance test (run by scripts/test-clients.sh, i.e. by `make test`):
#   1. a Python venv with jsonschema in .build/protocol-venv (ignored by git; created once, reused; pip
#      installs jsonschema from PyPI only if the system Python lacks it);
#   2. selftest.py: the trace checker rejects messages that break the schemas, the matcher its placeholders;
#   3. a private capillaryd (--trace, --max-message-bytes 65536) on an empty store plus a damaged model;
#   4. replay.py: every protocol/examples/*.jsonl against it (train.jsonl first trains the tiny models);
#   5. check.py names: initialize, the registry, protocol/README.md and the schemas list the same methods;
#   6. check.py trace: every message this daemon sent, and those in the extra trace files given (the client
#      tests' daemon), is valid against protocol/schema.
# Usage: protocol/conformance/run.sh BIN_DIR WORK_DIR [EXTRA_TRACE...]
set -euo pipefail
cd "$(dirname "$0")/../.."
BIN="$1"
WORK="$2"
shift 2
EXTRA_TRACES=("$@")

VENV="$(pwd)/.build/protocol-venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv --system-site-packages "$VENV"
fi
if ! "$VENV/bin/python" -c 'import jsonschema, referencing' 2>/dev/null; then
  "$VENV/bin/python" -m pip install --quiet 'jsonschema>=4.18' >"$WORK/pip-protocol.log" 2>&1 \
    || { cat "$WORK/pip-protocol.log" >&2; echo "protocol: cannot install jsonschema into $VENV" >&2; exit 1; }
fi
PY="$VENV/bin/python"
"$PY" protocol/conformance/selftest.py

SOCK="$WORK/conf.sock"
STORE="$WORK/conf-store"
SCRATCH="$WORK/conf-scratch"
TRACE="$WORK/trace-conformance.jsonl"
mkdir -p "$STORE/broken/1" "$SCRATCH"
# A damaged model for models/load's -32021 example: a config that claims a GNN, weights that are not safetensors.
echo '{"kind": "graphnet"}' >"$STORE/broken/1/config.json"
echo 'not a safetensors file' >"$STORE/broken/1/weights.safetensors"

"$BIN/capillaryd" --socket "$SOCK" --store "$STORE" --trace "$TRACE" --max-message-bytes 65536 --log-level info \
  >"$WORK/conf-daemon.log" 2>&1 &
conf_pid=$!
stop_daemon() {
  if kill -0 "$conf_pid" 2>/dev/null; then
    kill -TERM "$conf_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$conf_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$conf_pid" 2>/dev/null || true
  fi
  wait "$conf_pid" 2>/dev/null || true
}
trap 'stop_daemon' EXIT
for _ in $(seq 1 100); do [ -S "$SOCK" ] && break; sleep 0.1; done
[ -S "$SOCK" ] || { echo "protocol: capillaryd did not start:" >&2; cat "$WORK/conf-daemon.log" >&2; exit 1; }

rc=0
"$PY" protocol/conformance/replay.py --socket "$SOCK" --scratch "$SCRATCH" || rc=1
"$PY" protocol/conformance/check.py names --socket "$SOCK" --daemon "$BIN/capillaryd" || rc=1
stop_daemon
trap - EXIT
"$PY" protocol/conformance/check.py trace "$TRACE" "${EXTRA_TRACES[@]}" || rc=1
if [ "$rc" -ne 0 ]; then
  echo "protocol: conformance FAILED; last lines of the conformance daemon's log:" >&2
  tail -n 20 "$WORK/conf-daemon.log" >&2
fi
exit "$rc"
