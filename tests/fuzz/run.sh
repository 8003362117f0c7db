#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, ASan + UBSan) and runs each for a bounded time,
# two at a time. Fails when any target reports a crash, a leak, a timeout, an out-of-memory or a
# sanitizer finding (the input is kept under <build>/artifacts/<target>/). Prints executions,
# execution rate and coverage per target.
#
# Usage: tests/fuzz/run.sh [target...]        (default: every *_fuzzer.cpp)
# Environment: FUZZ_SECONDS (per target, default 45), FUZZ_JOBS (targets at once, default 2),
#   FUZZ_BUILD_DIR (default build/fuzz), FUZZ_CXX (default clang++-14, else clang++).
# Regressions: every file of tests/fuzz/corpus/<target>/ is run first, so a seed that once crashed
# keeps failing the run until the bug stays fixed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
seconds=${FUZZ_SECONDS:-45}
jobs=${FUZZ_JOBS:-2}
build=${FUZZ_BUILD_DIR:-$root/build/fuzz}
case $build in /*) ;; *) build=$root/$build ;; esac

start=$(date +%s)
echo "fuzz: building in $build" >&2
cxx=${FUZZ_CXX:-$(command -v clang++-14 || command -v clang++ || echo clang++)}
cmake -S "$here" -B "$build" -DCMAKE_CXX_COMPILER="$cxx" >/dev/null
cmake --build "$build" -j "$(nproc)" >"$build/build.log" 2>&1 || {
  grep -E 'error|Error' "$build/build.log" | head -40 >&2
  echo "fuzz: build failed (log: $build/build.log)" >&2
  exit 1
}
built=$(date +%s)

if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for src in "$here"/*_fuzzer.cpp; do
    name=$(basename "$src" .cpp)
    targets+=("${name%_fuzzer}")
  done
fi

# One target: the seed corpus (read-only, committed) plus a scratch corpus in the build dir that
# the fuzzer extends. Every report makes libFuzzer exit non-zero.
run_target() {
  local t=$1
  local work=$build/run/$t
  rm -rf "$work" "$build/artifacts/$t"
  mkdir -p "$work/corpus" "$build/artifacts/$t"
  local args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=8192
              -print_final_stats=1 -artifact_prefix="$build/artifacts/$t/")
  [ -f "$here/dict/$t.dict" ] && args+=(-dict="$here/dict/$t.dict")
  local seeds=()
  [ -d "$here/corpus/$t" ] && seeds=("$here/corpus/$t")
  local rc=0
  ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=0:handle_abort=1 \
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    timeout --kill-after=10 $((seconds + 120)) \
    "$build/fuzz_$t" "${args[@]}" "$work/corpus" "${seeds[@]}" >"$work/log" 2>&1 || rc=$?
  echo "$rc" >"$work/rc"
}

pids=()
for t in "${targets[@]}"; do
  [ -x "$build/fuzz_$t" ] || { echo "fuzz: no target fuzz_$t" >&2; exit 1; }
  run_target "$t" &
  pids+=($!)
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n || true; done
done
wait

failed=0
printf '%-14s %10s %8s %7s %7s %6s  %s\n' target execs exec/s cov ft corpus result
for t in "${targets[@]}"; do
  work=$build/run/$t
  rc=$(cat "$work/rc" 2>/dev/null || echo 1)
  done_line=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$work/log" | tail -1 || true)
  execs=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$work/log")
  rate=$(awk '/^stat::average_exec_per_sec:/ {print $2}' "$work/log")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$done_line")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$done_line")
  corp=$(sed -n 's/.* corp: \([0-9]*\)\/.*/\1/p' <<<"$done_line")
  result=ok
  if [ "$rc" != 0 ] || grep -qE '^==[0-9]+==ERROR|runtime error:|invariant violated|ALARM: working on the last Unit for|out-of-memory|deadly signal' "$work/log" ||
     [ -n "$(ls -A "$build/artifacts/$t")" ]; then
    result="FAILED (exit $rc; log $work/log; inputs in $build/artifacts/$t/)"
    failed=1
  fi
  printf '%-14s %10s %8s %7s %7s %6s  %s\n' "$t" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" \
    "${corp:-?}" "$result"
done
for t in "${targets[@]}"; do
  work=$build/run/$t
  if [ "$(cat "$work/rc" 2>/dev/null || echo 1)" != 0 ] || [ -n "$(ls -A "$build/artifacts/$t")" ]; then
    echo "--- $t: last lines of $work/log" >&2
    grep -vE '^#[0-9]+[[:space:]]+(NEW|REDUCE|pulse)' "$work/log" | tail -40 >&2
  fi
done
end=$(date +%s)
echo "fuzz: build $((built - start)) s, fuzzing $((end - built)) s (${seconds} s per target, $jobs at once)"
exit $failed
