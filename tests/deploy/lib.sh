# Shared helpers for the deployment tests (sourced, not run; safe under `set -euo pipefail`).
# A test script does:
#
#   #!/usr/bin/env bash
#   set -euo pipefail
#   source "$(dirname "$0")/lib.sh"
#   deploy_init "$@"                      # $1 = path to the onsen binary; traps, temp dir
#   deploy_install_deps podman            # base tools + extras, only the missing ones
#   start_onsen_classic "$ONSEN_BIN" "$(tmpdir onsen)" "$(free_port)"
#   check "catalog answers" curl -sf -u "$DEPLOY_USER:$DEPLOY_PASS" --cacert "$ONSEN_CA" "$ONSEN_URL/v2/_catalog"
#   ...
#   summary                               # prints "N passed, M failed", exits non-zero if M > 0
#
# Stable API (other scripts source this file; do not rename):
#   deploy_init ONSEN_BIN            sets ONSEN_BIN (absolute), TMP_ROOT, EXIT/INT/TERM traps
#   deploy_install_deps [PKG...]     apt-get install of the missing ones among the base set + PKG...
#   deploy_on_exit CMD [ARG...]      registers a cleanup command (run in reverse order on exit)
#   tmpdir [NAME]                    a fresh directory under TMP_ROOT
#   make_tls DIR NAME                self-signed RSA 4096 cert -> DIR/NAME.crt, DIR/NAME.key
#   make_htpasswd FILE USER PASS     appends a bcrypt entry (htpasswd -Bbn)
#   hosts_add NAME / hosts_remove NAME   "127.0.0.1 NAME" in /etc/hosts (removed on exit)
#   free_port                        a free TCP port on 127.0.0.1
#   start_onsen_classic BIN WORKDIR PORT   env-only start (htpasswd + TLS, 6 classic variables +
#                                    storage root); sets ONSEN_PID ONSEN_PORT ONSEN_URL ONSEN_CA
#                                    ONSEN_HTPASSWD ONSEN_LOG ONSEN_ROOT ONSEN_HOSTPORT
#   stop_onsen [PID]                 SIGTERM, wait (15 s), SIGKILL
#   start_bg NAME LOG CMD...         any background process, killed on exit; sets LAST_PID
#   clean_env_run [VAR=VAL...] -- CMD...   CMD with an empty environment (+PATH, HOME) + VARs
#   start_onsen_env WORKDIR PORT [VAR=VAL...] [-- ARG...]   any onsen start, clean env (no wait)
#   onsen_cmd [VAR=VAL...] [-- ARG...]    sets ONSEN_CMD (array) for a foreground run
#   wait_http URL PID [TIMEOUT] [CURL-OPTS...]   prints the first HTTP status URL answers
#   DEPLOY_ETC_CONFIG=hide|host|FILE  what onsen sees at /etc/docker/registry/config.yml
#   make_image LAYOUT TAG [make_oci_layout.py options...]   deterministic OCI layout (no network)
#   make_oci_archive LAYOUT TAR      tar of a layout (oci-archive for podman load / ctr import)
#   pass / fail / skip / check / check_fail / check_eq / check_contains / abort / summary
# Variables: REGISTRY_NAME (registry.test), DEPLOY_USER, DEPLOY_PASS, DEPLOY_REALM.
# Knob: DEPLOY_KEEP=1 keeps the temp dir for a post-mortem.

DEPLOY_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$DEPLOY_DIR/../.." && pwd)
if git_root=$(git -C "$DEPLOY_DIR" rev-parse --show-toplevel 2>/dev/null) && [ -f "$git_root/CMakeLists.txt" ]; then
  REPO_ROOT=$git_root
fi
unset git_root
OCI_GEN=$REPO_ROOT/tests/interop/make_oci_layout.py
# pass/fail/check*, summary, abort, free_port, stop_pid, sha256_file, oci_index_digest, the result
# and process state (shared with tests/interop).
# shellcheck source=tests/lib/common.sh
source "$DEPLOY_DIR/../lib/common.sh"

REGISTRY_NAME=${REGISTRY_NAME_OVERRIDE:-registry.test}
DEPLOY_USER=${DEPLOY_USER:-onsenuser}
DEPLOY_PASS=${DEPLOY_PASS:-Onsen-Pa55word}
# As it arrives from a compose list entry: the double quotes are part of the value.
DEPLOY_REALM='"Onsen Registry"'

EXIT_HOOKS=()
HOSTS_MARK="# onsen-deploy-$$"
HOSTS_LOCK=/tmp/onsen-deploy-hosts.lock
TMP_ROOT=${TMP_ROOT:-}
ONSEN_BIN=${ONSEN_BIN:-}
ONSEN_PID="" ONSEN_PORT="" ONSEN_URL="" ONSEN_CA="" ONSEN_KEY="" ONSEN_HTPASSWD="" ONSEN_LOG=""
ONSEN_ROOT="" ONSEN_HOSTPORT="" ONSEN_V2_STATUS=""
DEPLOY_BASE_PKGS=(curl openssl apache2-utils jq python3 ca-certificates)

# ---------------------------------------------------------------- setup and cleanup
deploy_on_exit() {
  local q="" a
  for a in "$@"; do q+=" $(printf '%q' "$a")"; done
  EXIT_HOOKS+=("${q# }")
}

deploy_cleanup() {
  local rc=$? pid i
  set +e
  for ((i = ${#EXIT_HOOKS[@]} - 1; i >= 0; i--)); do
    eval "${EXIT_HOOKS[$i]}" >/dev/null 2>&1
  done
  for pid in "${STARTED_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null
  done
  for pid in "${STARTED_PIDS[@]}"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  _hosts_remove_marked
  if [ -n "$TMP_ROOT" ] && [ -d "$TMP_ROOT" ]; then
    if [ "${DEPLOY_KEEP:-0}" = 1 ]; then log "kept $TMP_ROOT"; else rm -rf "$TMP_ROOT"; fi
  fi
  return $rc
}

# deploy_init ONSEN_BIN: validates the binary, makes TMP_ROOT, installs the traps.
deploy_init() {
  ONSEN_BIN=${1:-}
  if [ -z "$ONSEN_BIN" ] || [ ! -x "$ONSEN_BIN" ]; then
    echo "usage: $0 PATH-TO-ONSEN-BINARY (got '${ONSEN_BIN}': not an executable)" >&2
    echo "0 passed, 1 failed"; exit 1
  fi
  ONSEN_BIN=$(cd "$(dirname "$ONSEN_BIN")" && pwd)/$(basename "$ONSEN_BIN")
  if [ "$(id -u)" != 0 ]; then
    echo "deploy tests need root (/etc/hosts, apt, podman, containerd)" >&2
    echo "0 passed, 1 failed"; exit 1
  fi
  # Lowercase only: podman and docker derive image names from paths (oci:DIR).
  TMP_ROOT=$(_mkdir_unique /tmp/onsen-deploy) || { echo "cannot make a temp dir" >&2; echo "0 passed, 1 failed"; exit 1; }
  chmod 755 "$TMP_ROOT"
  trap deploy_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
  export NO_PROXY='*' no_proxy='*'
  log "deploy: onsen $ONSEN_BIN; temp dir $TMP_ROOT"
}

# deploy_install_deps [PKG...]: installs (apt, Debian 12) whichever of the base packages and
# PKG... are missing; nothing runs when all are present. Returns non-zero if it cannot.
deploy_install_deps() {
  local pkgs=("${DEPLOY_BASE_PKGS[@]}" "$@") missing=() p
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "deploy: installing ${missing[*]}"
  local -x DEBIAN_FRONTEND=noninteractive
  _deploy_apt_install "${missing[@]}" ||
    { apt-get update -q -o DPkg::Lock::Timeout=600 >&2 && _deploy_apt_install "${missing[@]}"; }
}
_deploy_apt_install() { apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600 "$@" >&2; }

# _mkdir_unique PREFIX: makes and prints PREFIX.<digits> (new, mode 700).
_mkdir_unique() {
  local d i
  for ((i = 0; i < 100; i++)); do
    d=$1.$$$RANDOM
    mkdir -m 700 "$d" 2>/dev/null && { printf '%s\n' "$d"; return 0; }
  done
  return 1
}
# tmpdir [NAME]: a fresh directory under the script's temp dir (lowercase path if NAME is).
tmpdir() { local n=${1:-d}; _mkdir_unique "$TMP_ROOT/${n//\//-}"; }

# ---------------------------------------------------------------- TLS, htpasswd, /etc/hosts
# make_tls DIR NAME: a self-signed RSA 4096 certificate for DNS:NAME, made exactly as the
# usual deployment guides do -> DIR/NAME.crt and DIR/NAME.key.
make_tls() {
  local dir=$1 name=$2
  mkdir -p "$dir"
  openssl req -newkey rsa:4096 -nodes -sha256 -x509 -days 365 \
    -keyout "$dir/$name.key" -out "$dir/$name.crt" \
    -subj "/CN=$name" -addext "subjectAltName=DNS:$name" >/dev/null 2>&1 || {
    log "make_tls: openssl failed for $name"; return 1; }
}

# make_htpasswd FILE USER PASS: appends a bcrypt entry.
make_htpasswd() {
  local file=$1 user=$2 pass=$3
  mkdir -p "$(dirname "$file")"
  htpasswd -Bbn "$user" "$pass" | sed '/^$/d' >>"$file"
}

# /etc/hosts is edited in place (it is often a bind mount) under a lock, and only the lines this
# process added (they carry a marker comment) are removed.
_hosts_edit() {
  local tmp
  tmp=$(mktemp /tmp/onsen-deploy-hosts.XXXXXX)
  (
    flock -w 30 9 || exit 1
    "$@" </etc/hosts >"$tmp" && cat "$tmp" >/etc/hosts
  ) 9>"$HOSTS_LOCK"
  local rc=$?
  rm -f "$tmp"
  return $rc
}
_hosts_filter_add() { cat; printf '127.0.0.1 %s %s\n' "$1" "$HOSTS_MARK"; }
_hosts_filter_del() { grep -v -F -x "127.0.0.1 $1 $HOSTS_MARK" || true; }
_hosts_filter_marked() { grep -v -F -e "$HOSTS_MARK" || true; }
# hosts_add NAME: resolves NAME to 127.0.0.1 until the script exits (idempotent).
hosts_add() {
  local name=$1
  grep -q -F -x "127.0.0.1 $name $HOSTS_MARK" /etc/hosts 2>/dev/null && return 0
  _hosts_edit _hosts_filter_add "$name" || { log "hosts_add: cannot edit /etc/hosts"; return 1; }
}
hosts_remove() { _hosts_edit _hosts_filter_del "$1"; }
_hosts_remove_marked() {
  grep -q -F -e "$HOSTS_MARK" /etc/hosts 2>/dev/null || return 0
  _hosts_edit _hosts_filter_marked
}

# ---------------------------------------------------------------- processes
# clean_env_run [VAR=VAL...] -- CMD [ARG...]: CMD with an empty environment except PATH, HOME,
# LANG=C and the given VARs (onsen reads every REGISTRY_* variable as configuration).
CLEAN_ENV=(env -i "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin" HOME=/root LANG=C)
clean_env_run() {
  local vars=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
  [ "${1:-}" = -- ] && shift
  "${CLEAN_ENV[@]}" "${vars[@]}" "$@"
}

# start_bg NAME LOG CMD...: CMD (an executable, not a shell function, so that LAST_PID is the
# process itself) in the background (stdin /dev/null, stdout+stderr to LOG), killed on exit;
# sets LAST_PID.
start_bg() {
  local name=$1 logf=$2; shift 2
  "$@" >"$logf" 2>&1 </dev/null &
  LAST_PID=$!
  STARTED_PIDS+=("$LAST_PID")
  PID_LOG[$LAST_PID]=$logf
  PID_NAME[$LAST_PID]=$name
}

# What onsen sees at /etc/docker/registry/config.yml, the file `onsen serve` reads when it gets no
# argument and REGISTRY_CONFIGURATION_PATH is unset. Debian's docker-registry package installs one
# (htpasswd path /etc/docker/registry, deletes on, ...), which would leak into every env-only
# start. DEPLOY_ETC_CONFIG:
#   hide (default)  hidden (a private tmpfs over /etc/docker/registry in a private mount
#                   namespace, only for onsen) when the file exists: the "no file" deployment
#   host            left alone
#   FILE            FILE is shown there instead (private mount namespace; the directory must exist)
# The host's /etc is never modified.
DEPLOY_ETC_CONFIG=${DEPLOY_ETC_CONFIG:-hide}
ETC_REGISTRY_DIR=/etc/docker/registry
# _etc_config_wrapper: prints nothing; sets ETC_WRAP to the command prefix that applies
# DEPLOY_ETC_CONFIG (empty when nothing needs doing).
_etc_config_wrapper() {
  ETC_WRAP=()
  # shellcheck disable=SC2016  # the sh -c scripts expand their own positional parameters
  case $DEPLOY_ETC_CONFIG in
    host) return 0 ;;
    hide) [ -e "$ETC_REGISTRY_DIR/config.yml" ] || return 0
          ETC_WRAP=(unshare -m --propagation private sh -c \
            'mount -t tmpfs -o size=1m,mode=755 onsen-test-hide "$0" || echo "deploy: warning: cannot hide $0/config.yml" >&2; exec "$@"' \
            "$ETC_REGISTRY_DIR") ;;
    *)    ETC_WRAP=(unshare -m --propagation private sh -c \
            'f=$1; shift; mount -t tmpfs -o size=1m,mode=755 onsen-test-etc "$0" && cp "$f" "$0/config.yml" || { echo "deploy: cannot place $f at $0/config.yml" >&2; exit 97; }; exec "$@"' \
            "$ETC_REGISTRY_DIR" "$DEPLOY_ETC_CONFIG") ;;
  esac
}

# onsen_cmd [VAR=VAL...] [-- ARG...]: sets ONSEN_CMD to the full command line that runs
# `onsen serve [ARG...]` with a clean environment holding only the given variables (and
# DEPLOY_ETC_CONFIG applied).
onsen_cmd() {
  local vars=() args=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
  [ "${1:-}" = -- ] && { shift; args=("$@"); }
  _etc_config_wrapper
  ONSEN_CMD=("${ETC_WRAP[@]}" "${CLEAN_ENV[@]}" "${vars[@]}" "$ONSEN_BIN" serve "${args[@]}")
}

# start_onsen_env WORKDIR PORT [VAR=VAL...] [-- ARG...]: `onsen serve [ARG...]` with a clean
# environment holding only the given variables; logs to WORKDIR/onsen.log; sets ONSEN_PID,
# ONSEN_LOG, ONSEN_PORT (does not wait).
start_onsen_env() {
  local workdir=$1 port=$2; shift 2
  mkdir -p "$workdir"
  ONSEN_LOG=$workdir/onsen.log
  # shellcheck disable=SC2034  # for the scripts that source this file
  ONSEN_PORT=$port
  onsen_cmd "$@"
  start_bg "onsen:$port" "$ONSEN_LOG" "${ONSEN_CMD[@]}"
  ONSEN_PID=$LAST_PID
}

# wait_http URL PID [TIMEOUT_S] [CURL-OPTS...]: until URL answers any HTTP status; prints it.
# Fails when PID exits first or on timeout.
wait_http() {
  local url=$1 pid=$2 timeout=${3:-30} code i
  shift 3 || shift $#
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$@" "$url" 2>/dev/null) || true
    if [ -n "$code" ] && [ "$code" != 000 ]; then echo "$code"; return 0; fi
    sleep 0.1
  done
  return 1
}

# start_onsen_classic BIN WORKDIR PORT [EXTRA-VAR=VAL...]: the classic env-only deployment:
#   REGISTRY_AUTH=htpasswd REGISTRY_AUTH_HTPASSWD_REALM="Onsen Registry" (quotes included)
#   REGISTRY_AUTH_HTPASSWD_PATH REGISTRY_HTTP_ADDR=127.0.0.1:PORT REGISTRY_HTTP_TLS_CERTIFICATE
#   REGISTRY_HTTP_TLS_KEY + REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=WORKDIR/data
# `onsen serve` without a config argument. Uses WORKDIR/certs/$REGISTRY_NAME.{crt,key} and
# WORKDIR/auth/htpasswd, creating them when missing (user $DEPLOY_USER, password $DEPLOY_PASS).
# Adds $REGISTRY_NAME to /etc/hosts. Waits until https://$REGISTRY_NAME:PORT/v2/ answers (401
# expected; the status is left in ONSEN_V2_STATUS). Sets ONSEN_PID ONSEN_PORT ONSEN_URL ONSEN_CA
# ONSEN_KEY ONSEN_HTPASSWD ONSEN_LOG ONSEN_ROOT ONSEN_HOSTPORT.
start_onsen_classic() {
  local bin=$1 workdir=$2 port=$3; shift 3
  [ -n "$bin" ] && ONSEN_BIN=$bin
  mkdir -p "$workdir/certs" "$workdir/auth" "$workdir/data"
  [ -s "$workdir/certs/$REGISTRY_NAME.crt" ] || make_tls "$workdir/certs" "$REGISTRY_NAME" || return 1
  [ -s "$workdir/auth/htpasswd" ] || make_htpasswd "$workdir/auth/htpasswd" "$DEPLOY_USER" "$DEPLOY_PASS"
  hosts_add "$REGISTRY_NAME" || return 1
  ONSEN_CA=$workdir/certs/$REGISTRY_NAME.crt
  ONSEN_KEY=$workdir/certs/$REGISTRY_NAME.key
  ONSEN_HTPASSWD=$workdir/auth/htpasswd
  ONSEN_ROOT=$workdir/data
  ONSEN_HOSTPORT=$REGISTRY_NAME:$port
  ONSEN_URL=https://$ONSEN_HOSTPORT
  start_onsen_env "$workdir" "$port" \
    REGISTRY_AUTH=htpasswd \
    "REGISTRY_AUTH_HTPASSWD_REALM=$DEPLOY_REALM" \
    "REGISTRY_AUTH_HTPASSWD_PATH=$ONSEN_HTPASSWD" \
    "REGISTRY_HTTP_ADDR=127.0.0.1:$port" \
    "REGISTRY_HTTP_TLS_CERTIFICATE=$ONSEN_CA" \
    "REGISTRY_HTTP_TLS_KEY=$ONSEN_KEY" \
    "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$ONSEN_ROOT" \
    "$@"
  if ! ONSEN_V2_STATUS=$(wait_http "$ONSEN_URL/v2/" "$ONSEN_PID" 30 --cacert "$ONSEN_CA"); then
    log "onsen did not answer on $ONSEN_URL/v2/; log:"; tail -n 30 "$ONSEN_LOG" >&2
    return 1
  fi
  [ "$ONSEN_V2_STATUS" = 401 ] || log "start_onsen_classic: warning: GET /v2/ without credentials answered $ONSEN_V2_STATUS (expected 401)"
  return 0
}

# stop_onsen [PID]: SIGTERM, wait up to 15 s, then SIGKILL. Non-zero when it had to kill.
stop_onsen() {
  local pid=${1:-$ONSEN_PID}
  [ -n "$pid" ] || return 0
  stop_pid "$pid"
}

# ---------------------------------------------------------------- HTTP helpers
# ocurl ARGS...: curl trusting the test CA, with the test credentials, bounded.
ocurl() { curl -s -m 30 --cacert "$ONSEN_CA" -u "$DEPLOY_USER:$DEPLOY_PASS" "$@"; }
# http_req PREFIX CURL-ARGS...: runs curl, writes PREFIX.headers (CR stripped) and PREFIX.body,
# prints the status code (000 when no HTTP answer), returns curl's exit code.
http_req() {
  local prefix=$1; shift
  local code rc=0
  code=$(curl -s -m 30 -o "$prefix.body" -D "$prefix.raw" -w '%{http_code}' "$@" 2>"$prefix.err") || rc=$?
  tr -d '\r' <"$prefix.raw" >"$prefix.headers" 2>/dev/null || : >"$prefix.headers"
  echo "${code:-000}"
  return $rc
}
# header_value HEADERS-FILE NAME: the last value of header NAME (case-insensitive).
header_value() {
  awk -v n="$2" 'index($0, ":") { k = substr($0, 1, index($0, ":") - 1); if (tolower(k) == tolower(n)) { v = substr($0, index($0, ":") + 1); sub(/^[ \t]+/, "", v); r = v } } END { print r }' "$1"
}

# ---------------------------------------------------------------- images (no network)
# make_image LAYOUT TAG [OPTS...]: adds a deterministic image tagged TAG to the OCI layout
# LAYOUT (created if needed); OPTS go to tests/interop/make_oci_layout.py (--seed S,
# --platforms linux/amd64,linux/arm64, --layers N, --layer-size B; defaults 2 layers of 32 KiB).
# Prints the manifest (or index) digest.
make_image() {
  local layout=$1 tag=$2; shift 2
  local have_layers=0 have_size=0 a
  for a in "$@"; do
    case $a in --layers|--layers=*) have_layers=1 ;; --layer-size|--layer-size=*) have_size=1 ;; esac
  done
  local extra=()
  [ $have_layers = 1 ] || extra+=(--layers 2)
  [ $have_size = 1 ] || extra+=(--layer-size 32768)
  python3 "$OCI_GEN" "$layout" --tag "$tag" "${extra[@]}" "$@"
}
# make_oci_archive LAYOUT TAR: the layout as a tar (an oci-archive).
make_oci_archive() { tar -C "$1" -cf "$2" oci-layout index.json blobs; }

# --- wrong-password checks (issue 9) ---
# Each client tries one wrong password before the right one and must report an authentication
# error, never 429 Too Many Requests: Onsen throttles failed logins per client address and user
# name, from 30 failures in 3 minutes (README "Authentication"), far above what a client's retries
# and parallel requests with one stale password produce.
# check_auth_refused NAME RC OUTPUT [PATTERN]: RC (the client's exit status) is non-zero, OUTPUT
# (its messages) matches PATTERN (extended regexp, case-insensitive; default: unauthorized, 401,
# invalid username/password, authentication required) and mentions no 429 / too many requests.
check_auth_refused() {
  local name=$1 rc=$2 out=$3
  local pattern=${4:-'unauthorized|(^|[^[:alnum:]])401([^[:alnum:]]|$)|invalid username/password|authentication required'}
  local tail_out
  tail_out=$(printf '%s' "$out" | tail -n 5 | cut -c1-400)
  if [ "$rc" -eq 0 ]; then
    fail "$name" "the client succeeded with a wrong password" "$tail_out"
  elif grep -qiE '(^|[^[:alnum:]])429([^[:alnum:]]|$)|too many (failed|requests)|toomanyrequests' <<<"$out"; then
    fail "$name" "the client reports throttling instead of an authentication error" "$tail_out"
  elif grep -qiE "$pattern" <<<"$out"; then
    pass "$name: $(grep -iE "$pattern" <<<"$out" | tail -n 1 | cut -c1-160)"
  else
    fail "$name" "no authentication error in the client's output" "$tail_out"
  fi
}
