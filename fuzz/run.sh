#!/usr/bin/env bash
# make fuzz: builds CapillaryFuzz with libFuzzer (--sanitize=fuzzer, plus AddressSanitizer unless
# FUZZ_SANITIZERS says otherwise) in its own scratch path, then fuzzes each target for FUZZ_SECONDS, starting
# from the seed corpus in fuzz/corpus/<target> (new interesting inputs go to .build-fuzz/corpus/<target>,
# outside the repository). A crash leaves its input in bench-out/fuzz/ and fails the run.
# Writes bench-out/fuzz.json and a markdown table: executions, executions/s, coverage, corpus size, crashes.
set -euo pipefail
cd "$(dirname "$0")/.."
SWIFT="${SWIFT:-swift}"
FUZZ_SECONDS="${FUZZ_SECONDS:-60}"
FUZZ_TARGETS="${FUZZ_TARGETS:-framing images safetensors}"
FUZZ_SANITIZERS="${FUZZ_SANITIZERS:-fuzzer address}"
SCRATCH=.build-fuzz
# swiftc keeps only the last -sanitize= flag (a later -sanitize=address would silently drop the fuzzer's
# coverage instrumentation), so the list goes to swiftc as one comma-separated flag, after SwiftPM's own.
san_flags=()
for s in $FUZZ_SANITIZERS; do san_flags+=(--sanitize="$s"); done
joined="$(echo $FUZZ_SANITIZERS | tr ' ' ',')"

"$SWIFT" build -c release --product CapillaryFuzz --scratch-path "$SCRATCH" "${san_flags[@]}" \
  -Xswiftc -sanitize="$joined" -Xswiftc -DCAPILLARY_FUZZ
# The same flags here: a --show-bin-path without them re-plans the build without sanitizers, and the next
# make fuzz would recompile everything.
BIN="$("$SWIFT" build -c release --scratch-path "$SCRATCH" "${san_flags[@]}" -Xswiftc -sanitize="$joined" \
  -Xswiftc -DCAPILLARY_FUZZ --show-bin-path)/CapillaryFuzz"
if ! readelf -S "$BIN" | grep -q __sancov_; then
  echo "fuzz: $BIN has no coverage instrumentation (check the -sanitize flags)" >&2
  exit 1
fi
mkdir -p bench-out/fuzz
json="["
status=0
printf '\n| target | seconds | executions | exec/s | coverage (edges) | corpus | crashes |\n|---|---|---|---|---|---|---|\n' > bench-out/fuzz/table.md
for t in $FUZZ_TARGETS; do
  work="$SCRATCH/corpus/$t"
  mkdir -p "$work"
  log="bench-out/fuzz/$t.log"
  set +e
  CAPILLARY_FUZZ_TARGET="$t" "$BIN" "$work" "fuzz/corpus/$t" -max_total_time="$FUZZ_SECONDS" -max_len=65536 \
    -timeout=10 -rss_limit_mb=2048 -artifact_prefix="bench-out/fuzz/$t-" -print_final_stats=1 > "$log" 2>&1
  rc=$?
  set -e
  execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)"
  rate="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)"
  cov="$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)"
  corpus="$(ls "$work" | wc -l)"
  crashes="$(ls bench-out/fuzz/ | grep -c "^$t-\(crash\|leak\|timeout\|oom\)" || true)"
  if [ "$rc" -ne 0 ]; then
    status=1
    echo "fuzz: $t failed (exit $rc); last lines of $log:" >&2
    tail -n 40 "$log" >&2
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$t" "$FUZZ_SECONDS" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$corpus" "$crashes" \
    >> bench-out/fuzz/table.md
  [ "$json" = "[" ] || json+=","
  json+="{\"target\":\"$t\",\"seconds\":$FUZZ_SECONDS,\"executions\":${execs:-null},\"execPerSecond\":${rate:-null},\"coverageEdges\":${cov:-null},\"corpusFiles\":$corpus,\"crashes\":$crashes,\"exitCode\":$rc}"
done
json+="]"
cpu="$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
printf '{"name":"fuzz","date":"%s","commit":"%s","nproc":%s,"cpu":"%s","sanitizers":"%s","targets":%s}\n' \
  "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" "$(nproc)" "$cpu" \
  "$FUZZ_SANITIZERS" "$json" > bench-out/fuzz.json
cat bench-out/fuzz/table.md
echo "fuzz: JSON in bench-out/fuzz.json"
exit "$status"
