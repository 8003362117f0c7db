#!/usr/bin/env bash
# Side-by-side benchmark: Onsen vs docker-registry (CNCF Distribution 2.8.2, "registry:2").
# Run by `make bench` (never by `make test`). See bench/README.md for the figures and knobs.
#
#   bench/run.sh                      full run (3 rounds, 1 GiB blobs, 1,000 tags/repos)
#   BENCH_QUICK=1 BENCH_ROUNDS=1 bench/run.sh   quick harness check (small sizes)
#
# Prints a table on stdout (progress on stderr) and writes bench/results/<timestamp>.json.
set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$BENCH_DIR/.." && pwd)

# ---------------------------------------------------------------- knobs
QUICK=${BENCH_QUICK:-0}
q() { if [ "$QUICK" = 1 ]; then echo "$1"; else echo "$2"; fi; }
ROUNDS=${BENCH_ROUNDS:-3}
CONFIGS=${BENCH_CONFIGS:-plain tls s3}       # plain = HTTP, no auth; tls = TLS + htpasswd; s3 = on a Ceph RGW
DURATION=${BENCH_DURATION:-$(q 2 10)}        # seconds per wrk run
CONNS=${BENCH_CONNS:-64}
THREADS=${BENCH_THREADS:-2}                  # wrk threads
NTAGS=${BENCH_TAGS:-$(q 100 1000)}
NREPOS=${BENCH_REPOS:-$(q 150 1000)}
BLOB_MIB=${BENCH_BLOB_MIB:-$(q 64 1024)}
CHUNK_MIB=${BENCH_CHUNK_MIB:-16}
PULL_STREAMS=${BENCH_PULL_STREAMS:-4}
IMAGE_MIB=${BENCH_IMAGE_MIB:-$(q 16 160)}    # skopeo image: total uncompressed layer content
IMAGE_LAYERS=${BENCH_IMAGE_LAYERS:-5}
IDLE_CONNS=${BENCH_IDLE_CONNS:-$(q 1000 5000)}
LOG_LEVEL=${BENCH_LOG_LEVEL:-info}           # both servers; info is the registry:2 image default
SPEED_SECONDS=${BENCH_SPEED_SECONDS:-$(q 1 2)}
IPERF_SECONDS=${BENCH_IPERF_SECONDS:-$(q 1 3)}
HEY_RUNS=${BENCH_HEY_RUNS:-$(q 2 10)}          # hey: runs per server (tls)
HEY_SECONDS=${BENCH_HEY_SECONDS:-3}
HEY_CONNS=${BENCH_HEY_CONNS:-64}
SETTLE_MAX=${BENCH_SETTLE_MAX:-$(q 10 20)}    # after a hey or handshake run: wait for the server to go idle
HS_CLIENTS=${BENCH_HS_CLIENTS:-16}            # full TLS handshakes: parallel clients
HS_SECONDS=${BENCH_HS_SECONDS:-$(q 2 5)}
HOL_MIB=${BENCH_HOL_MIB:-$(q 16 "64 256")}   # head-of-line: blob size(s) of the pushes under the probe
HOL_PUSHERS=${BENCH_HOL_PUSHERS:-8}
HOL_IDLE=${BENCH_HOL_IDLE:-$(q 1 3)}          # seconds of idle probe
S3_BLOB_MIB=${BENCH_S3_BLOB_MIB:-$(q 64 256)}  # s3: pushed/pulled blob (at most BENCH_BLOB_MIB)
S3_HOL_MIB=${BENCH_S3_HOL_MIB:-$(q 16 64)}    # s3hol: blob size of the pushes under the probe
S3_DELAY_MS=${BENCH_S3_DELAY_MS:-200}        # s3hol: how late the store answers every call
S3_COPY_THRESHOLD=${BENCH_S3_COPY_THRESHOLD:-} # s3: multipartcopythresholdsize of both servers (unset: 32 MiB)
MAX_SECONDS=${BENCH_MAX_SECONDS:-$(q 420 3300)}   # watchdog for everything after the build
XFER_TIMEOUT=${BENCH_XFER_TIMEOUT:-300}      # one curl / skopeo transfer
BUILD_DIR=${BENCH_BUILD_DIR:-$REPO_ROOT/build-bench}
ONSEN_BIN=${ONSEN_BIN:-}                     # set to skip the build
REGISTRY_BIN=${BENCH_REGISTRY_BIN:-/usr/bin/docker-registry}
RESULTS_DIR=${BENCH_RESULTS_DIR:-$BENCH_DIR/results}
# Figure groups to measure (comma- or space-separated): requests (wrk figures and TLS handshakes,
# after seeding), push, pull (runs the monolithic push too: it pulls that blob; nginx as the limit),
# skopeo, rss, hey (Go client over TLS), handshakes (full TLS handshakes/s vs openssl speed), hol
# (small requests under pushes); s3 (configuration s3: the request figures with the gateway requests
# each costs, push and pull against the gateway's own PUT/GET), s3hol (configuration s3: the
# head-of-line probe with Onsen on a store answering every call S3_DELAY_MS late), gc (configuration
# plain: both servers' `garbage-collect` on copies of one store, and Onsen's manifest GET p99
# during online collections; bench/gc.sh).
ALL_GROUPS="requests push pull skopeo rss hey handshakes hol s3 s3hol gc"
ONLY=${BENCH_ONLY:-${ALL_GROUPS// /,}}
BENCH_USER=bench
BENCH_PASS=Bench-Pa55word
REALM="Registry Realm"
CLEAN_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
ACCEPT_MANIFEST="application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.v2+json, application/vnd.docker.distribution.manifest.list.v2+json"
SERVERS=(onsen registry)

# shellcheck source=bench/s3.sh
source "$BENCH_DIR/s3.sh"
# shellcheck source=bench/gc.sh
source "$BENCH_DIR/gc.sh"

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }
now_ns() { date +%s%N; }

# ---------------------------------------------------------------- dependencies (idempotent)
install_deps() {
  local want=(docker-registry:docker-registry wrk:wrk curl:curl skopeo:skopeo openssl:openssl
              htpasswd:apache2-utils python3:python3 iperf3:iperf3 jq:jq unshare:util-linux hey:hey
              ss:iproute2)
  local missing=() w
  for w in "${want[@]}"; do command -v "${w%%:*}" >/dev/null 2>&1 || missing+=("${w#*:}"); done
  command -v nginx >/dev/null 2>&1 || missing+=(nginx-light)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "missing packages ${missing[*]} (run as root to install them)"
  log "installing ${missing[*]}"
  local -x DEBIAN_FRONTEND=noninteractive
  local apt=(apt-get install -y -q --no-install-recommends -o DPkg::Lock::Timeout=600)
  timeout 900 "${apt[@]}" "${missing[@]}" >&2 ||
    { timeout 600 apt-get update -q -o DPkg::Lock::Timeout=600 >&2 && timeout 900 "${apt[@]}" "${missing[@]}" >&2; } ||
    die "apt-get install ${missing[*]} failed"
}

build_onsen() {
  if [ -n "$ONSEN_BIN" ]; then
    [ -x "$ONSEN_BIN" ] || die "ONSEN_BIN=$ONSEN_BIN is not executable"
    return 0
  fi
  "$REPO_ROOT/scripts/install-deps.sh" build >&2 || die "scripts/install-deps.sh build failed"
  log "building onsen (Release) in $BUILD_DIR"
  cmake -S "$REPO_ROOT" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DONSEN_TESTS=OFF >/dev/null || die "cmake configure failed"
  timeout 3600 cmake --build "$BUILD_DIR" --target onsen -j "$(nproc)" >&2 || die "build failed"
  ONSEN_BIN=$BUILD_DIR/onsen
}

# ---------------------------------------------------------------- processes and cleanup
TMP=""
RESULTS=""
STARTED="" T_START=0 LOAD_START=""
PIDS=()
WATCHDOG=""
cleanup() {
  local rc=$? pid i
  set +e
  trap - EXIT INT TERM
  if [ "$FINISHED" = 0 ] && [ -n "$RESULTS" ] && [ -s "$RESULTS" ]; then
    log "aborted (status $rc): report of what was measured so far"
    finish false
  fi
  [ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null && wait "$WATCHDOG" 2>/dev/null
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  s3_gateway_stop
  for pid in "${PIDS[@]}"; do
    for ((i = 0; i < 50; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null
    wait "$pid" 2>/dev/null
  done
  if [ -n "$TMP" ] && [ -d "$TMP" ]; then
    if [ "${BENCH_KEEP:-0}" = 1 ]; then log "kept $TMP"; else rm -rf "$TMP"; fi
  fi
  exit "$rc"
}

# start_bg LOG CMD...: CMD in the background, killed on exit; sets LAST_PID.
start_bg() {
  local logf=$1; shift
  "$@" >"$logf" 2>&1 </dev/null &
  LAST_PID=$!
  PIDS+=("$LAST_PID")
}

# stop_pid PID: SIGTERM, wait up to 10 s, SIGKILL.
stop_pid() {
  local pid=$1 i
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

free_port() {
  python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_port PORT PID TIMEOUT: until something accepts on 127.0.0.1:PORT.
wait_port() {
  local port=$1 pid=$2 timeout=$3 i
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  return 1
}

rss_mib() { awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo null; }

# ---------------------------------------------------------------- results
# $RESULTS: JSON lines, one measurement each; $NOTES: JSON lines, failures and warnings.
# rec CFG FIGURE METRIC UNIT SERVER ROUND VALUE
rec() {
  local v=$7
  [ -n "$v" ] || v=null
  printf '{"config":"%s","figure":"%s","metric":"%s","unit":"%s","server":"%s","round":%s,"value":%s}\n' \
    "$1" "$2" "$3" "$4" "$5" "$6" "$v" >>"$RESULTS"
}
# note CFG FIGURE SERVER ROUND MESSAGE
note() {
  jq -nc --arg c "$1" --arg f "$2" --arg s "$3" --arg r "$4" --arg m "$5" \
    '{config:$c, figure:$f, server:$s, round:$r, message:$m}' >>"$NOTES"
  log "NOTE [$1 $2 $3 round $4] $5"
}
mbps() { awk -v b="$1" -v ns="$2" 'BEGIN { if (ns > 0) printf "%.1f", b / 1e6 / (ns / 1e9); else print "null" }'; }
secs() { awk -v ns="$1" 'BEGIN { printf "%.3f", ns / 1e9 }'; }

# ---------------------------------------------------------------- servers
declare -A SPID SPORT SURL SLOG
CFG=""            # current configuration: plain | tls
CURL_AUTH=()      # curl options for the current configuration
AUTH_HEADER=""    # Authorization value for wrk

# selected GROUP: true when BENCH_ONLY names the group.
selected() { [[ ",${ONLY// /,}," == *",$1,"* ]]; }

server_bin() { if [ "$1" = onsen ]; then echo "$ONSEN_BIN"; else echo "$REGISTRY_BIN"; fi; }

# The registry:2 image's own config.yml (config/registry-default.yml, byte for byte): both servers
# read it; the loopback address, a fresh root and the log level come as REGISTRY_* variables, and
# the tls configuration adds the classic ones.
write_config() { cp "$REPO_ROOT/config/registry-default.yml" "$1"; }

# start_server SRV: fresh storage, clean environment; waits until GET /v2/ answers.
start_server() {
  local srv=$1 dir=$TMP/$CFG/$1 port vars=() scheme=http code i
  mkdir -p "$dir/data"
  port=$(free_port)
  if [ "$CFG" = s3 ]; then # each server on its own bucket of the gateway
    s3_write_config "$dir/config.yml" "$srv-bench" "$S3_ENDPOINT"
    vars=("REGISTRY_HTTP_ADDR=127.0.0.1:$port" "REGISTRY_LOG_LEVEL=$LOG_LEVEL")
  else
    write_config "$dir/config.yml"
    vars=("REGISTRY_HTTP_ADDR=127.0.0.1:$port" "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$dir/data"
          "REGISTRY_LOG_LEVEL=$LOG_LEVEL")
  fi
  if [ "$CFG" = tls ]; then
    scheme=https
    vars+=(REGISTRY_AUTH=htpasswd "REGISTRY_AUTH_HTPASSWD_REALM=$REALM"
          "REGISTRY_AUTH_HTPASSWD_PATH=$TMP/auth/htpasswd"
          "REGISTRY_HTTP_TLS_CERTIFICATE=$TMP/certs/server.crt" "REGISTRY_HTTP_TLS_KEY=$TMP/certs/server.key")
  fi
  SLOG[$srv]=$dir/server.log
  start_bg "${SLOG[$srv]}" env -i "PATH=$CLEAN_PATH" HOME=/root LANG=C "${vars[@]}" \
    "$(server_bin "$srv")" serve "$dir/config.yml"
  SPID[$srv]=$LAST_PID
  SPORT[$srv]=$port
  SURL[$srv]=$scheme://127.0.0.1:$port
  for ((i = 0; i < 300; i++)); do
    kill -0 "$LAST_PID" 2>/dev/null || { tail -n 20 "${SLOG[$srv]}" >&2; die "$srv exited at start ($CFG)"; }
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "${CURL_AUTH[@]}" "${SURL[$srv]}/v2/" 2>/dev/null) || true
    [ "$code" = 200 ] && break
    sleep 0.1
  done
  [ "$code" = 200 ] || { tail -n 20 "${SLOG[$srv]}" >&2; die "$srv did not answer 200 on ${SURL[$srv]}/v2/ in 30 s (last: $code)"; }
  if [ "$CFG" = tls ]; then
    code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' --cacert "$TMP/certs/server.crt" "${SURL[$srv]}/v2/") || true
    [ "$code" = 401 ] || note "$CFG" start "$srv" 0 "GET /v2/ without credentials answered $code, expected 401"
  fi
  log "$srv ($CFG) up: pid ${SPID[$srv]} ${SURL[$srv]}"
}

stop_servers() {
  local srv
  for srv in "${SERVERS[@]}"; do
    [ -n "${SPID[$srv]:-}" ] || continue
    stop_pid "${SPID[$srv]}"
    SPID[$srv]=""
  done
}

# ---------------------------------------------------------------- request benchmarks (wrk)
# probe SRV FIGURE METHOD PATH: the status one request gets (a failure is noted, not fatal).
probe() {
  local srv=$1 fig=$2 method=$3 path=$4 code extra=()
  [ "$method" = HEAD ] && extra=(-I)
  [ "$fig" = manifest_get ] && extra+=(-H "Accept: $ACCEPT_MANIFEST")
  code=$(curl -s -o /dev/null -m 30 -w '%{http_code}' "${extra[@]}" "${CURL_AUTH[@]}" "${SURL[$srv]}$path") || true
  if [ "$code" != 200 ]; then
    note "$CFG" "$fig" "$srv" "$ROUND" "probe $method $path answered HTTP $code (expected 200)"
    return 1
  fi
}

# run_wrk SRV FIGURE METHOD PATH [close]
run_wrk() {
  local srv=$1 fig=$2 method=$3 path=$4 close=${5:-0}
  local out=$TMP/logs/wrk-$CFG-$fig-$srv-r$ROUND.txt json accept=""
  LAST_WRK_REQUESTS=0
  [ "$fig" = manifest_get ] && accept=$ACCEPT_MANIFEST
  probe "$srv" "$fig" "$method" "$path" || true
  BENCH_METHOD=$method BENCH_ACCEPT=$accept BENCH_AUTH=$AUTH_HEADER BENCH_CLOSE=$close \
    timeout $((DURATION + 60)) wrk -t "$THREADS" -c "$CONNS" -d "${DURATION}s" --timeout 10s --latency \
    -s "$BENCH_DIR/wrk.lua" "${SURL[$srv]}$path" >"$out" 2>&1 || true
  json=$(sed -n 's/^BENCHJSON //p' "$out" | tail -n 1)
  if [ -z "$json" ] || [ "$(jq -r .requests <<<"$json")" = 0 ]; then
    note "$CFG" "$fig" "$srv" "$ROUND" "wrk completed no request: $(grep -v BENCHJSON "$out" | tail -n 3 | tr -s ' \n' ' ')"
    return 0
  fi
  local rps p50 p99 errs status
  LAST_WRK_REQUESTS=$(jq -r .requests <<<"$json")
  read -r rps p50 p99 errs status < <(jq -r '[.rps, (.p50_us/1000), (.p99_us/1000),
      (.err_connect + .err_read + .err_write + .err_timeout), .err_status] | @tsv' <<<"$json")
  local unit=req/s
  [ "$fig" = tls_handshake ] && unit=handshakes/s
  rec "$CFG" "$fig" rps "$unit" "$srv" "$ROUND" "$rps"
  rec "$CFG" "$fig" p50 ms "$srv" "$ROUND" "$p50"
  rec "$CFG" "$fig" p99 ms "$srv" "$ROUND" "$p99"
  if [ "$status" != 0 ] || [ "$errs" != 0 ]; then
    note "$CFG" "$fig" "$srv" "$ROUND" "wrk: $status non-2xx/3xx responses, socket errors: $(grep -m1 'Socket errors' "$out" || echo "$errs")"
  fi
  log "$CFG r$ROUND $fig $srv: $rps $unit, p50 $p50 ms, p99 $p99 ms"
}

# ---------------------------------------------------------------- blob push / pull
BLOB=""
declare -A PULL_DIGEST PUSHED
# stamp_blob ID: makes the blob file unique to this push (first 64 bytes) and prints its digest,
# so no push is ever a duplicate of an earlier one.
stamp_blob() {
  printf '%-64s' "onsen-bench $1 $$" | dd of="$BLOB" bs=64 count=1 conv=notrunc status=none
  echo "sha256:$(openssl dgst -sha256 -r "$BLOB" | cut -d' ' -f1)"
}

abs_location() { # SRV LOCATION
  case $2 in http://* | https://*) echo "$2" ;; /*) echo "${SURL[$1]}$2" ;; *) echo "${SURL[$1]}/$2" ;; esac
}

push_monolithic() {
  local srv=$1 digest loc code t0 t1 sep hdr
  hdr=$TMP/logs/post-$CFG-$srv-r$ROUND.txt
  digest=$(stamp_blob "$CFG mono $srv $ROUND")
  t0=$(now_ns)
  code=$(curl -s -m 30 -o /dev/null -D "$hdr" -w '%{http_code}' -X POST "${CURL_AUTH[@]}" \
    "${SURL[$srv]}/v2/bench/push/blobs/uploads/") || true
  if [ "$code" != 202 ]; then note "$CFG" push_monolithic "$srv" "$ROUND" "POST uploads/ answered $code"; return 0; fi
  loc=$(abs_location "$srv" "$(tr -d '\r' <"$hdr" | awk 'tolower($1) == "location:" { print $2 }' | tail -n 1)")
  sep='?'; case $loc in *\?*) sep='&' ;; esac
  # -T streams the file (--data-binary @file would first read all of it into memory).
  code=$(curl -s -m "$XFER_TIMEOUT" -o /dev/null -w '%{http_code}' -X PUT -H 'Expect:' \
    -H 'Content-Type: application/octet-stream' -T "$BLOB" "${CURL_AUTH[@]}" "$loc${sep}digest=$digest") || true
  t1=$(now_ns)
  if [ "$code" != 201 ]; then note "$CFG" push_monolithic "$srv" "$ROUND" "PUT upload with body answered $code"; return 0; fi
  PULL_DIGEST[$srv]=$digest
  PUSHED[$srv]="${PUSHED[$srv]:-} $digest"
  local v; v=$(mbps "$BLOB_BYTES" $((t1 - t0)))
  rec "$CFG" push_monolithic MB/s MB/s "$srv" "$ROUND" "$v"
  log "$CFG r$ROUND push_monolithic $srv: $v MB/s"
}

push_chunked() {
  local srv=$1 digest out args=()
  digest=$(stamp_blob "$CFG chunked $srv $ROUND")
  [ "$CFG" = tls ] && args=(--user "$BENCH_USER" --password "$BENCH_PASS" --cacert "$TMP/certs/server.crt")
  if ! out=$(timeout "$XFER_TIMEOUT" python3 "$BENCH_DIR/push_chunked.py" "${SURL[$srv]}" bench/push "$BLOB" "$digest" \
      --chunk $((CHUNK_MIB * 1048576)) "${args[@]}" 2>&1); then
    note "$CFG" push_chunked "$srv" "$ROUND" "$(tail -n 2 <<<"$out" | tr '\n' ' ')"
    return 0
  fi
  PUSHED[$srv]="${PUSHED[$srv]:-} $digest"
  local v; v=$(jq -r --argjson b "$BLOB_BYTES" '($b / 1e6 / .seconds * 10 | round) / 10' <<<"$out")
  rec "$CFG" push_chunked MB/s MB/s "$srv" "$ROUND" "$v"
  log "$CFG r$ROUND push_chunked $srv: $v MB/s"
}

# pull_args SRV-or-nginx: sets PULL_ARGS, curl's options for a pull from SRV.
pull_args() {
  PULL_ARGS=()
  if [ "$1" != nginx ]; then PULL_ARGS=("${CURL_AUTH[@]}")
  elif [ "$CFG" = tls ]; then PULL_ARGS=(--cacert "$TMP/certs/server.crt"); fi
}

# pull SRV-or-nginx STREAMS FIGURE URL
pull() {
  local srv=$1 n=$2 fig=$3 url=$4 i t0 t1 bad=0 res extra=()
  pull_args "$srv"
  extra=("${PULL_ARGS[@]}")
  local cpids=()
  t0=$(now_ns)
  for ((i = 0; i < n; i++)); do
    curl -s -m "$XFER_TIMEOUT" -o /dev/null -w '%{http_code} %{size_download}\n' "${extra[@]}" "$url" \
      >"$TMP/logs/pull-$i.txt" 2>&1 &
    cpids+=($!)
  done
  for i in "${cpids[@]}"; do wait "$i" 2>/dev/null || true; done
  t1=$(now_ns)
  for ((i = 0; i < n; i++)); do
    res=$(cat "$TMP/logs/pull-$i.txt" 2>/dev/null)
    [ "$res" = "200 $BLOB_BYTES" ] || { bad=1; note "$CFG" "$fig" "$srv" "$ROUND" "GET blob stream $i: '$res' (expected '200 $BLOB_BYTES')"; }
  done
  [ $bad = 0 ] || return 0
  local v; v=$(mbps $((BLOB_BYTES * n)) $((t1 - t0)))
  rec "$CFG" "$fig" MB/s MB/s "$srv" "$ROUND" "$v"
  log "$CFG r$ROUND $fig $srv: $v MB/s"
}

# warm_pull SRV-or-nginx URL: one untimed pull (see the pull group in run_config).
warm_pull() {
  pull_args "$1"
  curl -s -m "$XFER_TIMEOUT" -o /dev/null "${PULL_ARGS[@]}" "$2" || note "$CFG" warm_pull "$1" "$ROUND" "curl failed"
}

# drop_pushed_blobs: deletes this round's pushed blobs from both storages (the same layout for
# both servers; nothing reads them again: every push has new bytes). Untimed, identical for both;
# it keeps GiBs of dirty pages and disk space from piling up over the rounds.
drop_pushed_blobs() {
  local srv d hex
  for srv in "${SERVERS[@]}"; do
    for d in ${PUSHED[$srv]:-}; do
      hex=${d#sha256:}
      rm -f "$TMP/$CFG/$srv/data/docker/registry/v2/blobs/sha256/${hex:0:2}/$hex/data"
    done
    PUSHED[$srv]=""
  done
  PULL_DIGEST=()
}

# ---------------------------------------------------------------- skopeo
SK_ISOLATE=()
setup_skopeo() {
  local e=$TMP/skopeo-env
  mkdir -p "$e/home" "$e/run" "$e/registries.d" "$e/tmp" "$e/config" "$e/certs"
  chmod 700 "$e/run"
  echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$e/policy.json"
  printf 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n' >"$e/registries.conf"
  echo '{"auths":{}}' >"$e/auth.json"
  : >"$e/containers.conf"
  cp "$TMP/certs/server.crt" "$e/certs/ca.crt"
  SK_ENV=(env -i "PATH=$CLEAN_PATH" LANG=C "HOME=$e/home" "XDG_RUNTIME_DIR=$e/run" "XDG_CONFIG_HOME=$e/config"
          "TMPDIR=$e/tmp" "CONTAINERS_REGISTRIES_CONF=$e/registries.conf" "CONTAINERS_CONF=$e/containers.conf"
          "DOCKER_CONFIG=$e/home/.docker" "REGISTRY_AUTH_FILE=$e/auth.json")
  SK_GLOBAL=(--policy "$e/policy.json" --registries.d "$e/registries.d")
  SK_CERTS=$e/certs
  # containers/image keeps a blob-info cache in /var/lib/containers/cache (as root) and would
  # turn the second copy of the same layers into cross-repository mounts: each copy gets an
  # empty cache (a private tmpfs over that directory, in a private mount namespace).
  mkdir -p /var/lib/containers/cache 2>/dev/null || true
  if unshare -m --propagation private sh -c 'mount -t tmpfs -o size=64m onsen-bench /var/lib/containers/cache' 2>/dev/null; then
    SK_ISOLATE=(unshare -m --propagation private sh -c
      'mount -t tmpfs -o size=64m onsen-bench /var/lib/containers/cache && exec "$@"' sh)
  else
    note all skopeo all 0 "cannot isolate the containers/image blob-info cache: copies after the first may mount instead of upload"
  fi
}

skopeo_copy() { # SRV FIGURE SRC DEST
  local srv=$1 fig=$2 src=$3 dst=$4 flags=() t0 t1 out=$TMP/logs/skopeo-$CFG-$2-$1-r$ROUND.txt
  if [ "$CFG" = tls ]; then
    if [ "$fig" = skopeo_in ]; then flags=(--dest-cert-dir "$SK_CERTS" --dest-creds "$BENCH_USER:$BENCH_PASS")
    else flags=(--src-cert-dir "$SK_CERTS" --src-creds "$BENCH_USER:$BENCH_PASS"); fi
  else
    if [ "$fig" = skopeo_in ]; then flags=(--dest-tls-verify=false --dest-no-creds)
    else flags=(--src-tls-verify=false --src-no-creds); fi
  fi
  t0=$(now_ns)
  if ! "${SK_ISOLATE[@]}" "${SK_ENV[@]}" timeout "$XFER_TIMEOUT" skopeo "${SK_GLOBAL[@]}" copy --retry-times 0 \
      "${flags[@]}" "$src" "$dst" >"$out" 2>&1; then
    note "$CFG" "$fig" "$srv" "$ROUND" "skopeo copy failed: $(grep -v '^Copying\|^Writing\|^Storing' "$out" | tail -n 2 | tr '\n' ' ')"
    return 0
  fi
  t1=$(now_ns)
  local v; v=$(secs $((t1 - t0)))
  rec "$CFG" "$fig" seconds s "$srv" "$ROUND" "$v"
  log "$CFG r$ROUND $fig $srv: $v s"
}

skopeo_roundtrip() {
  local srv=$1 repo=127.0.0.1:${SPORT[$1]}/bench/skopeo-r$ROUND outdir=$TMP/skopeo-out
  skopeo_copy "$srv" skopeo_in "oci:$TMP/image:v1" "docker://$repo:v1"
  rm -rf "$outdir"
  skopeo_copy "$srv" skopeo_out "docker://$repo:v1" "oci:$outdir:v1"
  rm -rf "$outdir"
}

# ---------------------------------------------------------------- idle connections
idle_connections() {
  local srv=$1 ready=$TMP/logs/idle-$1.ready pid i open answered rss
  rm -f "$ready"
  start_bg "$TMP/logs/idle-$srv.log" python3 "$BENCH_DIR/idle_conns.py" 127.0.0.1 "${SPORT[$srv]}" "$IDLE_CONNS" \
    --hold 120 --timeout 90 --ready "$ready"
  pid=$LAST_PID
  for ((i = 0; i < 1000; i++)); do [ -s "$ready" ] && break; kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if [ ! -s "$ready" ]; then
    note "$CFG" rss_idle_conns "$srv" 0 "idle_conns.py did not get ready: $(tail -n 2 "$TMP/logs/idle-$srv.log" | tr '\n' ' ')"
    stop_pid "$pid"; return 0
  fi
  sleep 2
  rss=$(rss_mib "${SPID[$srv]}")
  read -r open answered <"$ready"
  rec "$CFG" rss_idle_conns MiB MiB "$srv" 0 "$rss"
  rec "$CFG" idle_conns_open conns conns "$srv" 0 "$open"
  if [ "$open" != "$IDLE_CONNS" ] || [ "$answered" != "$IDLE_CONNS" ]; then
    note "$CFG" rss_idle_conns "$srv" 0 "of $IDLE_CONNS connections, $open open and $answered answered"
  fi
  log "$CFG idle connections $srv: $open open, $answered answered, RSS $rss MiB"
  stop_pid "$pid"
  sleep 1
}

# ---------------------------------------------------------------- Go client, handshakes, head-of-line
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat" 2>/dev/null; }

# settle SRV: waits until the server has no CLOSE-WAIT socket left on its port and uses under 10%
# of a core over half a second (at most SETTLE_MAX s), and prints the seconds it took: a server
# still busy with the last load (handshakes whose clients left) must not slow the next
# measurement, and how long it stays busy is a figure itself. (CPU alone is not enough: on a
# loaded machine a starved server uses little CPU while its backlog waits.)
settle() {
  local pid=${SPID[$1]} port=${SPORT[$1]} hz t0 a b
  hz=$(getconf CLK_TCK)
  t0=$(now_ns)
  while :; do
    a=$(cpu_ticks "$pid") || break
    sleep 0.5
    b=$(cpu_ticks "$pid") || break
    [ -n "$a" ] && [ -n "$b" ] && [ $((b - a)) -le $((hz / 20)) ] &&
      [ "$(ss -Htan state close-wait sport = ":$port" | wc -l)" = 0 ] && break
    [ $(($(now_ns) - t0)) -ge $((SETTLE_MAX * 1000000000)) ] && break
  done
  awk -v ns=$(($(now_ns) - t0)) 'BEGIN { v = ns / 1e9 - 0.5; printf "%.1f", v < 0 ? 0 : v }'
}

# hey_run SRV RUN: one `hey -z HEY_SECONDS -c HEY_CONNS -m HEAD` on an authenticated /v2/ (tls),
# then, at once, the CLOSE-WAIT sockets on the server's port and a fresh curl's time to a 200
# (capped at 5 s); then waits for the server to go idle. hey skips certificate verification.
hey_run() {
  local srv=$1 run=$2 out=$TMP/logs/hey-$CFG-$1-$2.txt rps cw res code ms bad errs settled
  timeout $((HEY_SECONDS + 60)) hey -z "${HEY_SECONDS}s" -c "$HEY_CONNS" -m HEAD \
    -H "Authorization: $AUTH_HEADER" "${SURL[$srv]}/v2/" >"$out" 2>&1 ||
    note "$CFG" hey "$srv" "$run" "hey exited with status $?: $(tail -n 2 "$out" | tr '\n' ' ')"
  cw=$(ss -Htan state close-wait sport = ":${SPORT[$srv]}" | wc -l)
  res=$(curl -s -o /dev/null -m 5 -w '%{http_code} %{time_total}' "${CURL_AUTH[@]}" "${SURL[$srv]}/v2/" 2>/dev/null) || true
  code=${res%% *}
  ms=$(awk -v t="${res#* }" 'BEGIN { printf "%.1f", (t + 0 > 0 ? t : 5) * 1000 }')
  [ "$code" = 200 ] || note "$CFG" hey_fresh "$srv" "$run" "fresh curl after hey: HTTP '$code' after $ms ms (cap 5 s)"
  settled=$(settle "$srv")
  rps=$(awk '/Requests\/sec:/ { print $2 }' "$out")
  # Everything but [200] in the status distribution, and every line of the error distribution.
  bad=$(awk '/^Status code distribution:/ { s = 1; next } /^Error distribution:/ { s = 2; next }
             s == 1 && /\[[0-9]+\]/ && $1 != "[200]" { n += $2 } s == 2 && /\[[0-9]+\]/ { n += substr($1, 2) + 0 }
             END { print n + 0 }' "$out")
  rec "$CFG" hey rps req/s "$srv" "$run" "$rps"
  rec "$CFG" hey_fresh ms ms "$srv" "$run" "$ms"
  rec "$CFG" hey_close_wait conns conns "$srv" "$run" "$cw"
  rec "$CFG" hey_settle seconds s "$srv" "$run" "$settled"
  if [ "$bad" != 0 ]; then
    errs=$(awk '/^Error distribution:/ { s = 1; next } s && /\[/' "$out" | head -n 2 | tr -s ' \t\n' ' ')
    note "$CFG" hey "$srv" "$run" "$bad requests not answered 200: $errs"
  fi
  log "$CFG hey run $run $srv: ${rps:-?} req/s, fresh curl $ms ms, $cw CLOSE-WAIT, idle after $settled s"
}

# full_handshakes SRV: handshakes.py's parallel full handshakes (no resumption) for HS_SECONDS.
full_handshakes() {
  local srv=$1 out
  if ! out=$(timeout $((HS_SECONDS + 90)) python3 "$BENCH_DIR/handshakes.py" 127.0.0.1 "${SPORT[$srv]}" \
      --cacert "$TMP/certs/server.crt" --clients "$HS_CLIENTS" --seconds "$HS_SECONDS" 2>&1); then
    note "$CFG" full_handshake "$srv" "$ROUND" "handshakes.py failed: $(tail -n 2 <<<"$out" | tr '\n' ' ')"
    return 0
  fi
  local rate p50 p99 errs
  read -r rate p50 p99 errs <<<"$(jq -r '[.rate, .p50_ms, .p99_ms, .errors] | @tsv' <<<"$out")"
  rec "$CFG" full_handshake rps handshakes/s "$srv" "$ROUND" "$rate"
  rec "$CFG" full_handshake p99 ms "$srv" "$ROUND" "$p99"
  [ "$errs" = 0 ] || note "$CFG" full_handshake "$srv" "$ROUND" "$errs failed handshakes, first: $(jq -r .first_error <<<"$out")"
  log "$CFG r$ROUND full_handshake $srv: $rate handshakes/s, p50 $p50 ms, p99 $p99 ms, idle after $(settle "$srv") s"
}

# hol SRV MIB: hol.py's probe (GET /v2/ + manifest GET every 5 ms, one keep-alive connection),
# idle and while HOL_PUSHERS monolithic pushes of MIB MiB run.
hol() {
  local srv=$1 mib=$2 out fig=hol_$2
  if [ "$mib" -gt "$BLOB_MIB" ]; then
    note "$CFG" "$fig" "$srv" "$ROUND" "BENCH_HOL_MIB $mib is larger than the blob file ($BLOB_MIB MiB): skipped"
    return 0
  fi
  sync # the previous run's dirty pages are written back before this one, not during it
  if ! out=$(timeout $((XFER_TIMEOUT + 120)) python3 "$BENCH_DIR/hol.py" "${SURL[$srv]}" --blob "$BLOB" \
      --bytes $((mib * 1048576)) --pushers "$HOL_PUSHERS" --idle "$HOL_IDLE" --timeout "$XFER_TIMEOUT" 2>"$TMP/logs/hol.err"); then
    note "$CFG" "$fig" "$srv" "$ROUND" "hol.py failed: $(tail -n 2 "$TMP/logs/hol.err" | tr '\n' ' ')"
    return 0
  fi
  PUSHED[$srv]="${PUSHED[$srv]:-} $(jq -r '.push.digests | join(" ")' <<<"$out")"
  local ip50 ip99 lp50 lp99 lmax errs ok secs
  read -r ip50 ip99 lp50 lp99 lmax errs ok secs <<<"$(jq -r '[.idle.p50_ms, .idle.p99_ms, .load.p50_ms, .load.p99_ms,
      .load.max_ms, (.idle.errors + .load.errors), .push.ok, .push.seconds] | @tsv' <<<"$out")"
  rec "$CFG" hol_idle p50 ms "$srv" "$ROUND" "$ip50"
  rec "$CFG" hol_idle p99 ms "$srv" "$ROUND" "$ip99"
  rec "$CFG" "$fig" p50 ms "$srv" "$ROUND" "$lp50"
  rec "$CFG" "$fig" p99 ms "$srv" "$ROUND" "$lp99"
  rec "$CFG" "$fig" max ms "$srv" "$ROUND" "$lmax"
  [ "$errs" = 0 ] || note "$CFG" "$fig" "$srv" "$ROUND" "$errs probe requests failed (not 200 or connection error)"
  [ "$ok" = "$HOL_PUSHERS" ] || note "$CFG" "$fig" "$srv" "$ROUND" "$ok of $HOL_PUSHERS pushes answered 201: $(jq -c .push.statuses <<<"$out")"
  log "$CFG r$ROUND $fig $srv: idle p50 $ip50 / p99 $ip99 ms; under $HOL_PUSHERS x $mib MiB pushes ($secs s) p50 $lp50 / p99 $lp99 / max $lmax ms"
}

# ---------------------------------------------------------------- machine context
machine_context() {
  local out v port pid t0 t1 i
  log "machine context: openssl speed, loopback, disk"
  out=$(timeout 120 openssl speed -evp sha256 -seconds "$SPEED_SECONDS" -bytes 16384 2>/dev/null | awk '$1 == "sha256" { v = $NF } END { print v }')
  v=$(awk -v k="${out%k}" 'BEGIN { if (k + 0 > 0) printf "%.1f", k * 1000 / 1e6; else print "null" }')
  rec machine sha256_16k MB/s MB/s machine 0 "$v"
  # One core's RSA-4096 signatures/s: a full handshake with the bench certificate costs one.
  v=$(timeout 120 openssl speed -seconds "$SPEED_SECONDS" rsa4096 2>/dev/null | awk '$1 == "rsa" && $2 == "4096" { print $(NF - 1) }')
  rec machine rsa4096_sign sign/s sign/s machine 0 "${v:-null}"
  port=$(free_port)
  start_bg "$TMP/logs/iperf3-server.log" iperf3 -s --forceflush -B 127.0.0.1 -p "$port"
  pid=$LAST_PID
  v=null
  for ((i = 0; i < 100; i++)); do grep -q 'listening' "$TMP/logs/iperf3-server.log" 2>/dev/null && break; sleep 0.1; done
  v=$(timeout 60 iperf3 -c 127.0.0.1 -p "$port" -t "$IPERF_SECONDS" -J 2>/dev/null |
      jq -r '(.end.sum_received.bits_per_second / 8 / 1e6 * 10 | round) / 10' 2>/dev/null) || v=null
  stop_pid "$pid"
  rec machine loopback_tcp MB/s MB/s machine 0 "${v:-null}"
  t0=$(now_ns)
  timeout 300 dd if=/dev/zero of="$TMP/dd.bin" bs=1M count="$BLOB_MIB" conv=fdatasync status=none || true
  t1=$(now_ns)
  rm -f "$TMP/dd.bin"
  rec machine disk_fdatasync MB/s MB/s machine 0 "$(mbps "$BLOB_BYTES" $((t1 - t0)))"
}

start_nginx() {
  local d=$TMP/nginx
  mkdir -p "$d/www" "$d/tmp"
  ln "$BLOB" "$d/www/blob" 2>/dev/null || cp "$BLOB" "$d/www/blob"
  NGINX_PORT=$(free_port)
  NGINX_TLS_PORT=$(free_port)
  cat >"$d/nginx.conf" <<EOF
user root;
worker_processes 1;
daemon off;
pid $d/nginx.pid;
error_log $d/error.log warn;
events { worker_connections 1024; }
http {
  sendfile on;
  tcp_nopush on;
  access_log off;
  client_body_temp_path $d/tmp;
  default_type application/octet-stream;
  server {
    listen 127.0.0.1:$NGINX_PORT;
    root $d/www;
  }
  server {
    listen 127.0.0.1:$NGINX_TLS_PORT ssl;
    ssl_certificate $TMP/certs/server.crt;
    ssl_certificate_key $TMP/certs/server.key;
    root $d/www;
  }
}
EOF
  start_bg "$d/stdout.log" nginx -e "$d/error.log" -p "$d" -c "$d/nginx.conf"
  NGINX_PID=$LAST_PID
  { wait_port "$NGINX_PORT" "$NGINX_PID" 10 && wait_port "$NGINX_TLS_PORT" "$NGINX_PID" 10; } || { cat "$d/error.log" "$d/stdout.log" >&2; die "nginx did not start"; }
}

# ---------------------------------------------------------------- one configuration
# seed_server SRV TIMEOUT [seed.py options]: seed.py's tags and repositories; sets EMPTY_DIGEST
# (the zero-length blob the HEAD figure asks for).
EMPTY_DIGEST=""
seed_server() {
  local srv=$1 timeout=$2 out
  shift 2
  log "$CFG: seeding $srv ($NTAGS tags, $NREPOS repositories)"
  out=$(timeout "$timeout" python3 "$BENCH_DIR/seed.py" "${SURL[$srv]}" --tags "$NTAGS" --repos "$NREPOS" "$@" 2>&1) ||
    die "seeding $srv ($CFG) failed: $(tail -n 3 <<<"$out")"
  EMPTY_DIGEST=$(jq -r .empty <<<"$out")
  rec "$CFG" seed seconds s "$srv" 0 "$(jq -r .seconds <<<"$out")"
  log "$CFG: seeded $srv in $(jq -r .seconds <<<"$out") s"
}

# request_figures RUNNER: the four request figures on both servers, figure after figure, each
# measured by RUNNER SRV FIGURE METHOD PATH (run_wrk, or s3_counted_wrk on s3).
request_figures() {
  local run=$1 srv
  for srv in "${SERVERS[@]}"; do "$run" "$srv" manifest_get GET /v2/bench/app/manifests/latest; done
  for srv in "${SERVERS[@]}"; do "$run" "$srv" blob_head HEAD "/v2/bench/app/blobs/$EMPTY_DIGEST"; done
  for srv in "${SERVERS[@]}"; do "$run" "$srv" tags_list GET /v2/bench/tags/tags/list; done
  for srv in "${SERVERS[@]}"; do "$run" "$srv" catalog GET '/v2/_catalog?n=100'; done
}

# config_selected CFG [machine]: whether BENCH_ONLY names a group the configuration measures
# (with machine: one that uses the blob file and the machine context, which gc does not).
config_selected() {
  local g
  if [ "$1" = s3 ]; then selected s3 || selected s3hol; return; fi
  for g in $ALL_GROUPS; do
    case $g in
      s3 | s3hol) continue ;;
      gc) { [ "$1" = plain ] && [ -z "${2:-}" ]; } || continue ;;
    esac
    selected "$g" && return 0
  done
  return 1
}

# run_s3_config: the s3 configuration (bench/s3.sh): both servers on the gateway, the request
# figures with the gateway requests each costs, push and pull of an S3_BLOB_MIB blob against the
# gateway's own PUT/GET, then the head-of-line probe on a slow store.
run_s3_config() {
  CFG=s3
  CURL_AUTH=()
  AUTH_HEADER=""
  local srv ROUND=0 blob_all=$BLOB bytes_all=$BLOB_BYTES
  s3_gateway_start
  BLOB=$TMP/blob-s3.bin
  BLOB_BYTES=$((S3_BLOB_MIB * 1048576))
  head -c "$BLOB_BYTES" "$blob_all" >"$BLOB"
  if selected s3; then
    for srv in "${SERVERS[@]}"; do start_server "$srv"; done
    seed_server onsen 1800 --workers 8
    seed_server registry 1800 --workers 8 --no-empty
    s3_put_empty_blob registry-bench bench/app "$EMPTY_DIGEST"
  fi
  for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    log "$CFG: round $ROUND of $ROUNDS"
    if selected s3; then
      request_figures s3_counted_wrk
      for srv in "${SERVERS[@]}"; do s3_single_get "$srv" catalog '/v2/_catalog?n=100'; done
      s3_limit
      for srv in "${SERVERS[@]}"; do push_monolithic "$srv"; done
      for srv in "${SERVERS[@]}"; do push_chunked "$srv"; done
      for srv in "${SERVERS[@]}"; do
        [ -n "${PULL_DIGEST[$srv]:-}" ] || continue
        pull "$srv" 1 pull_1 "${SURL[$srv]}/v2/bench/push/blobs/${PULL_DIGEST[$srv]}"
      done
      PUSHED=() PULL_DIGEST=()
    fi
    if selected s3hol; then s3_hol "$S3_HOL_MIB"; fi
  done
  if selected s3; then
    for srv in "${SERVERS[@]}"; do
      kill -0 "${SPID[$srv]}" 2>/dev/null || note "$CFG" end "$srv" 0 "server exited during the run: $(tail -n 3 "${SLOG[$srv]}" | tr '\n' ' ')"
    done
    stop_servers
    for srv in "${SERVERS[@]}"; do cp "${SLOG[$srv]}" "$TMP/logs/server-$CFG-$srv.log" 2>/dev/null || true; done
  fi
  s3_gateway_stop
  BLOB=$blob_all BLOB_BYTES=$bytes_all
  rm -rf "${TMP:?}/$CFG" "$TMP/blob-s3.bin"
}

run_config() {
  CFG=$1
  local srv ROUND=0
  if [ "$CFG" = tls ]; then
    CURL_AUTH=(--cacert "$TMP/certs/server.crt" -u "$BENCH_USER:$BENCH_PASS")
    AUTH_HEADER="Basic $(printf '%s:%s' "$BENCH_USER" "$BENCH_PASS" | base64 -w0)"
  else
    CURL_AUTH=()
    AUTH_HEADER=""
  fi
  for srv in "${SERVERS[@]}"; do start_server "$srv"; done
  sleep 2
  if selected rss; then
    for srv in "${SERVERS[@]}"; do rec "$CFG" rss_idle MiB MiB "$srv" 0 "$(rss_mib "${SPID[$srv]}")"; done
  fi

  local seed_args=()
  [ "$CFG" = tls ] && seed_args+=(--user "$BENCH_USER" --password "$BENCH_PASS" --cacert "$TMP/certs/server.crt")
  if selected requests; then
    for srv in "${SERVERS[@]}"; do seed_server "$srv" 900 "${seed_args[@]}"; done
  fi

  for ((ROUND = 1; ROUND <= ROUNDS; ROUND++)); do
    log "$CFG: round $ROUND of $ROUNDS"
    if selected requests; then request_figures run_wrk; fi
    if [ "$CFG" = tls ] && { selected requests || selected handshakes; }; then
      for srv in "${SERVERS[@]}"; do run_wrk "$srv" tls_handshake GET /v2/ 1; done
    fi
    if [ "$CFG" = tls ] && selected handshakes; then
      for srv in "${SERVERS[@]}"; do full_handshakes "$srv"; done
    fi
    if selected push || selected pull; then
      for srv in "${SERVERS[@]}"; do push_monolithic "$srv"; done
    fi
    if selected pull; then
      # A secondary row: the blob right after its push, its pages still dirty or being written
      # back, the kernel's writeback competing with the pull for the two ends' CPU. Most pulls
      # are of a blob pushed long before: the pull rows below.
      for srv in "${SERVERS[@]}"; do
        [ -n "${PULL_DIGEST[$srv]:-}" ] || continue
        pull "$srv" 1 pull_1_pushed "${SURL[$srv]}/v2/bench/push/blobs/${PULL_DIGEST[$srv]}"
      done
    fi
    if selected push; then
      for srv in "${SERVERS[@]}"; do push_chunked "$srv"; done
    fi
    if selected pull; then
      # The pull rows: a blob pulled often, as a registry's pulls mostly are: written back (sync:
      # no dirty pages, here or from the pushes before) and pulled once untimed, for all three
      # servers alike, so each reads clean cached pages.
      local nginx_url="http://127.0.0.1:$NGINX_PORT/blob"
      [ "$CFG" = tls ] && nginx_url="https://127.0.0.1:$NGINX_TLS_PORT/blob"
      sync
      warm_pull nginx "$nginx_url"
      for srv in "${SERVERS[@]}"; do
        [ -n "${PULL_DIGEST[$srv]:-}" ] || continue
        warm_pull "$srv" "${SURL[$srv]}/v2/bench/push/blobs/${PULL_DIGEST[$srv]}"
      done
      # nginx serves the same file (sendfile; over TLS with the same certificate): the limit.
      pull nginx 1 nginx_pull_1 "$nginx_url"
      for srv in "${SERVERS[@]}"; do
        [ -n "${PULL_DIGEST[$srv]:-}" ] || continue
        pull "$srv" 1 pull_1 "${SURL[$srv]}/v2/bench/push/blobs/${PULL_DIGEST[$srv]}"
      done
      [ "$CFG" = plain ] && pull nginx "$PULL_STREAMS" nginx_pull_n "$nginx_url"
      for srv in "${SERVERS[@]}"; do
        [ -n "${PULL_DIGEST[$srv]:-}" ] || continue
        pull "$srv" "$PULL_STREAMS" pull_n "${SURL[$srv]}/v2/bench/push/blobs/${PULL_DIGEST[$srv]}"
      done
    fi
    if [ "$CFG" = plain ] && selected hol; then
      local mib
      for mib in $HOL_MIB; do
        for srv in "${SERVERS[@]}"; do hol "$srv" "$mib"; done
      done
    fi
    drop_pushed_blobs
    if [ "$CFG" = plain ] && selected gc; then
      gc_offline
      gc_online
    fi
    if selected skopeo; then
      for srv in "${SERVERS[@]}"; do skopeo_roundtrip "$srv"; done
    fi
  done

  # hey: HEY_RUNS runs per server, alternating, after the rounds (each run is a sample).
  if [ "$CFG" = tls ] && selected hey; then
    local run
    for ((run = 1; run <= HEY_RUNS; run++)); do
      for srv in "${SERVERS[@]}"; do hey_run "$srv" "$run"; done
    done
  fi
  if selected rss; then
    for srv in "${SERVERS[@]}"; do rec "$CFG" rss_after MiB MiB "$srv" 0 "$(rss_mib "${SPID[$srv]}")"; done
  fi
  if [ "$CFG" = plain ] && selected rss; then
    for srv in "${SERVERS[@]}"; do idle_connections "$srv"; done
  fi
  for srv in "${SERVERS[@]}"; do
    kill -0 "${SPID[$srv]}" 2>/dev/null || note "$CFG" end "$srv" 0 "server exited during the run: $(tail -n 3 "${SLOG[$srv]}" | tr '\n' ' ')"
  done
  stop_servers
  local n5xx first
  for srv in "${SERVERS[@]}"; do
    cp "${SLOG[$srv]}" "$TMP/logs/server-$CFG-$srv.log" 2>/dev/null || true
    # Server-side errors the clients may not have reported (both access logs: '"REQUEST" STATUS').
    n5xx=$(grep -cE '" 5[0-9][0-9] ' "${SLOG[$srv]}" 2>/dev/null) || n5xx=0
    if [ "$n5xx" -gt 0 ]; then
      first=$(grep -m1 -E '" 5[0-9][0-9] ' "${SLOG[$srv]}" | cut -c1-240)
      local hint=""
      [ "$srv" = registry ] && hint=" (registry:2 logs a request whose client went away as 500, e.g. the ones in flight when wrk stops: compare with the wrk notes)"
      note "$CFG" server_log "$srv" 0 "$n5xx responses with a 5xx status in the access log$hint; first: $first"
    fi
  done
  rm -rf "${TMP:?}/$CFG"
}

# ---------------------------------------------------------------- main
# finish COMPLETE: writes the report (also called by cleanup, with false, after an abort).
FINISHED=0
finish() {
  local complete=$1
  FINISHED=1
  local out_json=$RESULTS_DIR/$STARTED.json
  local t_end; t_end=$(now_ns)
  jq -n --arg started "$STARTED" --argjson complete "$complete" --arg quick "$QUICK" --argjson rounds "$ROUNDS" --arg configs "$CONFIGS" \
    --argjson duration "$DURATION" --argjson conns "$CONNS" --argjson threads "$THREADS" \
    --argjson tags "$NTAGS" --argjson repos "$NREPOS" --argjson blob_mib "$BLOB_MIB" \
    --argjson chunk_mib "$CHUNK_MIB" --argjson pull_streams "$PULL_STREAMS" --argjson image_mib "$IMAGE_MIB" \
    --argjson image_layers "$IMAGE_LAYERS" --argjson idle_conns "$IDLE_CONNS" --arg log_level "$LOG_LEVEL" --arg only "$ONLY" \
    --argjson hey_runs "$HEY_RUNS" --argjson hey_seconds "$HEY_SECONDS" --argjson hey_conns "$HEY_CONNS" \
    --argjson hs_clients "$HS_CLIENTS" --argjson hs_seconds "$HS_SECONDS" --arg hol_mib "$HOL_MIB" \
    --argjson hol_pushers "$HOL_PUSHERS" --argjson s3_blob_mib "$S3_BLOB_MIB" --argjson s3_hol_mib "$S3_HOL_MIB" \
    --argjson s3_delay_ms "$S3_DELAY_MS" --arg s3_copy_threshold "$S3_COPY_THRESHOLD" \
    --argjson gc_repos "$GC_REPOS" --arg gc_flags "$GC_FLAGS" --arg gc_counts "$(cat "$TMP/gc/counts.json" 2>/dev/null)" \
    --arg onsen "$ONSEN_BIN" --arg onsen_commit "$(git -C "$REPO_ROOT" describe --always --dirty 2>/dev/null || echo unknown)" \
    --arg registry "$("$REGISTRY_BIN" --version 2>/dev/null | head -n 1)" \
    --arg cpus "$(nproc)" --arg cpu "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" \
    --arg kernel "$(uname -r)" --arg load_start "$LOAD_START" --arg load_end "$(cut -d' ' -f1-3 /proc/loadavg)" \
    --arg wall "$(secs $((t_end - T_START)))" \
    '{started:$started, complete:$complete, quick:($quick == "1"), rounds:$rounds, configs:($configs | split(" ")),
      wall_seconds:($wall | tonumber),
      settings:{wrk_seconds:$duration, connections:$conns, wrk_threads:$threads, tags:$tags, repos:$repos,
        blob_mib:$blob_mib, chunk_mib:$chunk_mib, pull_streams:$pull_streams, image_mib:$image_mib,
        image_layers:$image_layers, idle_connections:$idle_conns, log_level:$log_level,
        hey_runs:$hey_runs, hey_seconds:$hey_seconds, hey_connections:$hey_conns,
        handshake_clients:$hs_clients, handshake_seconds:$hs_seconds,
        hol_mib:[$hol_mib | splits(" +") | select(. != "") | tonumber], hol_pushers:$hol_pushers,
        s3_blob_mib:$s3_blob_mib, s3_hol_mib:$s3_hol_mib, s3_delay_ms:$s3_delay_ms,
        s3_copy_threshold:(if $s3_copy_threshold == "" then null else ($s3_copy_threshold | tonumber) end),
        gc_repos:$gc_repos, gc_flags:$gc_flags, gc_store:(if $gc_counts == "" then null else ($gc_counts | fromjson) end),
        only:($only | gsub(" "; ",") | split(","))},
      onsen:{binary:$onsen, commit:$onsen_commit}, registry:$registry,
      host:{cpus:($cpus | tonumber), cpu:$cpu, kernel:$kernel, loadavg_start:$load_start, loadavg_end:$load_end}}' \
    >"$TMP/meta.json"
  python3 "$BENCH_DIR/summarize.py" "$TMP/meta.json" "$RESULTS" "$NOTES" "$out_json"
  log "results: $out_json (total $(secs $((t_end - T_START))) s after the build)"
}

main() {
  install_deps
  build_onsen
  ONSEN_BIN=$(cd "$(dirname "$ONSEN_BIN")" && pwd)/$(basename "$ONSEN_BIN")
  [ -x "$REGISTRY_BIN" ] || die "$REGISTRY_BIN not found"

  TMP=$(mktemp -d /tmp/onsen-bench.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  # Watchdog: TERM to this script after MAX_SECONDS (its sleep is killed with it at the end).
  (
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$MAX_SECONDS" & sp=$!
    wait "$sp" && { echo "[bench] time limit of $MAX_SECONDS s reached: stopping" >&2; kill -TERM $$; }
  ) 2>/dev/null &
  WATCHDOG=$!
  mkdir -p "$TMP/logs" "$TMP/certs" "$TMP/auth" "$RESULTS_DIR"
  RESULTS=$TMP/results.jsonl NOTES=$TMP/notes.jsonl
  : >"$RESULTS"; : >"$NOTES"
  ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
  export NO_PROXY='*' no_proxy='*'
  STARTED=$(date -u +%Y%m%dT%H%M%SZ)
  T_START=$(now_ns)
  log "onsen $ONSEN_BIN vs $REGISTRY_BIN ($("$REGISTRY_BIN" --version 2>/dev/null | head -n 1)); temp $TMP"
  local g c
  for g in ${ONLY//,/ }; do
    [[ " $ALL_GROUPS " == *" $g "* ]] || die "unknown group '$g' in BENCH_ONLY (groups: $ALL_GROUPS)"
  done
  log "rounds $ROUNDS, configs '$CONFIGS', only '$ONLY', wrk ${DURATION}s x $CONNS conns, blob $BLOB_MIB MiB, $NTAGS tags, $NREPOS repos"

  # Shared material: TLS certificate, htpasswd, the blob file, the skopeo image.
  openssl req -newkey rsa:4096 -nodes -sha256 -x509 -days 365 -keyout "$TMP/certs/server.key" \
    -out "$TMP/certs/server.crt" -subj /CN=localhost \
    -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" >/dev/null 2>&1 || die "openssl req failed"
  htpasswd -Bbn "$BENCH_USER" "$BENCH_PASS" | sed '/^$/d' >"$TMP/auth/htpasswd" || die "htpasswd failed"
  # Only the s3 configuration (or gc) to run: the s3 blob size is all the blob file needs, and the
  # machine context (filesystem limits: SHA-256, disk, nginx) is not used.
  local fs_configs=0
  for c in $CONFIGS; do
    case $c in plain | tls) config_selected "$c" machine && fs_configs=1 ;; esac
  done
  [ "$fs_configs" = 1 ] || BLOB_MIB=$S3_BLOB_MIB
  [ "$S3_BLOB_MIB" -le "$BLOB_MIB" ] || die "BENCH_S3_BLOB_MIB ($S3_BLOB_MIB) is larger than BENCH_BLOB_MIB ($BLOB_MIB)"
  [ "$S3_HOL_MIB" -le "$S3_BLOB_MIB" ] || die "BENCH_S3_HOL_MIB ($S3_HOL_MIB) is larger than BENCH_S3_BLOB_MIB ($S3_BLOB_MIB)"
  BLOB=$TMP/blob.bin
  BLOB_BYTES=$((BLOB_MIB * 1048576))
  head -c "$BLOB_BYTES" /dev/urandom >"$BLOB"
  if selected skopeo; then
    log "generating the ${IMAGE_LAYERS}-layer ${IMAGE_MIB} MiB OCI image"
    timeout 600 python3 "$REPO_ROOT/tests/interop/make_oci_layout.py" "$TMP/image" --layers "$IMAGE_LAYERS" \
      --layer-size $((IMAGE_MIB * 1048576 / IMAGE_LAYERS)) --tag v1 --seed onsen-bench >/dev/null ||
      die "make_oci_layout.py failed"
    setup_skopeo
  fi
  if [ "$fs_configs" = 1 ]; then
    machine_context
    selected pull && start_nginx
  fi

  LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
  for c in $CONFIGS; do
    case $c in
      plain | tls) config_selected "$c" && run_config "$c" ;;
      s3) config_selected s3 && run_s3_config ;;
      *) die "unknown configuration '$c' in BENCH_CONFIGS" ;;
    esac
  done

  finish true
}

main "$@"
