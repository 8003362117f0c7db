#!/usr/bin/env bash
# Process-level configuration checks against the real binary, each onsen started with a clean
# environment (plain HTTP on loopback, no auth unless stated): configuration errors exit 2 with
# one stderr line naming the variable or key; REGISTRY_* beats the file; REGISTRY_CONFIGURATION_PATH
# and the argument; embedded defaults; unknown keys warn; http.headers; storage.delete.enabled;
# storage.maintenance.readonly; http.prefix; SIGTERM. Usage: bash config_process_test.sh PATH-TO-ONSEN
set -euo pipefail
source "$(dirname "$0")/lib.sh"
deploy_init "$@"
deploy_install_deps || abort "install dependencies"

T=$(tmpdir cfg)
DATA=$T/data   # one storage root, shared by the runs below (populated once)
mkdir -p "$DATA"
MT_OCI=application/vnd.oci.image.manifest.v1+json

# run_sync NAME VAR=VAL... -- ARGS...: runs `onsen serve ARGS` (clean env + VARs) to completion
# (10 s bound); sets RC, OUT (stdout), ERR (stderr).
run_sync() {
  local name=$1; shift
  local vars=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do vars+=("$1"); shift; done
  [ "${1:-}" = -- ] && shift
  RC=0
  onsen_cmd "${vars[@]}" -- "$@"
  timeout 10 "${ONSEN_CMD[@]}" >"$T/$name.out" 2>"$T/$name.err" </dev/null || RC=$?
  OUT=$(cat "$T/$name.out"); ERR=$(cat "$T/$name.err")
}
# check_config_error NAME NEEDLE: exit status 2, exactly one stderr line, naming NEEDLE.
check_config_error() {
  local name=$1 needle=$2 lines
  lines=$(printf '%s' "$ERR" | grep -c . || true)
  if [ "$RC" = 2 ] && [ "$lines" = 1 ] && [[ $ERR == *"$needle"* ]]; then
    pass "$name: exit 2, one stderr line naming $needle"
  else
    fail "$name: exit 2, one stderr line naming $needle" "exit $RC, $lines stderr line(s):" "$ERR" "stdout: $(printf '%s' "$OUT" | tail -n 3)"
  fi
}
# start_ok NAME PORT VAR=VAL... [-- ARGS...]: starts onsen, waits for http://127.0.0.1:PORT/v2/;
# returns non-zero (and fails NAME) when it does not answer.
start_ok() {
  local name=$1 port=$2; shift 2
  local w; w=$(tmpdir run)
  start_onsen_env "$w" "$port" "$@"
  if ! ONSEN_V2_STATUS=$(wait_http "http://127.0.0.1:$port/v2/" "$ONSEN_PID" 20); then
    fail "$name" "onsen did not answer on port $port:" "$(tail -n 15 "$ONSEN_LOG")"
    stop_onsen >/dev/null 2>&1 || true
    return 1
  fi
}
code_of() { curl -s -o /dev/null -m 10 -w '%{http_code}' "$@" 2>/dev/null || true; }
port_refused() { local rc=0; curl -s -o /dev/null -m 5 "http://127.0.0.1:$1/v2/" || rc=$?; [ "$rc" = 7 ]; }

# push_curl BASE REPO TAG LAYOUT: monolithic blob uploads + manifest PUT (prints the PUT status).
push_curl() {
  local base=$1 repo=$2 tag=$3 layout=$4 d m code
  m=$layout/blobs/sha256/$(oci_index_digest "$layout" "$tag" | cut -d: -f2)
  for d in $(jq -r '.config.digest, .layers[].digest' "$m"); do
    code=$(code_of -X POST -H 'Content-Type: application/octet-stream' \
      --data-binary "@$layout/blobs/sha256/${d#sha256:}" "$base/v2/$repo/blobs/uploads/?digest=$d")
    [ "$code" = 201 ] || { echo "blob $code"; return 0; }
  done
  code_of -X PUT -H "Content-Type: $MT_OCI" --data-binary "@$m" "$base/v2/$repo/manifests/$tag"
}

L=$(tmpdir layout)
make_image "$L" v1 --seed config --layers 1 --layer-size 4096 >/dev/null
make_image "$L" v2 --seed config-2 --layers 1 --layer-size 4096 >/dev/null
D1=$(oci_index_digest "$L" v1)
STORAGE=("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=$DATA")

# ---------------------------------------------------------------- configuration errors
P=$(free_port)
run_sync bad-env "${STORAGE[@]}" "REGISTRY_HTTP_ADDR=127.0.0.1:$P" REGISTRY_STORAGE_DELETE_ENABLED=maybe
check_config_error "REGISTRY_STORAGE_DELETE_ENABLED=maybe" REGISTRY_STORAGE_DELETE_ENABLED
check "nothing listens after the configuration error" port_refused "$P"

cat >"$T/bad-value.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $DATA
  delete:
    enabled: maybe
http:
  addr: 127.0.0.1:$P
EOF
run_sync bad-file -- "$T/bad-value.yml"
check_config_error "file storage.delete.enabled: maybe" storage.delete.enabled

cat >"$T/bad-duration.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $DATA
http:
  addr: 127.0.0.1:$P
  draintimeout: forever
EOF
run_sync bad-duration -- "$T/bad-duration.yml"
check_config_error "file http.draintimeout: forever" http.draintimeout

printf 'version: 0.1\nstorage: [unclosed\n' >"$T/bad-yaml.yml"
run_sync bad-yaml -- "$T/bad-yaml.yml"
if [ "$RC" = 2 ] && [ "$(printf '%s' "$ERR" | grep -c .)" = 1 ]; then pass "malformed YAML: exit 2, one stderr line"
else fail "malformed YAML: exit 2, one stderr line" "exit $RC" "$ERR"; fi

cat >"$T/two-drivers.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $DATA
  inmemory: {}
http:
  addr: 127.0.0.1:$P
EOF
run_sync two-drivers -- "$T/two-drivers.yml"
check_config_error "two storage drivers" storage

run_sync missing-file -- "$T/does-not-exist.yml"
if [ "$RC" != 0 ] && [[ $ERR == *does-not-exist.yml* ]]; then pass "missing config file argument: fails naming the file (exit $RC)"
else fail "missing config file argument: fails naming the file" "exit $RC" "$ERR"; fi

run_sync bad-env-cfgpath "REGISTRY_CONFIGURATION_PATH=$T/bad-value.yml" "REGISTRY_HTTP_ADDR=127.0.0.1:$P"
check_config_error "REGISTRY_CONFIGURATION_PATH file is read (its bad value reported)" storage.delete.enabled

run_sync bad-env-yaml "${STORAGE[@]}" "REGISTRY_HTTP_ADDR=127.0.0.1:$P" "REGISTRY_HTTP_HEADERS=[unclosed"
check_config_error "REGISTRY_HTTP_HEADERS=[unclosed (invalid YAML value)" REGISTRY_HTTP_HEADERS

run_sync missing-htpasswd "${STORAGE[@]}" "REGISTRY_HTTP_ADDR=127.0.0.1:$P" REGISTRY_AUTH=htpasswd \
  REGISTRY_AUTH_HTPASSWD_REALM=test "REGISTRY_AUTH_HTPASSWD_PATH=$T/no-htpasswd"
if [ "$RC" != 0 ] && [[ "$ERR$OUT" == *no-htpasswd* ]]; then pass "missing htpasswd file: startup fails naming it (exit $RC)"
else fail "missing htpasswd file: startup fails naming it" "exit $RC" "$ERR" "$OUT"; fi

run_sync htpasswd-no-path "${STORAGE[@]}" "REGISTRY_HTTP_ADDR=127.0.0.1:$P" REGISTRY_AUTH=htpasswd REGISTRY_AUTH_HTPASSWD_REALM=test
if [ "$RC" != 0 ] && [[ $ERR == *path* ]]; then pass "REGISTRY_AUTH=htpasswd without a path: startup fails naming the path (exit $RC)"
else fail "REGISTRY_AUTH=htpasswd without a path: startup fails naming the path" "exit $RC" "$ERR" "$(printf '%s' "$OUT" | tail -n 3)"; fi

make_tls "$T/tls" "$REGISTRY_NAME"
run_sync tls-no-key "${STORAGE[@]}" "REGISTRY_HTTP_ADDR=127.0.0.1:$P" "REGISTRY_HTTP_TLS_CERTIFICATE=$T/tls/$REGISTRY_NAME.crt" \
  "REGISTRY_HTTP_TLS_KEY=$T/tls/missing.key"
if [ "$RC" != 0 ] && [[ "$ERR$OUT" == *missing.key* ]]; then pass "missing TLS key file: startup fails naming it (exit $RC)"
else fail "missing TLS key file: startup fails naming it" "exit $RC" "$ERR" "$(printf '%s' "$OUT" | tail -n 3)"; fi
check "nothing listens after the failed TLS start" port_refused "$P"

# ---------------------------------------------------------------- no file: embedded defaults + env
P=$(free_port)
if start_ok "no config file, storage root + addr only" "$P" "${STORAGE[@]}" "REGISTRY_HTTP_ADDR=127.0.0.1:$P"; then
  check_eq "no config file, only storage root + addr: /v2/ -> 200" 200 "$ONSEN_V2_STATUS"
  check_eq "seed an image (plain HTTP, no auth)" 201 "$(push_curl "http://127.0.0.1:$P" cfg/app v1 "$L")"
  check_eq "seed a second image" 201 "$(push_curl "http://127.0.0.1:$P" cfg/app v2 "$L")"
  check_eq "data went to REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY" "$D1" \
    "$(cat "$DATA/docker/registry/v2/repositories/cfg/app/_manifests/tags/v1/current/link" 2>&1)"
  # Default: deletes disabled (as registry:2).
  code=$(code_of -X DELETE "http://127.0.0.1:$P/v2/cfg/app/manifests/$D1")
  check_eq "deletes are disabled by default: DELETE manifest -> 405" 405 "$code"
  check_eq "default accepts no TLS" 000 "$(code_of --cacert /dev/null "https://127.0.0.1:$P/v2/")"
  if stop_onsen; then pass "SIGTERM stops onsen"; else fail "SIGTERM stops onsen within 15 s"; fi
  check_contains "log says it stopped" "onsen stopped" "$(cat "$ONSEN_LOG")"
fi

# ---------------------------------------------------------------- env beats file
PA=$(free_port); PB=$(free_port)
cat >"$T/addr.yml" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $DATA
http:
  addr: 127.0.0.1:$PA
  headers:
    X-Content-Type-Options: [nosniff]
    X-Onsen-Test: [from-file]
EOF
if start_ok "env beats file" "$PB" "REGISTRY_HTTP_ADDR=127.0.0.1:$PB" -- "$T/addr.yml"; then
  pass "file says addr A, REGISTRY_HTTP_ADDR says B: listens on B"
  check "and not on A" port_refused "$PA"
  curl -s -o /dev/null -D "$T/h.txt" -m 10 "http://127.0.0.1:$PB/v2/" || true
  check_eq "http.headers from the file appear on responses" "from-file" "$(header_value <(tr -d '\r' <"$T/h.txt") X-Onsen-Test)"
  check_eq "http.headers: X-Content-Type-Options" "nosniff" "$(header_value <(tr -d '\r' <"$T/h.txt") X-Content-Type-Options)"
  curl -s -o /dev/null -D "$T/h2.txt" -m 10 "http://127.0.0.1:$PB/v2/cfg/app/manifests/nope" || true
  check_eq "http.headers also on error responses" "from-file" "$(header_value <(tr -d '\r' <"$T/h2.txt") X-Onsen-Test)"
  stop_onsen || true
fi

# REGISTRY_CONFIGURATION_PATH is used when there is no argument; an argument wins over it.
if start_ok "REGISTRY_CONFIGURATION_PATH without argument" "$PA" "REGISTRY_CONFIGURATION_PATH=$T/addr.yml"; then
  pass "REGISTRY_CONFIGURATION_PATH used when no argument (listens on the file's addr)"
  check_eq "and serves the file's storage" 200 "$(code_of -H "Accept: $MT_OCI" "http://127.0.0.1:$PA/v2/cfg/app/manifests/v1")"
  stop_onsen || true
fi
PC=$(free_port)
sed "s/127.0.0.1:$PA/127.0.0.1:$PC/" "$T/addr.yml" >"$T/addr-c.yml"
if start_ok "argument beats REGISTRY_CONFIGURATION_PATH" "$PC" "REGISTRY_CONFIGURATION_PATH=$T/addr.yml" -- "$T/addr-c.yml"; then
  pass "an argument wins over REGISTRY_CONFIGURATION_PATH"
  check "REGISTRY_CONFIGURATION_PATH's addr unused" port_refused "$PA"
  stop_onsen || true
fi

# /etc/docker/registry/config.yml (the image default) is read when there is neither an argument
# nor REGISTRY_CONFIGURATION_PATH, and only then (shown to onsen alone via a private mount).
if [ -d "$ETC_REGISTRY_DIR" ]; then
  PE=$(free_port)
  sed "s/127.0.0.1:$PA/127.0.0.1:$PE/" "$T/addr.yml" >"$T/etc-config.yml"
  if DEPLOY_ETC_CONFIG=$T/etc-config.yml start_ok "/etc/docker/registry/config.yml used by default" "$PE"; then
    pass "/etc/docker/registry/config.yml used when no argument and no REGISTRY_CONFIGURATION_PATH"
    stop_onsen || true
  fi
  if DEPLOY_ETC_CONFIG=$T/etc-config.yml start_ok "REGISTRY_CONFIGURATION_PATH beats /etc" "$PA" "REGISTRY_CONFIGURATION_PATH=$T/addr.yml"; then
    pass "REGISTRY_CONFIGURATION_PATH wins over /etc/docker/registry/config.yml"
    check "/etc's addr unused" port_refused "$PE"
    stop_onsen || true
  fi
else
  skip "/etc/docker/registry/config.yml fallback" "no $ETC_REGISTRY_DIR directory to mount over"
fi

# ---------------------------------------------------------------- unknown keys warn, still start
P=$(free_port)
cat >"$T/unknown.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $DATA
    frobnicate: true
http:
  addr: 127.0.0.1:$P
  flux: capacitor
bogus: 1
EOF
if start_ok "unknown keys: still starts" "$P" REGISTRY_HTTP_NOSUCHOPTION=1 REGISTRY_PORT=tcp://10.0.0.1:5000 \
    REGISTRY_SERVICE_HOST=10.0.0.1 -- "$T/unknown.yml"; then
  pass "unknown keys and variables: still starts"
  sleep 0.2
  logtext=$(cat "$ONSEN_LOG")
  check_contains "warning names the unknown file key http.flux" "http.flux" "$logtext"
  check_contains "warning names the unknown driver parameter" "storage.filesystem.frobnicate" "$logtext"
  check_contains "warning names the unknown top-level key" "bogus" "$logtext"
  check_contains "warning names the unknown variable" "REGISTRY_HTTP_NOSUCHOPTION" "$logtext"
  check "warnings are logged at warning level" grep -qi 'warn' "$ONSEN_LOG"
  stop_onsen || true
fi

# ---------------------------------------------------------------- delete enabled / disabled
P=$(free_port)
if start_ok "delete enabled by env" "$P" "${STORAGE[@]}" "REGISTRY_HTTP_ADDR=127.0.0.1:$P" REGISTRY_STORAGE_DELETE_ENABLED=true; then
  check_eq "REGISTRY_STORAGE_DELETE_ENABLED=true: DELETE tag v2 -> 202" 202 "$(code_of -X DELETE "http://127.0.0.1:$P/v2/cfg/app/manifests/v2")"
  stop_onsen || true
fi
P=$(free_port)
cat >"$T/nodelete.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $DATA
  delete:
    enabled: false
http:
  addr: 127.0.0.1:$P
EOF
if start_ok "storage.delete.enabled: false" "$P" -- "$T/nodelete.yml"; then
  code=$(http_req "$T/del" -X DELETE "http://127.0.0.1:$P/v2/cfg/app/manifests/$D1") || true
  check_eq "storage.delete.enabled false: DELETE manifest -> 405" 405 "$code"
  check_eq "405 body code" UNSUPPORTED "$(jq -r '.errors[0].code' "$T/del.body" 2>&1)"
  check_eq "blob DELETE -> 405 too" 405 "$(code_of -X DELETE "http://127.0.0.1:$P/v2/cfg/app/blobs/$(jq -r .config.digest "$L/blobs/sha256/${D1#sha256:}")")"
  check_eq "manifest still there" 200 "$(code_of -H "Accept: $MT_OCI" "http://127.0.0.1:$P/v2/cfg/app/manifests/$D1")"
  stop_onsen || true
fi

# ---------------------------------------------------------------- read-only maintenance mode
P=$(free_port)
cat >"$T/readonly.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $DATA
  delete:
    enabled: true
  maintenance:
    readonly:
      enabled: true
http:
  addr: 127.0.0.1:$P
EOF
if start_ok "storage.maintenance.readonly.enabled: true" "$P" -- "$T/readonly.yml"; then
  code=$(http_req "$T/ro" -X POST "http://127.0.0.1:$P/v2/cfg/app/blobs/uploads/") || true
  check_eq "read-only: POST upload -> 405" 405 "$code"
  check_eq "read-only: error code UNSUPPORTED" UNSUPPORTED "$(jq -r '.errors[0].code' "$T/ro.body" 2>&1)"
  check_eq "read-only: monolithic push -> refused" "blob 405" "$(push_curl "http://127.0.0.1:$P" cfg/other v2 "$L")"
  code=$(code_of -X PUT -H "Content-Type: $MT_OCI" --data-binary "@$L/blobs/sha256/${D1#sha256:}" "http://127.0.0.1:$P/v2/cfg/app/manifests/ro-tag")
  check_eq "read-only: manifest PUT -> 405" 405 "$code"
  check_eq "read-only: DELETE -> 405 (even with delete enabled)" 405 "$(code_of -X DELETE "http://127.0.0.1:$P/v2/cfg/app/manifests/$D1")"
  check_eq "read-only: pull manifest works" 200 "$(code_of -H "Accept: $MT_OCI" "http://127.0.0.1:$P/v2/cfg/app/manifests/v1")"
  check_eq "read-only: pull blob works" 200 "$(code_of "http://127.0.0.1:$P/v2/cfg/app/blobs/$(jq -r .config.digest "$L/blobs/sha256/${D1#sha256:}")")"
  check_eq "read-only: catalog works" "cfg/app" "$(curl -s -m 10 "http://127.0.0.1:$P/v2/_catalog" | jq -r '.repositories | join(",")' 2>&1)"
  stop_onsen || true
fi
P=$(free_port)
if start_ok "readonly by env" "$P" "${STORAGE[@]}" "REGISTRY_HTTP_ADDR=127.0.0.1:$P" REGISTRY_STORAGE_MAINTENANCE_READONLY='{"enabled": true}'; then
  check_eq "REGISTRY_STORAGE_MAINTENANCE_READONLY={enabled: true}: POST upload -> 405" 405 \
    "$(code_of -X POST "http://127.0.0.1:$P/v2/cfg/app/blobs/uploads/")"
  stop_onsen || true
fi

# ---------------------------------------------------------------- http.prefix
P=$(free_port)
cat >"$T/prefix.yml" <<EOF
version: 0.1
storage:
  filesystem:
    rootdirectory: $DATA
http:
  addr: 127.0.0.1:$P
  prefix: /reg/
EOF
w=$(tmpdir run)
start_onsen_env "$w" "$P" -- "$T/prefix.yml"
if ONSEN_V2_STATUS=$(wait_http "http://127.0.0.1:$P/reg/v2/" "$ONSEN_PID" 20); then
  check_eq "http.prefix /reg/: GET /reg/v2/ -> 200" 200 "$ONSEN_V2_STATUS"
  check_eq "http.prefix: /reg/v2/_catalog" "cfg/app" "$(curl -s -m 10 "http://127.0.0.1:$P/reg/v2/_catalog" | jq -r '.repositories | join(",")' 2>&1)"
  check_eq "http.prefix: manifest under /reg/v2/" 200 "$(code_of -H "Accept: $MT_OCI" "http://127.0.0.1:$P/reg/v2/cfg/app/manifests/v1")"
  check_eq "http.prefix: /v2/ outside the prefix -> 404" 404 "$(code_of "http://127.0.0.1:$P/v2/")"
  code=$(http_req "$T/pfx" -X POST "http://127.0.0.1:$P/reg/v2/cfg/pfx/blobs/uploads/") || true
  check_eq "http.prefix: POST upload -> 202" 202 "$code"
  check_contains "http.prefix: upload Location carries the prefix" "/reg/v2/cfg/pfx/blobs/uploads/" "$(header_value "$T/pfx.headers" Location)"
  check_eq "http.prefix: push through the prefix" 201 "$(push_curl "http://127.0.0.1:$P/reg" cfg/pfx v1 "$L")"
  stop_onsen || true
else
  fail "http.prefix /reg/: GET /reg/v2/ answers" "$(tail -n 15 "$ONSEN_LOG")"
fi

summary
