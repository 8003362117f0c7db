#!/usr/bin/env bash
# The whole end-to-end suite against an AddressSanitizer + UndefinedBehaviorSanitizer build of the
# server. Only `onsen` is rebuilt (-DONSEN_SANITIZE=ON, its own build directory); the ordinary
# e2e_tests binary drives it through ONSEN_TEST_BINARY. Every sanitizer report fails the run: the
# server stops at the first one (halt_on_error), leaks are checked when it exits, and each report is
# written to a file of its own (log_path), so none is lost with the test's temporary directory.
#
# Usage: scripts/sanitize-e2e.sh [E2E_TESTS_BINARY]   (default build/tests/e2e_tests)
# Environment: SANITIZE_BUILD_DIR (default build/asan), SANITIZE_SHARDS (parallel test processes,
#   default 2), SANITIZE_TIMEOUT (seconds for the test run, default 1200).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
e2e=${1:-$root/build/tests/e2e_tests}
build=${SANITIZE_BUILD_DIR:-$root/build/asan}
shards=${SANITIZE_SHARDS:-2}
case $build in /*) ;; *) build=$root/$build ;; esac
[ -x "$e2e" ] || { echo "sanitize: no e2e test binary at $e2e (build the tests first)" >&2; exit 1; }

start=$(date +%s)
echo "sanitize: building onsen with ASan + UBSan in $build" >&2
mkdir -p "$build"
# -O1 -g1: what the sanitizers recommend, line tables for the reports, and a build that takes a
# fraction of RelWithDebInfo's time (Beast's coroutines under ASan are costly to compile).
cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=None -DCMAKE_CXX_FLAGS="-O1 -g1" -DONSEN_SANITIZE=ON \
  -DONSEN_TESTS=OFF >/dev/null
cmake --build "$build" -j "$(nproc)" --target onsen >"$build/build.log" 2>&1 || {
  grep -E 'error|Error' "$build/build.log" | head -40 >&2
  echo "sanitize: build failed (log: $build/build.log)" >&2
  exit 1
}
built=$(date +%s)

reports=$build/reports
rm -rf "$reports" "$build/shards"
mkdir -p "$reports" "$build/shards"
export ONSEN_TEST_BINARY=$build/onsen
# The test binary is not instrumented: these options only act on the server it starts.
export ASAN_OPTIONS="halt_on_error=1:abort_on_error=0:detect_leaks=1:detect_stack_use_after_return=1:log_path=$reports/asan"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1:log_path=$reports/ubsan"

pids=()
for ((i = 0; i < shards; i++)); do
  GTEST_TOTAL_SHARDS=$shards GTEST_SHARD_INDEX=$i \
    timeout --kill-after=30 "${SANITIZE_TIMEOUT:-1200}" "$e2e" --gtest_brief=1 \
    >"$build/shards/$i.log" 2>&1 &
  pids+=($!)
done
failed=0
for ((i = 0; i < shards; i++)); do
  if ! wait "${pids[$i]}"; then
    failed=1
    echo "--- sanitize: e2e shard $i failed ($build/shards/$i.log)" >&2
    grep -E '^\[  FAILED|Failure|error:' "$build/shards/$i.log" | head -40 >&2 || true
  fi
done

# The e2e fixture speaks plain HTTP; TLS bodies take another write path (sealed records, pulled
# file reads). Parallel TLS blob GETs once found a use-after-free there: run them here too.
tls_check() {
  local dir port pid digest i
  dir=$(mktemp -d)
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  openssl req -x509 -newkey rsa:2048 -nodes -keyout "$dir/key.pem" -out "$dir/cert.pem" -days 1 \
    -subj /CN=localhost 2>/dev/null
  head -c 3000000 /dev/urandom >"$dir/blob"
  digest=sha256:$(sha256sum "$dir/blob" | cut -d' ' -f1)
  printf '%s\n' 'version: 0.1' 'log: {level: warn}' \
    "storage: {filesystem: {rootdirectory: $dir/data}}" \
    "http: {addr: 127.0.0.1:$port, tls: {certificate: $dir/cert.pem, key: $dir/key.pem}}" \
    >"$dir/config.yml"
  env -i PATH="$PATH" ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="${UBSAN_OPTIONS:-}" \
    "$build/onsen" serve "$dir/config.yml" >"$dir/server.log" 2>&1 &
  pid=$!
  local url=https://127.0.0.1:$port/v2/tls/check
  for i in $(seq 50); do curl -sfk -o /dev/null "https://127.0.0.1:$port/v2/" && break; sleep 0.2; done
  local loc
  loc=$(curl -sfk -X POST -D - -o /dev/null "$url/blobs/uploads/" | tr -d '\r' |
    awk -F': ' 'tolower($1)=="location"{print $2}')
  curl -sfk -X PUT -H 'Content-Type: application/octet-stream' --data-binary @"$dir/blob" \
    "https://127.0.0.1:$port$loc?digest=$digest" -o /dev/null || loc=
  local ok=0
  if [ -n "$loc" ]; then
    ok=1
    for i in $(seq 8); do curl -sfk -o "$dir/get$i" "$url/blobs/$digest" & done
    local wait_rc=0 job
    for job in $(jobs -p); do [ "$job" = "$pid" ] || wait "$job" || wait_rc=1; done
    for i in $(seq 8); do cmp -s "$dir/blob" "$dir/get$i" || ok=0; done
    [ $wait_rc = 0 ] || ok=0
  fi
  kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  rm -rf "$dir"
  if [ $ok = 1 ]; then echo "sanitize: 8 parallel TLS blob GETs byte-identical" >&2; else
    echo "--- sanitize: TLS blob check failed" >&2; return 1; fi
}
tls_check || failed=1

if [ -n "$(ls -A "$reports")" ]; then
  failed=1
  echo "--- sanitize: sanitizer reports from the server:" >&2
  for f in "$reports"/*; do
    echo "=== $f" >&2
    head -60 "$f" >&2
  done
fi
tests=$(grep -ho '^\[  PASSED  \] [0-9]*' "$build"/shards/*.log | awk '{s += $4} END {print s + 0}')
end=$(date +%s)
echo "sanitize: build $((built - start)) s, e2e $((end - built)) s ($tests tests passed in $shards shards)"
[ $failed = 0 ] && echo "sanitize: no sanitizer report" >&2
exit $failed
