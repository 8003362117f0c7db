#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions are called through check/deploy_on_exit, which shellcheck cannot follow
# Docker Engine against the classic env-only deployment of Onsen (htpasswd + TLS, the six
# REGISTRY_* variables, started by lib.sh): a PRIVATE dockerd (its own containerd, data root, exec
# root, socket and daemon.json; no iptables, no bridge) trusts the test CA through
# /etc/docker/certs.d/<host>:<port>/ca.crt, then docker login / tag / push / rmi / pull / logout,
# curl -su _catalog and tags/list, a wrong password and a stale stored one (an authentication
# error, never 429), pull and push after logout, a wrong CA and no CA (x509).
# Usage: bash docker_engine_test.sh PATH-TO-ONSEN
#
# The private containerd and dockerd run in a mount namespace of their own in which /etc/hosts and
# /etc/docker are files of this test (bind mounts): dockerd finds the CA at the usual
# /etc/docker/certs.d/<host>:<port>/ca.crt and resolves the registry name from our hosts file,
# while the host's /etc is never touched (no race with other tests editing /etc/hosts).
# In that hosts file the registry name is ::1, not 127.0.0.1: dockerd always adds 127.0.0.0/8 to
# its insecure registries and resolves the registry's name to check it; an insecure registry is
# contacted with certificate verification OFF (certs.d is not even read), so neither the CA trust
# nor the x509 failures would be tested. Onsen listens on 127.0.0.1:PORT as lib.sh starts it, and
# a TCP forwarder on [::1]:PORT carries the TLS stream to it unchanged.
#
# image_test.sh sources this file for its helpers: everything above "main" defines functions only.
set -euo pipefail
# shellcheck source=tests/deploy/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# ================================================================ helpers (shared with image_test.sh)
DOCKER_BIN=""            # the docker.io CLI (the daemon's version; /usr/local/bin/docker may be newer)
DKD_DIR="" DKD_PID="" CTD_PID="" DKD_GWBRIDGE_BEFORE=0
DK_TIMEOUT=${DK_TIMEOUT:-180}
DK_ETC_DOCKER=""         # what dockerd sees as /etc/docker (DK_ETC_DOCKER/certs.d/...)
DK_HOSTS=""              # what dockerd sees as /etc/hosts

# dk ARGS...: the private engine's CLI, bounded in time.
dk() { timeout "$DK_TIMEOUT" "$DOCKER_BIN" "$@"; }

# docker_engine_install: docker.io (dockerd, containerd, runc), skopeo (OCI layout -> docker-archive).
docker_engine_install() {
  deploy_install_deps docker.io skopeo util-linux iproute2 || return 1
  DOCKER_BIN=/usr/bin/docker
  [ -x "$DOCKER_BIN" ] || DOCKER_BIN=$(command -v docker) || return 1
  local t
  for t in dockerd containerd containerd-shim-runc-v2 runc skopeo nsenter; do
    command -v "$t" >/dev/null || { log "docker_engine_install: $t not found"; return 1; }
  done
}

# docker_engine_start: a private containerd + dockerd under TMP_ROOT; exports DOCKER_HOST and
# DOCKER_CONFIG (credentials go to a private config.json). Stopped (containers, swarm, mounts,
# shims included) when the script exits.
docker_engine_start() {
  DKD_DIR=$(tmpdir dockerd)
  local d=$DKD_DIR i
  mkdir -p "$d/docker" "$d/exec" "$d/containerd/root" "$d/containerd/state" "$d/config" \
    "$d/etc-docker/certs.d"
  DK_ETC_DOCKER=$d/etc-docker DK_HOSTS=$d/hosts
  printf '127.0.0.1 localhost\n::1 localhost\n::1 %s\n' "$REGISTRY_NAME" >"$DK_HOSTS"
  [ -d /etc/docker ] || mkdir -p /etc/docker   # the mount point (docker.io creates it anyway)
  ip link show docker_gwbridge >/dev/null 2>&1 && DKD_GWBRIDGE_BEFORE=1
  # Our own containerd: without --containerd, dockerd would attach to /run/containerd/containerd.sock
  # whenever that socket exists (a system containerd, or another test's).
  cat >"$d/containerd.toml" <<EOF
version = 2
root = "$d/containerd/root"
state = "$d/containerd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
EOF
  # daemon.json of our own (the host's /etc/docker/daemon.json is not read); the engine's identity
  # key stays under TMP_ROOT instead of /etc/docker/key.json.
  printf '{\n  "deprecated-key-path": "%s/key.json"\n}\n' "$d" >"$d/daemon.json"
  deploy_on_exit docker_engine_stop
  # shellcheck disable=SC2016  # sh -c expands its own positional parameters
  start_bg containerd "$d/containerd.log" unshare -m --propagation private sh -c \
    'mount --bind "$0" /etc/hosts && mount --bind "$1" /etc/docker && shift && exec "$@"' \
    "$DK_HOSTS" "$DK_ETC_DOCKER" containerd --config "$d/containerd.toml"
  CTD_PID=$LAST_PID
  for ((i = 0; i < 300; i++)); do
    [ -S "$d/containerd.sock" ] && break
    kill -0 "$CTD_PID" 2>/dev/null || break
    sleep 0.1
  done
  [ -S "$d/containerd.sock" ] || { log "containerd did not start:"; tail -n 20 "$d/containerd.log" >&2; return 1; }
  local driver=()
  [ -n "${DOCKERD_STORAGE_DRIVER:-}" ] && driver=(--storage-driver "$DOCKERD_STORAGE_DRIVER")
  # dockerd in containerd's mount namespace (both must see the same mounts).
  start_bg dockerd "$d/dockerd.log" nsenter -t "$CTD_PID" -m -- dockerd --config-file "$d/daemon.json" \
    --containerd "$d/containerd.sock" \
    --iptables=false --ip6tables=false --bridge=none \
    --data-root "$d/docker" --exec-root "$d/exec" --pidfile "$d/docker.pid" \
    -H "unix://$d/docker.sock" "${driver[@]}"
  DKD_PID=$LAST_PID
  export DOCKER_HOST=unix://$d/docker.sock DOCKER_CONFIG=$d/config
  for ((i = 0; i < 600; i++)); do
    kill -0 "$DKD_PID" 2>/dev/null || break
    timeout 5 "$DOCKER_BIN" version >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  log "dockerd did not start:"; tail -n 30 "$d/dockerd.log" >&2
  return 1
}

# docker_engine_stop: containers, services, swarm, networks, then dockerd, containerd, leftover
# shims (found by OUR containerd socket in their command line, killed by pid) and mounts.
docker_engine_stop() {
  [ -n "$DKD_DIR" ] || return 0
  local d=$DKD_DIR i p ids gw_left=0
  if [ -n "$DKD_PID" ] && kill -0 "$DKD_PID" 2>/dev/null; then
    ids=$(timeout 30 "$DOCKER_BIN" ps -aq 2>/dev/null) || ids=""
    # shellcheck disable=SC2086
    [ -z "$ids" ] || timeout 60 "$DOCKER_BIN" rm -f -v $ids >/dev/null 2>&1 || true
    if [ "$(timeout 30 "$DOCKER_BIN" info -f '{{.Swarm.LocalNodeState}}' 2>/dev/null)" = active ]; then
      timeout 60 "$DOCKER_BIN" swarm leave --force >/dev/null 2>&1 || true
    fi
    # docker_gwbridge (made by swarm) is a host-wide bridge name: remove it only when OUR daemon
    # has it, never one that another engine made.
    if [ -n "$(timeout 30 "$DOCKER_BIN" network ls -q --filter name=^docker_gwbridge$ 2>/dev/null)" ]; then
      timeout 30 "$DOCKER_BIN" network rm docker_gwbridge >/dev/null 2>&1 || gw_left=1
    fi
    kill -TERM "$DKD_PID" 2>/dev/null || true
    for ((i = 0; i < 200; i++)); do kill -0 "$DKD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$DKD_PID" 2>/dev/null || true
  fi
  if [ -n "$CTD_PID" ] && kill -0 "$CTD_PID" 2>/dev/null; then
    kill -TERM "$CTD_PID" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do kill -0 "$CTD_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$CTD_PID" 2>/dev/null || true
  fi
  for p in /proc/[0-9]*; do
    if tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -F -- "$d/containerd.sock"; then
      kill -KILL "${p#/proc/}" 2>/dev/null || true
    fi
  done
  # Mounts left under our directories (netns files, overlay, secrets tmpfs), deepest first.
  awk -v d="$d/" 'index($5, d) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r p; do umount -l "$p" 2>/dev/null || true; done
  if [ "$gw_left" = 1 ] && [ "$DKD_GWBRIDGE_BEFORE" = 0 ] && ip link show docker_gwbridge >/dev/null 2>&1; then
    ip link del docker_gwbridge 2>/dev/null || true
  fi
  DKD_PID="" CTD_PID=""
}

# forward_start LISTEN_HOST LISTEN_PORT TARGET_HOST TARGET_PORT [NETNS_FILE | @LIST]: a TCP
# forwarder (python3, a thread per connection). With NETNS_FILE (/proc/PID/ns/net) it listens here
# but connects from inside that network namespace: a container's own loopback becomes reachable
# without any bridge or routed address. With @LIST (a file of NETNS_FILE lines, read again for
# every connection) it balances connections round robin over those namespaces, skipping one it
# cannot enter or connect in (a killed container), as Swarm's routing mesh does. Killed on exit.
forward_start() {
  local py=$TMP_ROOT/tcp_forward.py i
  [ -f "$py" ] || cat >"$py" <<'EOF'
import ctypes, os, socket, sys, threading
lhost, lport, thost, tport = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
fam = socket.AF_INET6 if ":" in lhost else socket.AF_INET
srv = socket.socket(fam, socket.SOCK_STREAM)
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if fam == socket.AF_INET6:
    srv.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
srv.bind((lhost, lport))
srv.listen(128)
ns = sys.argv[5] if len(sys.argv) > 5 else ""
libc = ctypes.CDLL(None, use_errno=True)

def enter(path):  # the calling thread only: the listener stays in this namespace
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, 0x40000000) != 0:  # CLONE_NEWNET
            raise OSError(ctypes.get_errno(), "setns %s: %s" % (path, os.strerror(ctypes.get_errno())))
    finally:
        os.close(fd)

if ns and not ns.startswith("@"):
    try:
        enter(ns)
    except OSError as e:
        sys.exit(str(e))
print("forwarding [%s]:%d -> %s:%d %s" % (lhost, lport, thost, tport, ns), flush=True)
turn = [0]
turn_lock = threading.Lock()

def connect():
    if not ns.startswith("@"):
        return socket.create_connection((thost, tport), timeout=10)
    with open(ns[1:]) as f:
        spaces = [l.strip() for l in f if l.strip()]
    with turn_lock:
        first = turn[0]
        turn[0] += 1
    err = OSError("no namespace in " + ns[1:])
    for i in range(len(spaces)):
        path = spaces[(first + i) % len(spaces)]
        try:
            enter(path)
            return socket.create_connection((thost, tport), timeout=3)
        except OSError as e:
            err = e
            print("skip %s: %s" % (path, e), flush=True)
    raise err

def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        try:
            dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass

def serve(conn):
    try:
        up = connect()
    except OSError as e:
        print("connect %s:%d: %s" % (thost, tport, e), flush=True)
        conn.close()
        return
    up.settimeout(None)
    t = threading.Thread(target=pump, args=(up, conn), daemon=True)
    t.start()
    pump(conn, up)
    t.join()
    conn.close()
    up.close()

while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOF
  local logf=$TMP_ROOT/forward-$2.log
  start_bg "forward:$2" "$logf" python3 "$py" "$@"
  for ((i = 0; i < 100; i++)); do
    grep -q '^forwarding' "$logf" 2>/dev/null && return 0
    kill -0 "$LAST_PID" 2>/dev/null || break
    sleep 0.1
  done
  log "forwarder did not start:"; cat "$logf" >&2
  return 1
}

# mesh_target LABEL PORT CA FALLBACK...: sets FWD to what the clients' forwarder connects to: the
# published PORT when Swarm's routing mesh answers there (/v2/ -> 401), else FALLBACK (a skip line
# says why: ingress needs IPVS and iptables NAT, and this dockerd runs with --iptables=false).
# Returns non-zero in the second case.
mesh_target() {
  local label=$1 pub=$2 ca=$3 code why; shift 3
  code=$(curl -s -o /dev/null -m 5 -w '%{http_code}' --cacert "$ca" \
    --resolve "$REGISTRY_NAME:$pub:127.0.0.1" "https://$REGISTRY_NAME:$pub/v2/" 2>/dev/null) || true
  if [ "$code" = 401 ]; then
    pass "$label: published port $pub -> 5000 answers through the routing mesh"
    FWD=(127.0.0.1 "$pub")
    return 0
  fi
  why=$(grep -E 'ipvs|iptables' "$DKD_DIR/dockerd.log" | sed -n 's/.*msg="\([^"]*\)".*/\1/p' | sort -u | head -n 3 | tr '\n' ';')
  skip "$label: published port $pub -> 5000 (ingress routing mesh)" \
    "no answer on 127.0.0.1:$pub (curl: $code); ingress needs IPVS and iptables NAT: dockerd --iptables=false, and dockerd says: $why"
  FWD=("$@")
  return 1
}

# docker_trust_ca HOST:PORT CA_FILE: /etc/docker/certs.d/HOST:PORT/ca.crt as the private dockerd
# sees it (DK_ETC_DOCKER is its /etc/docker; gone with TMP_ROOT).
docker_trust_ca() {
  mkdir -p "$DK_ETC_DOCKER/certs.d/$1"
  cp "$2" "$DK_ETC_DOCKER/certs.d/$1/ca.crt"
}

# make_docker_archive LAYOUT TAG NAME:TAG OUT.tar: an OCI layout image as a docker-archive
# (manifest.json + repositories), which is what `docker load` of Docker 20.10 reads.
make_docker_archive() {
  TMPDIR=$TMP_ROOT timeout 120 skopeo --insecure-policy copy --quiet \
    "oci:$1:$2" "docker-archive:$4:$3"
}

# auth_entry HOST:PORT: the credentials entry the CLI stored for HOST:PORT ("" if none).
auth_entry() { jq -r --arg h "$1" '.auths[$h].auth // empty' "$DOCKER_CONFIG/config.json" 2>/dev/null || true; }

# docker_client_suite LABEL HOST:PORT CA_FILE LOCAL_REF REPO: the whole client sequence against a
# registry whose CA is CA_FILE (trusted through certs.d by this function), pushing the local image
# LOCAL_REF as HOST:PORT/REPO:v1 (and :v2). LOCAL_REF is loaded again at the end.
docker_client_suite() {
  local label=$1 hp=$2 ca=$3 src=$4 repo=$5
  local ref=$hp/$repo:v1 ref2=$hp/$repo:v2 out rc id digest code
  # curl resolves HOST as dockerd does (::1), without /etc/hosts.
  local RES=(--resolve "$hp:[::1]")
  local CURL=(curl -s -m 30 "${RES[@]}" --cacert "$ca" -u "$DEPLOY_USER:$DEPLOY_PASS")
  id=$(dk image inspect -f '{{.Id}}' "$src" 2>/dev/null) || { fail "$label: local image $src present"; return 0; }
  docker_trust_ca "$hp" "$ca"
  echo "# $label: docker client against https://$hp (image $src, $id)"

  # -------- login
  # A wrong password first (issue 9): "unauthorized", never 429; the right one follows.
  rc=0; out=$(printf '%s' "not-$DEPLOY_PASS" | dk login "$hp" -u "$DEPLOY_USER" --password-stdin 2>&1) || rc=$?
  check_auth_refused "$label: docker login with a wrong password fails (unauthorized)" "$rc" "$out" 'unauthorized'
  check_eq "$label: no credentials stored after the failed login" "" "$(auth_entry "$hp")"
  rc=0; out=$(printf '%s' "$DEPLOY_PASS" | dk login "$hp" -u "$DEPLOY_USER" --password-stdin 2>&1) || rc=$?
  if [ "$rc" -eq 0 ] && grep -q 'Login Succeeded' <<<"$out"; then
    pass "$label: docker login --password-stdin: Login Succeeded"
  else
    fail "$label: docker login --password-stdin: Login Succeeded" "exit $rc" "$out"
  fi
  check_eq "$label: credentials stored in config.json" "$(printf '%s:%s' "$DEPLOY_USER" "$DEPLOY_PASS" | base64 -w0)" \
    "$(auth_entry "$hp")"

  # -------- stale credentials (issue 9): the password in config.json no longer matches. A push
  # fires several requests at once with it; docker must report "unauthorized", never 429.
  local good_config=$DOCKER_CONFIG/config.json.good
  cp "$DOCKER_CONFIG/config.json" "$good_config"
  jq --arg h "$hp" --arg a "$(printf '%s:stale-%s' "$DEPLOY_USER" "$DEPLOY_PASS" | base64 -w0)" \
    '.auths[$h].auth = $a' "$good_config" >"$DOCKER_CONFIG/config.json"
  dk tag "$src" "$ref" >/dev/null 2>&1 || true
  rc=0; out=$(dk push "$ref" 2>&1) || rc=$?
  check_auth_refused "$label: docker push with a stale stored password fails (unauthorized)" "$rc" "$out" 'unauthorized'
  mv "$good_config" "$DOCKER_CONFIG/config.json"

  # -------- tag, push
  check "$label: docker tag $src $ref" dk tag "$src" "$ref"
  rc=0; out=$(dk push "$ref" 2>&1) || rc=$?
  digest=$(sed -n 's/^v1: digest: \(sha256:[0-9a-f]\{64\}\) size: [0-9]*$/\1/p' <<<"$out")
  if [ "$rc" -eq 0 ] && [ -n "$digest" ]; then
    pass "$label: docker push $ref ($digest)"
  else
    fail "$label: docker push $ref" "exit $rc" "$out"
  fi
  out=$(curl -su "$DEPLOY_USER:$DEPLOY_PASS" --cacert "$ca" -m 30 "${RES[@]}" "https://$hp/v2/_catalog" 2>&1) || true
  check_contains "$label: curl -su user:pass /v2/_catalog lists $repo" "\"$repo\"" "$out"
  out=$("${CURL[@]}" "https://$hp/v2/$repo/tags/list" 2>&1) || true
  check_eq "$label: tags/list" "[\"v1\"]" "$(jq -c .tags <<<"$out" 2>&1)"
  out=$("${CURL[@]}" -I -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
    "https://$hp/v2/$repo/manifests/v1" 2>&1 | tr -d '\r') || true
  check_eq "$label: HEAD manifest: 200 and Docker-Content-Digest = the digest docker push printed" \
    "200 $digest" "$(awk 'NR == 1 { c = $2 } tolower($1) == "docker-content-digest:" { d = $2 } END { print c, d }' <<<"$out")"
  check "$label: docker tag + push $ref2 (layers already there)" dk tag "$src" "$ref2"
  rc=0; out=$(dk push "$ref2" 2>&1) || rc=$?
  if [ "$rc" -eq 0 ] && grep -q 'Layer already exists' <<<"$out"; then
    pass "$label: docker push $ref2: every layer already exists"
  else
    fail "$label: docker push $ref2: every layer already exists" "exit $rc" "$out"
  fi
  out=$("${CURL[@]}" "https://$hp/v2/$repo/tags/list" 2>&1) || true
  check_eq "$label: tags/list after the second push" '["v1","v2"]' "$(jq -c .tags <<<"$out" 2>&1)"

  # -------- rmi, pull
  check "$label: docker rmi (the image is gone from the engine)" dk rmi "$ref" "$ref2" "$src"
  check_fail "$label: image no longer present locally" dk image inspect "$id"
  rc=0; out=$(dk pull "$ref" 2>&1) || rc=$?
  if [ "$rc" -eq 0 ] && grep -q "Digest: $digest" <<<"$out"; then
    pass "$label: docker pull $ref (Digest: $digest)"
  else
    fail "$label: docker pull $ref" "exit $rc" "$out"
  fi
  check_eq "$label: pulled image ID equals the pushed one" "$id" "$(dk image inspect -f '{{.Id}}' "$ref" 2>&1)"
  dk tag "$ref" "$src" >/dev/null 2>&1 || true

  # -------- logout, then refused
  rc=0; out=$(dk logout "$hp" 2>&1) || rc=$?
  if [ "$rc" -eq 0 ] && grep -q 'Removing login credentials' <<<"$out"; then
    pass "$label: docker logout: Removing login credentials"
  else
    fail "$label: docker logout" "exit $rc" "$out"
  fi
  check_eq "$label: credentials removed from config.json" "" "$(auth_entry "$hp")"
  dk rmi "$ref" >/dev/null 2>&1 || true
  rc=0; out=$(dk pull "$ref" 2>&1) || rc=$?
  if [ "$rc" -ne 0 ] && grep -qiE 'no basic auth credentials|unauthorized' <<<"$out"; then
    pass "$label: docker pull after logout refused: $(tail -n1 <<<"$out" | cut -c1-160)"
  else
    fail "$label: docker pull after logout refused (no basic auth credentials / unauthorized)" "exit $rc" "$out"
  fi
  dk tag "$src" "$hp/$repo:v3" >/dev/null 2>&1 || true
  rc=0; out=$(dk push "$hp/$repo:v3" 2>&1) || rc=$?
  if [ "$rc" -ne 0 ] && grep -qiE 'no basic auth credentials|unauthorized' <<<"$out"; then
    pass "$label: docker push after logout refused: $(tail -n1 <<<"$out" | cut -c1-160)"
  else
    fail "$label: docker push after logout refused (no basic auth credentials / unauthorized)" "exit $rc" "$out"
  fi
  out=$("${CURL[@]}" "https://$hp/v2/$repo/tags/list" 2>&1) || true
  check_eq "$label: nothing was pushed after logout" '["v1","v2"]' "$(jq -c .tags <<<"$out" 2>&1)"
  dk rmi "$hp/$repo:v3" >/dev/null 2>&1 || true

  # -------- certificate trust
  local other; other=$(tmpdir "other-ca-$label")
  make_tls "$other" "${hp%:*}" || fail "$label: make a second self-signed certificate"
  cp "$other/${hp%:*}.crt" "$DK_ETC_DOCKER/certs.d/$hp/ca.crt"
  rc=0; out=$(printf '%s' "$DEPLOY_PASS" | dk login "$hp" -u "$DEPLOY_USER" --password-stdin 2>&1) || rc=$?
  if [ "$rc" -ne 0 ] && grep -q 'x509' <<<"$out"; then
    pass "$label: wrong CA in certs.d: docker login fails: $(grep -o 'x509.*' <<<"$out" | head -n1 | cut -c1-120)"
  else
    fail "$label: wrong CA in certs.d: docker login fails with an x509 error" "exit $rc" "$out"
  fi
  rc=0; out=$(dk pull "$ref" 2>&1) || rc=$?
  if [ "$rc" -ne 0 ] && grep -q 'x509' <<<"$out"; then
    pass "$label: wrong CA in certs.d: docker pull fails (x509)"
  else
    fail "$label: wrong CA in certs.d: docker pull fails with an x509 error" "exit $rc" "$out"
  fi
  rm -f "$DK_ETC_DOCKER/certs.d/$hp/ca.crt"
  rc=0; out=$(printf '%s' "$DEPLOY_PASS" | dk login "$hp" -u "$DEPLOY_USER" --password-stdin 2>&1) || rc=$?
  if [ "$rc" -ne 0 ] && grep -q 'x509' <<<"$out"; then
    pass "$label: no CA in certs.d: docker login fails (x509)"
  else
    fail "$label: no CA in certs.d: docker login fails with an x509 error" "exit $rc" "$out"
  fi
  cp "$ca" "$DK_ETC_DOCKER/certs.d/$hp/ca.crt"
  rc=0; out=$(printf '%s' "$DEPLOY_PASS" | dk login "$hp" -u "$DEPLOY_USER" --password-stdin 2>&1) || rc=$?
  check_eq "$label: right CA back: docker login succeeds again" "0" "$rc"
  dk logout "$hp" >/dev/null 2>&1 || true
}

# Sourced (by image_test.sh): helpers only.
if [ "${BASH_SOURCE[0]}" != "$0" ]; then return 0; fi

# ================================================================ main
deploy_init "$@"
docker_engine_install || abort "install docker.io, skopeo (apt)"

W=$(tmpdir onsen)
PORT=$(free_port)
start_onsen_classic "$ONSEN_BIN" "$W" "$PORT" || abort "onsen starts (env-only: six classic variables + storage root)"
check_eq "onsen (env-only, TLS + htpasswd): GET /v2/ without credentials -> 401" 401 "$ONSEN_V2_STATUS"

forward_start ::1 "$PORT" 127.0.0.1 "$PORT" || abort "forwarder [::1]:$PORT -> 127.0.0.1:$PORT"
code=$(curl -s -o /dev/null -m 10 -w '%{http_code}' --cacert "$ONSEN_CA" --resolve "$ONSEN_HOSTPORT:[::1]" "$ONSEN_URL/v2/") || true
check_eq "$ONSEN_URL/v2/ through [::1] -> 401" 401 "$code"

docker_engine_start || abort "private dockerd starts"
pass "private dockerd: $(dk version -f '{{.Server.Version}}' 2>&1), storage driver $(dk info -f '{{.Driver}}' 2>&1), cgroup driver $(dk info -f '{{.CgroupDriver}}' 2>&1)"
log "dockerd insecure registry ranges (built in): $(dk info -f '{{json .RegistryConfig.InsecureRegistryCIDRs}}' 2>&1)"

L=$(tmpdir layout)
make_image "$L" v1 --seed docker-engine --layers 3 --layer-size 300000 >/dev/null || abort "generate the test image"
make_docker_archive "$L" v1 deploy/app:v1 "$TMP_ROOT/app.tar" || abort "skopeo copy oci:LAYOUT:v1 docker-archive:app.tar:deploy/app:v1"
out=$(dk load -i "$TMP_ROOT/app.tar" 2>&1) || true
check_contains "docker load -i app.tar (docker-archive made by skopeo from the OCI layout)" "Loaded image: deploy/app:v1" "$out"

docker_client_suite engine "$ONSEN_HOSTPORT" "$ONSEN_CA" deploy/app:v1 deploy/app

# What docker pushed is on disk in Distribution's layout (docker recompresses the layers it
# loaded, so the blobs are its own, not the layout's: check them against the pushed manifest).
link=$ONSEN_ROOT/docker/registry/v2/repositories/deploy/app/_manifests/tags/v1/current/link
MD=$(cat "$link" 2>/dev/null) || MD=""
if [[ $MD =~ ^sha256:[0-9a-f]{64}$ ]]; then
  pass "storage: _manifests/tags/v1/current/link written in Distribution's layout ($MD)"
else
  fail "storage: $link holds a digest" "$(find "$ONSEN_ROOT" -maxdepth 6 2>&1 | head -n 20)"
fi
blobs_ok() {
  local m=$ONSEN_ROOT/docker/registry/v2/blobs/sha256/${MD:7:2}/${MD#sha256:}/data d f
  [ "$(sha256_file "$m")" = "$MD" ] || { echo "manifest blob $MD missing or corrupt"; return 1; }
  for d in $(jq -r '.config.digest, .layers[].digest' "$m"); do
    f=$ONSEN_ROOT/docker/registry/v2/blobs/sha256/${d:7:2}/${d#sha256:}/data
    [ "$(sha256_file "$f")" = "$d" ] || { echo "blob $d missing or corrupt"; return 1; }
    [ -f "$ONSEN_ROOT/docker/registry/v2/repositories/deploy/app/_layers/sha256/${d#sha256:}/link" ] ||
      { echo "no _layers link for $d"; return 1; }
  done
}
check "storage: manifest, config and every layer blob stored under their digests, with _layers links" blobs_ok

summary
