# Shared helpers for the interop tests (sourced, not run). Each test script does:
#
#   source "$(dirname "$0")/lib.sh"; interop_init "$@"
#
# which installs the test packages, takes the onsen binary from $1, makes a private temp dir
# (removed on exit, with every server this script started) and a skopeo environment that reads
# nothing from /etc or $HOME. Knob: ONSEN_UNDER_TEST=distribution runs docker-registry wherever
# Onsen would run, to validate the tests themselves against the reference implementation.
# Knob: INTEROP_KEEP=1 keeps the temp dir for a post-mortem.

INTEROP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO_ROOT=$(cd "$INTEROP_DIR/../.." && pwd)

# pass/fail/check*, summary, abort, free_port, stop_pid, sha256_file, oci_index_digest, the result
# and process state (shared with tests/deploy; PID_NAME here: "onsen" or "distribution").
# shellcheck source=tests/lib/common.sh
source "$INTEROP_DIR/../lib/common.sh"

TMP_ROOT=""
ONSEN_BIN=""
ONSEN_UNDER_TEST=${ONSEN_UNDER_TEST:-onsen}
LAST_LOG=""

# ---------------------------------------------------------------- setup and cleanup
cleanup() {
  local rc=$? pid
  for pid in "${STARTED_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  for pid in "${STARTED_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  if [ -n "$TMP_ROOT" ] && [ -d "$TMP_ROOT" ]; then
    if [ "${INTEROP_KEEP:-0}" = 1 ]; then log "kept $TMP_ROOT"; else rm -rf "$TMP_ROOT"; fi
  fi
  return $rc
}

interop_init() {
  ONSEN_BIN=${1:-}
  if ! "$REPO_ROOT/scripts/install-deps.sh" test >&2; then
    echo "0 passed, 1 failed"; exit 1
  fi
  local t
  for t in skopeo docker-registry jq curl python3 sha256sum; do
    command -v "$t" >/dev/null || { echo "interop: $t not found" >&2; echo "0 passed, 1 failed"; exit 1; }
  done
  if [ "$ONSEN_UNDER_TEST" = onsen ]; then
    if [ -z "$ONSEN_BIN" ] || [ ! -x "$ONSEN_BIN" ]; then
      echo "usage: $0 PATH-TO-ONSEN-BINARY (got '${ONSEN_BIN}': not an executable)" >&2
      echo "0 passed, 1 failed"; exit 1
    fi
    ONSEN_BIN=$(cd "$(dirname "$ONSEN_BIN")" && pwd)/$(basename "$ONSEN_BIN")
  elif [ "$ONSEN_UNDER_TEST" != distribution ]; then
    echo "ONSEN_UNDER_TEST must be onsen or distribution" >&2; exit 1
  fi
  TMP_ROOT=$(mktemp -d /tmp/onsen-interop.XXXXXX)
  trap cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  setup_skopeo_env
  log "interop: server under test: $ONSEN_UNDER_TEST${ONSEN_BIN:+ ($ONSEN_BIN)}; temp dir $TMP_ROOT"
}

# A fresh directory under the script's temp dir.
tmpdir() { local n=${1:-d}; mktemp -d "$TMP_ROOT/${n//\//-}.XXXXXX"; }

# ---------------------------------------------------------------- skopeo
# Everything skopeo (containers/image) could read from /etc or $HOME is redirected to files
# of ours: policy, registries.conf, registries.d, auth file, containers.conf, temp dir.
setup_skopeo_env() {
  local e=$TMP_ROOT/skopeo-env
  mkdir -p "$e/home" "$e/run" "$e/registries.d" "$e/tmp" "$e/config"
  chmod 700 "$e/run"
  echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$e/policy.json"
  printf 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n' >"$e/registries.conf"
  echo '{"auths":{}}' >"$e/auth.json"
  : >"$e/containers.conf"
  export HOME=$e/home XDG_RUNTIME_DIR=$e/run XDG_CONFIG_HOME=$e/config TMPDIR=$e/tmp
  export CONTAINERS_REGISTRIES_CONF=$e/registries.conf CONTAINERS_CONF=$e/containers.conf
  export DOCKER_CONFIG=$e/home/.docker
  # Not exported: REGISTRY_* variables are configuration overrides for the servers.
  SKOPEO_AUTH_FILE=$e/auth.json
  unset CONTAINERS_STORAGE_CONF REGISTRIES_CONFIG_PATH http_proxy https_proxy HTTP_PROXY HTTPS_PROXY
  export NO_PROXY='*' no_proxy='*'
  SKOPEO_GLOBAL=(--policy "$e/policy.json" --registries.d "$e/registries.d")
  SKOPEO_COPY=(--src-tls-verify=false --dest-tls-verify=false --src-no-creds --dest-no-creds --retry-times 0)
  SKOPEO_TLS=(--tls-verify=false --no-creds)
}
# sk SUBCOMMAND ARGS...: skopeo with the private environment and plain-HTTP/no-auth flags.
# Global options (--override-arch arm64, ...) may come before SUBCOMMAND.
sk() {
  local glob=("${SKOPEO_GLOBAL[@]}")
  while [ $# -gt 0 ] && [ "${1#--}" != "$1" ]; do
    case $1 in *=*) glob+=("$1"); shift ;; *) glob+=("$1" "$2"); shift 2 ;; esac
  done
  local sub=$1; shift
  local -x REGISTRY_AUTH_FILE=$SKOPEO_AUTH_FILE
  case $sub in
    copy) timeout 180 skopeo "${glob[@]}" copy "${SKOPEO_COPY[@]}" "$@" ;;
    inspect|list-tags|delete) timeout 60 skopeo "${glob[@]}" "$sub" "${SKOPEO_TLS[@]}" "$@" ;;
    *) timeout 180 skopeo "${glob[@]}" "$sub" "$@" ;;
  esac
}

# ---------------------------------------------------------------- servers
# wait_ready PID PORT [TIMEOUT_S]: until GET /v2/ answers 200; fails when PID exits first.
wait_ready() {
  local pid=$1 port=$2 timeout=${3:-30} code i
  for ((i = 0; i < timeout * 10; i++)); do
    kill -0 "$pid" 2>/dev/null || return 1
    code=$(curl -s -o /dev/null -m 2 -w '%{http_code}' "http://127.0.0.1:$port/v2/" 2>/dev/null)
    [ "$code" = 200 ] && return 0
    sleep 0.1
  done
  return 1
}

# _launch NAME LOG CMD...: starts CMD in the background, records it; sets LAST_PID/LAST_LOG.
_launch() {
  local name=$1 logf=$2; shift 2
  # Servers read REGISTRY_* variables as configuration overrides: start them without any.
  local unset_args=() v
  for v in ${!REGISTRY_@}; do unset_args+=(-u "$v"); done
  env "${unset_args[@]}" "$@" >"$logf" 2>&1 </dev/null &
  LAST_PID=$!
  LAST_LOG=$logf
  STARTED_PIDS+=("$LAST_PID")
  PID_LOG[$LAST_PID]=$logf
  PID_NAME[$LAST_PID]=$name
}

# start_distribution ROOT PORT: docker-registry (CNCF Distribution) serving ROOT on PORT.
start_distribution() {
  local root=$1 port=$2 cfg
  mkdir -p "$root"
  cfg=$(mktemp "$TMP_ROOT/distribution-$port.XXXXXX.yml")
  cat >"$cfg" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $root
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
  secret: interop-test-secret
EOF
  _launch distribution "${cfg%.yml}.log" docker-registry serve "$cfg"
  if ! wait_ready "$LAST_PID" "$port" 30; then
    log "docker-registry did not become ready on port $port; log:"; tail -n 30 "$LAST_LOG" >&2
    return 1
  fi
}

# start_onsen ROOT PORT: the server under test (Onsen, or docker-registry when
# ONSEN_UNDER_TEST=distribution) serving ROOT on PORT.
start_onsen() {
  local root=$1 port=$2 cfg
  if [ "$ONSEN_UNDER_TEST" = distribution ]; then
    start_distribution "$root" "$port"; return
  fi
  mkdir -p "$root"
  cfg=$(mktemp "$TMP_ROOT/onsen-$port.XXXXXX.yml")
  cat >"$cfg" <<EOF
version: 0.1
log:
  level: info
storage:
  filesystem:
    rootdirectory: $root
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:$port
EOF
  _launch onsen "${cfg%.yml}.log" "$ONSEN_BIN" serve "$cfg"
  if ! wait_ready "$LAST_PID" "$port" 30; then
    log "onsen did not become ready on port $port; log:"; tail -n 30 "$LAST_LOG" >&2
    return 1
  fi
}

# stop PID: SIGTERM, wait up to 15 s, then SIGKILL. Returns non-zero when it had to kill.
stop() { stop_pid "$1"; }

# ---------------------------------------------------------------- small HTTP/digest helpers
MT_OCI_MANIFEST=application/vnd.oci.image.manifest.v1+json
MT_OCI_INDEX=application/vnd.oci.image.index.v1+json
MT_DOCKER_MANIFEST=application/vnd.docker.distribution.manifest.v2+json
MT_DOCKER_LIST=application/vnd.docker.distribution.manifest.list.v2+json
ACCEPT_ALL="$MT_OCI_MANIFEST, $MT_OCI_INDEX, $MT_DOCKER_MANIFEST, $MT_DOCKER_LIST"

sha256_stdin() { echo "sha256:$(sha256sum | cut -d' ' -f1)"; }

# http_header METHOD URL HEADER [ACCEPT]: the value of one response header (empty if none).
http_header() {
  local method=$1 url=$2 name=$3 accept=${4:-$ACCEPT_ALL}
  local how=(-X "$method")
  [ "$method" = HEAD ] && how=(-I)
  curl -s -o /dev/null -D - -m 30 "${how[@]}" -H "Accept: $accept" "$url" 2>/dev/null |
    tr -d '\r' | awk -v n="$name" -F': ' \
      'tolower($1) == tolower(n) { sub(/^[^:]*: */, ""); v = $0 } END { print v }'
}
# http_code METHOD URL [ACCEPT]
http_code() {
  local method=$1 url=$2 accept=${3:-$ACCEPT_ALL}
  if [ "$method" = HEAD ]; then
    curl -s -o /dev/null -I -m 30 -H "Accept: $accept" -w '%{http_code}' "$url" 2>/dev/null
  else
    curl -s -o /dev/null -m 30 -X "$method" -H "Accept: $accept" -w '%{http_code}' "$url" 2>/dev/null
  fi
}

# same_oci_image A B TAG: the two OCI layouts hold byte-identical manifests (for TAG) and every
# blob the manifest references (config + layers; for an image index, every child manifest and
# its blobs) is present in both with identical bytes.
same_oci_image() {
  local a=$1 b=$2 tag=$3 da db
  da=$(oci_index_digest "$a" "$tag"); db=$(oci_index_digest "$b" "$tag")
  [ -n "$da" ] || { echo "no $tag in $a/index.json"; return 1; }
  [ "$da" = "$db" ] || { echo "manifest digest differs: $da vs $db"; return 1; }
  _same_oci_tree "$a" "$b" "$da"
}
_same_oci_tree() {
  local a=$1 b=$2 d=$3 h f
  f=$a/blobs/sha256/${d#sha256:}
  cmp "$f" "$b/blobs/sha256/${d#sha256:}" || return 1
  [ "$(sha256_file "$f")" = "$d" ] || { echo "manifest $d: bad content"; return 1; }
  for h in $(jq -r '.manifests[]?.digest' "$f"); do
    _same_oci_tree "$a" "$b" "$h" || return 1
  done
  for h in $(jq -r '.config.digest // empty, .layers[]?.digest' "$f"); do
    h=${h#sha256:}
    cmp "$a/blobs/sha256/$h" "$b/blobs/sha256/$h" || return 1
    [ "$(sha256_file "$b/blobs/sha256/$h")" = "sha256:$h" ] || { echo "blob $h: bad content"; return 1; }
  done
}

# dir_image_ok DIR: a skopeo dir: copy whose manifest.json references blobs that are all present
# and whose bytes hash to their names.
dir_image_ok() {
  local d=$1 h
  [ -s "$d/manifest.json" ] || { echo "no manifest.json"; return 1; }
  for h in $(jq -r '.config.digest, .layers[].digest' "$d/manifest.json"); do
    [ -f "$d/${h#sha256:}" ] || { echo "missing blob $h"; return 1; }
    [ "$(sha256_file "$d/${h#sha256:}")" = "$h" ] || { echo "blob $h: bad content"; return 1; }
  done
}

# same_blobs_oci_dir LAYOUT DIR: every blob in the dir: copy equals the same-named blob of the
# OCI layout (the conversion to schema2 changes only the manifest).
same_blobs_oci_dir() {
  local a=$1 d=$2 h
  for h in $(jq -r '.config.digest, .layers[].digest' "$d/manifest.json"); do
    cmp "$a/blobs/sha256/${h#sha256:}" "$d/${h#sha256:}" || return 1
  done
}
