# shellcheck shell=bash disable=SC2034  # the state below is used by the files that source this
# Helpers shared by the shell test suites (tests/deploy/lib.sh and tests/interop/lib.sh source this
# file; a test script sources its suite's lib.sh, never this file directly). Sourced, not run; safe
# under `set -euo pipefail` and under `set -uo pipefail`.
#
#   pass NAME / fail NAME [DETAIL...] / skip NAME REASON    one result line ("ok   - ", "FAIL - ")
#   check NAME CMD... / check_fail NAME CMD...             CMD exits 0 / non-zero (output shown on failure)
#   check_eq NAME EXPECTED ACTUAL
#   check_contains / check_not_contains NAME NEEDLE HAYSTACK   fixed string, case-sensitive
#   summary                   "N passed, M failed" (last line); exits 0 only when nothing failed
#   abort NAME [DETAIL...]    a fatal error: counts as a failure and ends the script
#   dump_server_logs          the last lines of every log registered in PID_LOG
#   free_port                 a free TCP port on 127.0.0.1
#   stop_pid PID              SIGTERM, wait up to 15 s, SIGKILL; non-zero when it had to kill
#   sha256_file FILE          "sha256:<hex>" of FILE
#   oci_index_digest LAYOUT TAG   the manifest digest an OCI layout's index.json gives for TAG
# State: PASSED FAILED FAILED_NAMES; STARTED_PIDS, PID_LOG[pid]=log file, PID_NAME[pid]=name (for
# the suites' process starters); LAST_PID.

PASSED=0
FAILED=0
FAILED_NAMES=()
STARTED_PIDS=()
declare -A PID_LOG=()
declare -A PID_NAME=()
LAST_PID=""

log() { printf '%s\n' "$*" >&2; }

# ---------------------------------------------------------------- checks and results
pass() { PASSED=$((PASSED + 1)); printf 'ok   - %s\n' "$1"; }
# fail NAME [DETAIL...]
fail() {
  FAILED=$((FAILED + 1)); FAILED_NAMES+=("$1")
  printf 'FAIL - %s\n' "$1"
  shift
  local line
  if [ $# -gt 0 ]; then
    printf '%s\n' "$@" | while IFS= read -r line; do printf '       %s\n' "$line"; done
  fi
  return 0
}
# skip NAME REASON: not counted.
skip() { printf 'skip - %s (%s)\n' "$1" "${2:-}"; }
# check NAME CMD...: passes when CMD exits 0 (its output is shown only on failure).
check() {
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then pass "$name"; else fail "$name" "command: $*" "$(printf '%s' "$out" | tail -n 15)"; fi
}
# check_fail NAME CMD...: passes when CMD exits non-zero.
check_fail() {
  local name=$1; shift
  local out
  if out=$("$@" 2>&1); then fail "$name" "command unexpectedly succeeded: $*" "$(printf '%s' "$out" | tail -n 8)"; else pass "$name"; fi
}
# check_eq NAME EXPECTED ACTUAL
check_eq() {
  if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "expected: $2" "got:      $3"; fi
}
# check_contains NAME NEEDLE HAYSTACK (fixed string, case-sensitive)
check_contains() {
  case $3 in
    *"$2"*) pass "$1" ;;
    *) fail "$1" "expected to contain: $2" "got: $(printf '%s' "$3" | tail -n 12 | cut -c1-400)" ;;
  esac
}
# check_not_contains NAME NEEDLE HAYSTACK
check_not_contains() {
  case $3 in
    *"$2"*) fail "$1" "expected NOT to contain: $2" "got: $(printf '%s' "$3" | tail -n 12 | cut -c1-400)" ;;
    *) pass "$1" ;;
  esac
}
# summary: prints "N passed, M failed" (last line) and exits 0 only when nothing failed.
summary() {
  if [ "$FAILED" -gt 0 ]; then
    log ""
    log "failed checks:"
    local n; for n in "${FAILED_NAMES[@]}"; do log "  - $n"; done
    dump_server_logs
  fi
  echo "$PASSED passed, $FAILED failed"
  if [ "$FAILED" -eq 0 ]; then exit 0; else exit 1; fi
}
# abort NAME [DETAIL...]: a fatal error; counts as a failure and ends the script.
abort() {
  fail "$@"
  summary
}

dump_server_logs() {
  local pid
  for pid in "${!PID_LOG[@]}"; do
    [ -s "${PID_LOG[$pid]}" ] || continue
    log "---- last lines of ${PID_NAME[$pid]} log (pid $pid): ${PID_LOG[$pid]}"
    # (docker-registry logs every 404 as an error: those are expected, leave them out)
    grep -v 'http.response.status=404' "${PID_LOG[$pid]}" | tail -n 12 | cut -c1-400 >&2
  done
}

# ---------------------------------------------------------------- processes
# free_port: a TCP port on 127.0.0.1 that nothing listens on right now.
free_port() {
  python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# stop_pid PID: SIGTERM, wait up to 15 s, then SIGKILL. Returns non-zero when it had to kill.
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 150; i++)); do
    kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  log "pid $pid (${PID_NAME[$pid]:-?}) ignored SIGTERM for 15 s: killing it"
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  return 1
}

# ---------------------------------------------------------------- files
sha256_file() { echo "sha256:$(sha256sum <"$1" | cut -d' ' -f1)"; }

# oci_index_digest LAYOUT TAG: the manifest digest index.json gives for TAG.
oci_index_digest() {
  jq -r --arg t "$2" '.manifests[] | select(.annotations["org.opencontainers.image.ref.name"] == $t) | .digest' \
    "$1/index.json"
}
