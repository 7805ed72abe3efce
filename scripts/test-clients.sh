#!/usr/bin/env bash
# Tests the clients (clients/python, clients/node, clients/nvim, the Swift CLI and the socat one-liner of
# clients/README.md) against a live capillaryd started here on a private socket with an empty temporary model
# store, then the protocol conformance test (protocol/conformance/run.sh: the examples replayed against a
# second daemon, and every message both daemons sent validated against protocol/schema). Stops the daemons
# on exit, also on failure or Ctrl-C. Run by `make test` after `swift test`; needs a release build.
set -euo pipefail
cd "$(dirname "$0")/.."

SWIFT="${SWIFT:-swift}"
BIN="$("$SWIFT" build -c release -Xswiftc -enable-testing --show-bin-path)"
DAEMON="$BIN/capillaryd"
if [ ! -x "$DAEMON" ]; then
  echo "test-clients: $DAEMON not found; build first: swift build -c release -Xswiftc -enable-testing" >&2
  exit 1
fi

# Short private paths: a socket path must fit in 107 bytes.
WORK="$(mktemp -d /tmp/capillary-clients.XXXXXX)"
SOCK="$WORK/d.sock"
STORE="$WORK/store"
SCRATCH="$WORK/scratch"
mkdir -p "$STORE" "$SCRATCH"
daemon_pid=""

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [ -n "$daemon_pid" ] && kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$daemon_pid" 2>/dev/null || true
    wait "$daemon_pid" 2>/dev/null || true
  fi
  if [ "$rc" -ne 0 ] && [ -f "$WORK/daemon.log" ]; then
    echo "test-clients: FAILED (exit $rc); last lines of the capillaryd log:" >&2
    tail -n 30 "$WORK/daemon.log" >&2
  fi
  rm -rf "$WORK"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TRACE="$WORK/trace-clients.jsonl"
daemon_args=(--socket "$SOCK" --log-level info --trace "$TRACE")
if "$DAEMON" --help 2>&1 | grep -q -- '--store'; then
  daemon_args+=(--store "$STORE")
fi
"$DAEMON" "${daemon_args[@]}" >"$WORK/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 1 100); do
  [ -S "$SOCK" ] && break
  if ! kill -0 "$daemon_pid" 2>/dev/null; then
    echo "test-clients: capillaryd exited at start-up" >&2
    exit 1
  fi
  sleep 0.1
done
[ -S "$SOCK" ] || { echo "test-clients: capillaryd did not create $SOCK within 10 s" >&2; exit 1; }
echo "test-clients: capillaryd $daemon_pid on $SOCK (store $STORE)"

export CAPILLARY_SOCKET="$SOCK" CAPILLARY_TEST_STORE="$STORE" CAPILLARY_TEST_DIR="$SCRATCH"

# 1. The socat one-liner from clients/README.md.
reply="$( (printf '%s\n' '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{}}' \
                         '{"jsonrpc":"2.0","id":2,"method":"ping"}'; sleep 0.5) \
          | socat - "UNIX-CONNECT:$SOCK")"
if ! grep -q '"id":2,"result":null' <<<"$reply"; then
  echo "test-clients: socat one-liner: expected the ping reply, got: $reply" >&2
  exit 1
fi
echo "test-clients: socat one-liner ok"

# 2. Python: install the package into a venv under the build folder (checks that `pip install
#    clients/python` works offline: a stdlib build backend, --no-index; --system-site-packages brings pytest),
#    then run pytest from outside the source tree so the installed package is what gets imported.
VENV="$(pwd)/.build/clients-venv"
if [ ! -x "$VENV/bin/python" ]; then
  python3 -m venv --system-site-packages "$VENV"
fi
"$VENV/bin/python" -m pip install --quiet --no-index --no-deps --force-reinstall "$(pwd)/clients/python" \
  >"$WORK/pip.log" 2>&1 || { cat "$WORK/pip.log" >&2; exit 1; }
installed="$(cd "$WORK" && "$VENV/bin/python" -c 'import capillary_client, os; print(os.path.dirname(capillary_client.__file__))')"
case "$installed" in
  "$VENV"/*) ;;
  *) echo "test-clients: capillary_client imported from $installed, not from the venv" >&2; exit 1 ;;
esac
set +e
(cd "$WORK" && "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$OLDPWD/clients/python/tests")
py_rc=$?
set -e
if [ "$py_rc" -eq 5 ]; then
  echo "test-clients: pytest collected no tests (exit 5)" >&2
  exit 1
elif [ "$py_rc" -ne 0 ]; then
  echo "test-clients: Python client tests failed (pytest exit $py_rc)" >&2
  exit 1
fi

# 2b. Bad-input sweep (issue 14): 3,000 seeded malformed, truncated, wrong-typed and random messages on one
#     connection; every reply must carry its category's error code and the daemon must keep serving.
python3 clients/testing/bad_input_sweep.py "$SOCK" --count 3000 --seed 1

# 2c. Disconnect storm (issue 14): 200 streaming explains abandoned six ways (16 at a time); the daemon's fds
#     and threads must return to their baseline exactly and its RSS stay within 64 MiB.
python3 clients/testing/disconnect_storm.py "$SOCK" --pid "$daemon_pid" --rounds 200 --parallel 16

# 2d. Soak smoke (issue 14; `make soak` is the 10-minute run): 64 clients for 0.5 min mixing stage, attribute
#     and streaming explain with cancels and disconnects against this daemon's models.
python3 clients/testing/soak.py --socket "$SOCK" --pid "$daemon_pid" --minutes 0.5 --clients 64 \
  --out "$WORK/soak-smoke.json"

# 3. Node: node --test; a run that executed no test counts as a failure.
node --test clients/node/test/daemon.test.js clients/node/test/streaming.test.js | tee "$WORK/node.tap" \
  | grep -E '^(not ok|# (tests|pass|fail))' || true
node_rc=${PIPESTATUS[0]}
node_tests="$(sed -n 's/^# tests \([0-9]*\)$/\1/p' "$WORK/node.tap")"
if [ "$node_rc" -ne 0 ] || [ -z "$node_tests" ] || [ "$node_tests" -eq 0 ]; then
  echo "test-clients: Node client tests failed (exit $node_rc, ${node_tests:-no} tests); full output:" >&2
  cat "$WORK/node.tap" >&2
  exit 1
fi

# 4. Neovim: headless, plugin loaded from clients/nvim; exits non-zero on any failed check.
timeout 300 nvim --headless -u NONE -c "luafile clients/nvim/test/headless_test.lua"

# 5. The Swift CLI (`capillary explain/stage/graph --daemon/models/status/train/jobs/daemon`), driven as a
#    process by pytest (exit codes, streaming, --json, Ctrl-C); it uses the VLM the Python tests trained.
set +e
(cd "$WORK" && CAPILLARY_BIN="$BIN" "$VENV/bin/python" -m pytest -q -p no:cacheprovider "$OLDPWD/clients/cli/test_cli.py")
cli_rc=$?
set -e
if [ "$cli_rc" -ne 0 ]; then
  echo "test-clients: Swift CLI client tests failed (pytest exit $cli_rc)" >&2
  exit 1
fi

# 6. Stop the client tests' daemon (its shutdown replies are traced too), then the protocol conformance test:
#    examples replayed against its own daemon, and every message both daemons sent checked against the schemas.
kill -TERM "$daemon_pid"
for _ in $(seq 1 100); do kill -0 "$daemon_pid" 2>/dev/null || break; sleep 0.1; done
wait "$daemon_pid" 2>/dev/null || true
daemon_pid=""
# (trace-cli-daemon.jsonl: the daemon that the CLI test started and stopped with `capillary daemon start`.)
bash protocol/conformance/run.sh "$BIN" "$WORK" "$TRACE" "$WORK/trace-cli-daemon.jsonl"

# 7. MPI scale-out (issue 15): capillary-mpi on 2 ranks vs the single-process commands; skips without mpirun.
bash mpi/test/run.sh

# 8. Fault injection (issue 14): kill -9 during training and mid-save, a full disk (tmpfs; skipped with the
#    reason when it cannot be mounted), each against fresh daemons on their own stores.
python3 clients/testing/fault_injection.py "$BIN" --kills 5

# 9. The fuzz seed corpus (and every crash input kept there) replayed through the fuzz targets' invariants.
for t in framing images safetensors; do "$BIN/CapillaryFuzz" "$t" "fuzz/corpus/$t" 2>/dev/null; done

echo "test-clients: all client tests passed"
