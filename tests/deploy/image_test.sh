#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions are called through check/deploy_on_exit, which shellcheck cannot follow
# The Onsen container image and the classic service definition (deploy/docker-compose.yml), with a
# PRIVATE dockerd (see docker_engine_test.sh, whose helpers this script sources):
#   1. scripts/stage-image.sh + `docker build` (FROM scratch): entrypoint, cmd, volume, port, user,
#      one layer, no shell; the image's own default config (Distribution's) answers on :5000.
#   2. Swarm: `docker swarm init`, node label, `docker secret create`, `docker stack deploy -c` a
#      copy of deploy/docker-compose.yml whose only changes are the two bind-mount sources and the
#      published port; the debug listener answers and the compose file's healthcheck (`onsen probe`
#      of /debug/ready) reports the task healthy; then the full docker login/push/pull/logout
#      sequence against the task.
#      The routing mesh (ingress) needs IPVS and iptables NAT: when the published port does not
#      answer, the reason is printed (skip line) and the client reaches the task's own loopback
#      through a forwarder that connects from inside the task's network namespace.
#   3. `docker run --network host` with the environment read from deploy/docker-compose.yml (only
#      the ports of REGISTRY_HTTP_ADDR and _DEBUG_ADDR changed: the host network is shared), the same bind mounts and
#      the secrets as read-only files under /run/secrets; the same client sequence; SIGTERM stop and
#      restart on the same data.
# Usage: bash image_test.sh PATH-TO-ONSEN
set -euo pipefail
# shellcheck source=tests/deploy/docker_engine_test.sh
source "$(dirname "${BASH_SOURCE[0]}")/docker_engine_test.sh"

deploy_init "$@"
docker_engine_install || abort "install docker.io, skopeo (apt)"
COMPOSE=$REPO_ROOT/deploy/docker-compose.yml
[ -f "$COMPOSE" ] || abort "deploy/docker-compose.yml exists"
# The service's environment, as the compose file lists it.
mapfile -t CLASSIC_ENV < <(sed -n 's/^ *- \(REGISTRY_[A-Z_]*=.*\)$/\1/p' "$COMPOSE")
check_eq "deploy/docker-compose.yml lists the six classic REGISTRY_* variables and the debug listener's" \
  "REGISTRY_AUTH REGISTRY_AUTH_HTPASSWD_PATH REGISTRY_AUTH_HTPASSWD_REALM REGISTRY_HTTP_ADDR REGISTRY_HTTP_DEBUG_ADDR REGISTRY_HTTP_DEBUG_PROMETHEUS_ENABLED REGISTRY_HTTP_TLS_CERTIFICATE REGISTRY_HTTP_TLS_KEY" \
  "$(printf '%s\n' "${CLASSIC_ENV[@]}" | cut -d= -f1 | sort | tr '\n' ' ' | sed 's/ $//')"

docker_engine_start || abort "private dockerd starts"
pass "private dockerd: $(dk version -f '{{.Server.Version}}' 2>&1), storage driver $(dk info -f '{{.Driver}}' 2>&1)"

# ================================================================ 1. the image
echo "# 1. image"
CTX=$(tmpdir image-context)
check "scripts/stage-image.sh ONSEN CONTEXT (binary, ldd libraries, loader, /etc, config.yml)" \
  "$REPO_ROOT/scripts/stage-image.sh" "$ONSEN_BIN" "$CTX"
rc=0; out=$(dk build -t onsen:latest "$CTX" 2>&1) || rc=$?
if [ "$rc" -eq 0 ]; then pass "docker build -t onsen:latest CONTEXT (FROM scratch: nothing pulled)"; else abort "docker build -t onsen:latest CONTEXT" "$out"; fi
inspect() { dk image inspect -f "$1" onsen:latest 2>&1; }
# still_running LABEL CONTAINER: a check that the server did not die (exit status and log if it did).
still_running() {
  local st
  st=$(dk inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$2" 2>&1) || true
  if [ "${st%% *}" = running ]; then
    pass "$1: the onsen container is still running"
  else
    fail "$1: the onsen container is still running" "state/exit status: $st" "$(dk logs --tail 15 "$2" 2>&1)"
  fi
}
check_eq "image: Entrypoint" '["/usr/bin/onsen"]' "$(inspect '{{json .Config.Entrypoint}}')"
check_eq "image: Cmd" '["serve","/etc/docker/registry/config.yml"]' "$(inspect '{{json .Config.Cmd}}')"
check_eq "image: Volumes" '{"/var/lib/registry":{}}' "$(inspect '{{json .Config.Volumes}}')"
check_eq "image: ExposedPorts" '{"5000/tcp":{}}' "$(inspect '{{json .Config.ExposedPorts}}')"
check_eq "image: runs as root (no User), like registry:2" "" "$(inspect '{{.Config.User}}')"
check_eq "image: a single layer" 1 "$(inspect '{{len .RootFS.Layers}}')"
SIZE=$(inspect '{{.Size}}')
pass "image size: $SIZE bytes ($(awk -v s="$SIZE" 'BEGIN { printf "%.1f MB", s / 1e6 }'))"

cid=$(dk create --network none onsen:latest 2>&1) || abort "docker create onsen:latest" "$cid"
dk export "$cid" 2>/dev/null | tar -t 2>/dev/null | sed 's#/$##' | sort >"$TMP_ROOT/image-files.txt" || true
dk rm "$cid" >/dev/null 2>&1 || true
files_ok() {
  local f
  for f in usr/bin/onsen etc/docker/registry/config.yml etc/passwd etc/group var/lib/registry tmp \
    lib lib64 usr/lib64/ld-linux-x86-64.so.2 usr/lib/x86_64-linux-gnu/libc.so.6; do
    grep -q -F -x "$f" "$TMP_ROOT/image-files.txt" || { echo "missing: $f"; return 1; }
  done
  if grep -E '(^|/)(sh|bash|dash|busybox|apt|apt-get|dpkg|gcc|g\+\+|cc|c\+\+|cc1plus|ld|as|make)$' "$TMP_ROOT/image-files.txt"; then
    echo "the image holds a shell, package manager or compiler (above)"; return 1
  fi
  [ "$(grep -c '^usr/bin/' "$TMP_ROOT/image-files.txt")" = 1 ] || { grep '^usr/bin/' "$TMP_ROOT/image-files.txt"; return 1; }
}
check "image files: onsen, loader, config.yml, /var/lib/registry, /tmp; no shell, no package manager, no compiler" files_ok
out=$(dk run --rm --network none onsen:latest --version 2>&1) || true
check_contains "docker run onsen:latest --version (the staged libraries are complete)" "onsen " "$out"
check_fail "no /bin/sh in the image" dk run --rm --network none --entrypoint /bin/sh onsen:latest -c true
# The guides' `docker run --entrypoint htpasswd registry:2 -Bbn USER PASS`, with the image's own.
dk run --rm --network none onsen:latest htpasswd -Bbn "$DEPLOY_USER" "$DEPLOY_PASS" >"$TMP_ROOT/image-htpasswd" 2>&1 || true
check "docker run onsen:latest htpasswd -Bbn USER PASS: a line Apache's htpasswd -vb accepts" \
  htpasswd -vb "$TMP_ROOT/image-htpasswd" "$DEPLOY_USER" "$DEPLOY_PASS"
# registry:2's bare configuration path as the command (`command: ["/etc/my.yml"]`).
printf 'version: 0.1\nstorage: inmemory\nhttp:\n  addr: :5001\n' >"$TMP_ROOT/my.yml"
cid=$(dk run -d --network none -v "$TMP_ROOT/my.yml:/etc/my.yml:ro" onsen:latest /etc/my.yml 2>&1) || true
pid=$(dk inspect -f '{{.State.Pid}}' "$cid" 2>/dev/null) || pid=0
code=000
for ((i = 0; i < 100; i++)); do
  code=$(nsenter -t "$pid" -n curl -s -m 2 -o /dev/null -w '%{http_code}' http://127.0.0.1:5001/v2/ 2>/dev/null) || true
  [ "$code" = 200 ] && break
  sleep 0.1
done
check_eq "docker run onsen:latest /etc/my.yml serves that file (:5001 -> 200)" 200 "$code"
dk rm -f -v "$cid" >/dev/null 2>&1 || true

# The image's default configuration (Distribution's config.yml), with no environment at all.
cid=$(dk run -d --network none onsen:latest 2>&1) || abort "docker run -d onsen:latest (default config)" "$cid"
pid=$(dk inspect -f '{{.State.Pid}}' "$cid" 2>/dev/null) || pid=0
R=$(tmpdir default-config)
code=000
for ((i = 0; i < 100; i++)); do
  code=$(nsenter -t "$pid" -n curl -s -m 2 -D "$R/h" -o /dev/null -w '%{http_code}' http://127.0.0.1:5000/v2/ 2>/dev/null) || true
  [ "$code" = 200 ] && break
  sleep 0.1
done
check_eq "default config (no env): GET http://127.0.0.1:5000/v2/ inside the container -> 200" 200 "$code"
check_contains "default config: X-Content-Type-Options: nosniff (http.headers)" "X-Content-Type-Options: nosniff" "$(tr -d '\r' <"$R/h" 2>/dev/null)"
check_eq "default config: an anonymous volume on /var/lib/registry" "volume:/var/lib/registry" \
  "$(dk inspect -f '{{range .Mounts}}{{.Type}}:{{.Destination}} {{end}}' "$cid" 2>&1 | sed 's/ $//')"
t0=$(date +%s)
dk stop -t 10 "$cid" >/dev/null 2>&1 || true
t1=$(date +%s)
check_eq "docker stop: onsen (PID 1) exits on SIGTERM with status 0, before the 10 s kill" "0 fast" \
  "$(dk inspect -f '{{.State.ExitCode}}' "$cid" 2>&1) $([ $((t1 - t0)) -lt 9 ] && echo fast || echo "slow ($((t1 - t0)) s)")"
dk rm -v "$cid" >/dev/null 2>&1 || true

# The test image every client sequence pushes.
L=$(tmpdir layout)
make_image "$L" v1 --seed image-test --layers 3 --layer-size 300000 >/dev/null || abort "generate the test image"
make_docker_archive "$L" v1 deploy/app:v1 "$TMP_ROOT/app.tar" || abort "skopeo copy oci:LAYOUT:v1 docker-archive:app.tar:deploy/app:v1"
out=$(dk load -i "$TMP_ROOT/app.tar" 2>&1) || true
check_contains "docker load -i app.tar" "Loaded image: deploy/app:v1" "$out"

# ================================================================ 2. swarm
echo "# 2. swarm: docker stack deploy -c deploy/docker-compose.yml"
SW=$(tmpdir swarm)
mkdir -p "$SW/data" "$SW/auth"
make_tls "$SW/certs" "$REGISTRY_NAME" || abort "make the TLS certificate"
make_htpasswd "$SW/auth/htpasswd" "$DEPLOY_USER" "$DEPLOY_PASS"
SWARM_PORT=$(free_port)
rc=0; out=$(dk swarm init --advertise-addr 127.0.0.1 --listen-addr "127.0.0.1:$SWARM_PORT" 2>&1) || rc=$?
if [ "$rc" -ne 0 ]; then
  skip "swarm (docker swarm init --advertise-addr 127.0.0.1 failed; docker run below covers the service)" \
    "$(tr '\n' ' ' <<<"$out" | cut -c1-300)"
else
  pass "docker swarm init --advertise-addr 127.0.0.1"
  node=$(dk node ls -q 2>/dev/null | head -n1)
  check "docker node update --label-add registry=true" dk node update --label-add registry=true "$node"
  check "docker secret create registry.onsen.lan.crt" dk secret create registry.onsen.lan.crt "$SW/certs/$REGISTRY_NAME.crt"
  check "docker secret create registry.onsen.lan.key" dk secret create registry.onsen.lan.key "$SW/certs/$REGISTRY_NAME.key"
  PUB=$(free_port)
  sed -e "s#source: /var/lib/registry,#source: $SW/data,#" \
    -e "s#source: /srv/docker/onsen-registry/auth,#source: $SW/auth,#" \
    -e "s#\"5000:5000\"#\"$PUB:5000\"#" "$COMPOSE" >"$SW/stack.yml"
  check_eq "stack.yml = deploy/docker-compose.yml but for the 2 bind sources and the published port" 3 \
    "$(diff "$COMPOSE" "$SW/stack.yml" | grep -c '^>' || true)"
  rc=0; out=$(dk stack deploy --resolve-image never -c "$SW/stack.yml" onsen 2>&1) || rc=$?
  if [ "$rc" -eq 0 ]; then pass "docker stack deploy -c stack.yml onsen"; else fail "docker stack deploy -c stack.yml onsen" "$out"; fi
  cid=""
  for ((i = 0; i < 240; i++)); do
    cid=$(dk ps -q --filter label=com.docker.swarm.service.name=onsen_registry --filter status=running 2>/dev/null | head -n1) || cid=""
    [ -n "$cid" ] && break
    sleep 0.25
  done
  if [ -z "$cid" ]; then
    fail "swarm: the onsen_registry task runs" \
      "$(dk service ps --no-trunc --format '{{.CurrentState}}: {{.Error}}' onsen_registry 2>&1 | head -n 3)"
  else
    pass "swarm: the onsen_registry task runs (placement constraint node.labels.registry == true met)"
    pid=$(dk inspect -f '{{.State.Pid}}' "$cid")
    env_ok() {
      local envs e
      envs=$(dk inspect -f '{{range .Config.Env}}{{println .}}{{end}}' "$cid") || return 1
      for e in "${CLASSIC_ENV[@]}"; do grep -q -F -x -- "$e" <<<"$envs" || { echo "missing: $e"; return 1; }; done
    }
    check "swarm: the task has the variables exactly as the compose file writes them" env_ok
    check "swarm: secret /run/secrets/registry.onsen.lan.crt is the certificate" \
      cmp "/proc/$pid/root/run/secrets/registry.onsen.lan.crt" "$SW/certs/$REGISTRY_NAME.crt"
    check_eq "swarm: /auth is a read-only bind mount" "ro" \
      "$(awk '$5 == "/auth" { split($6, o, ","); print o[1] }' "/proc/$pid/mountinfo")"
    check_eq "swarm: /var/lib/registry is bind-mounted" "1" \
      "$(awk '$5 == "/var/lib/registry"' "/proc/$pid/mountinfo" | wc -l | tr -d ' ')"
    code=000
    for ((i = 0; i < 100; i++)); do
      code=$(nsenter -t "$pid" -n curl -s -o /dev/null -m 2 -w '%{http_code}' --cacert "$SW/certs/$REGISTRY_NAME.crt" \
        --resolve "$REGISTRY_NAME:5000:127.0.0.1" "https://$REGISTRY_NAME:5000/v2/" 2>/dev/null) || true
      [ "$code" = 401 ] && break
      sleep 0.1
    done
    check_eq "swarm: the task serves TLS with the secret's certificate on 0.0.0.0:5000 (/v2/ -> 401)" 401 "$code"
    check_eq "swarm: the debug listener answers /debug/health in the task (0.0.0.0:5001)" '{}' \
      "$(nsenter -t "$pid" -n curl -s -m 5 http://127.0.0.1:5001/debug/health 2>&1)"
    # The compose file's healthcheck: `onsen probe` of /debug/ready, in an image without shell.
    health=""
    for ((i = 0; i < 240; i++)); do
      health=$(dk inspect -f '{{.State.Health.Status}}' "$cid" 2>/dev/null) || health=""
      [ "$health" = healthy ] && break
      sleep 0.25
    done
    [ "$health" = healthy ] ||
      health="$health $(dk inspect -f '{{json .State.Health.Log}}' "$cid" 2>/dev/null | cut -c1-300)"
    check_eq "swarm: the healthcheck (onsen probe .../debug/ready) reports the task healthy" healthy \
      "$health"
    mesh_target swarm "$PUB" "$SW/certs/$REGISTRY_NAME.crt" 127.0.0.1 5000 "/proc/$pid/ns/net" || true
    FPORT=$(free_port)
    if forward_start ::1 "$FPORT" "${FWD[@]}"; then
      docker_client_suite swarm "$REGISTRY_NAME:$FPORT" "$SW/certs/$REGISTRY_NAME.crt" deploy/app:v1 deploy/app
      still_running swarm "$cid"
      check "swarm: pushed data is in the bind-mounted directory (Distribution's layout)" \
        test -f "$SW/data/docker/registry/v2/repositories/deploy/app/_manifests/tags/v1/current/link"
    else
      fail "swarm: forwarder [::1]:$FPORT -> the task"
    fi
  fi
  check "docker stack rm onsen" dk stack rm onsen
  for ((i = 0; i < 120; i++)); do
    [ -z "$(dk ps -aq --filter label=com.docker.swarm.service.name=onsen_registry 2>/dev/null)" ] && break
    sleep 0.25
  done
  check_eq "swarm: the task is gone after docker stack rm" "" \
    "$(dk ps -aq --filter label=com.docker.swarm.service.name=onsen_registry 2>&1)"
  dk secret rm registry.onsen.lan.crt registry.onsen.lan.key >/dev/null 2>&1 || true
  rc=0; out=$(dk swarm leave --force 2>&1) || rc=$?
  check_eq "docker swarm leave --force" "0" "$rc"
fi

# ================================================================ 3. docker run
echo "# 3. docker run --network host: the compose file's environment, mounts, secrets as files"
RN=$(tmpdir run)
mkdir -p "$RN/data" "$RN/auth"
make_tls "$RN/certs" "$REGISTRY_NAME" || abort "make the TLS certificate"
make_htpasswd "$RN/auth/htpasswd" "$DEPLOY_USER" "$DEPLOY_PASS"
RPORT=$(free_port)
RUN=(--network host)
for e in "${CLASSIC_ENV[@]}"; do
  case $e in
    REGISTRY_HTTP_ADDR=*) e="REGISTRY_HTTP_ADDR=0.0.0.0:$RPORT" ;;
    REGISTRY_HTTP_DEBUG_ADDR=*) e="REGISTRY_HTTP_DEBUG_ADDR=127.0.0.1:$(free_port)" ;;  # host network
  esac
  RUN+=(-e "$e")
done
RUN+=(--mount "type=bind,source=$RN/data,target=/var/lib/registry"
  --mount "type=bind,source=$RN/auth,target=/auth,readonly"
  --mount "type=bind,source=$RN/certs/$REGISTRY_NAME.crt,target=/run/secrets/registry.onsen.lan.crt,readonly"
  --mount "type=bind,source=$RN/certs/$REGISTRY_NAME.key,target=/run/secrets/registry.onsen.lan.key,readonly")
run_classic() {
  local cid pid
  cid=$(dk run -d --name onsen-classic "${RUN[@]}" onsen:latest 2>&1) || { echo "$cid"; return 1; }
  pid=$(dk inspect -f '{{.State.Pid}}' "$cid") || return 1
  wait_http "https://$REGISTRY_NAME:$RPORT/v2/" "$pid" 30 --cacert "$RN/certs/$REGISTRY_NAME.crt" \
    --resolve "$REGISTRY_NAME:$RPORT:127.0.0.1" || { dk logs "$cid" 2>&1 | tail -n 20; return 1; }
}
out=$(run_classic 2>&1) || true
check_eq "docker run -d --network host (compose environment, bind mounts, secrets as files): /v2/ -> 401" 401 "$out"
# REGISTRY_HTTP_ADDR=0.0.0.0:PORT listens on IPv4 and IPv6, as registry:2 does, so the Docker
# engine (which resolves registry.test to ::1: it treats 127.0.0.0/8 as insecure) reaches the
# container directly, with no forwarder.
out=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$RN/certs/$REGISTRY_NAME.crt" -m 30 \
  --resolve "$REGISTRY_NAME:$RPORT:[::1]" "https://$REGISTRY_NAME:$RPORT/v2/" 2>&1) || true
check_eq "run: 0.0.0.0:$RPORT also answers on [::1] (dual-stack): /v2/ -> 401" 401 "$out"
docker_client_suite run "$REGISTRY_NAME:$RPORT" "$RN/certs/$REGISTRY_NAME.crt" deploy/app:v1 deploy/app
still_running run onsen-classic
t0=$(date +%s)
dk stop -t 10 onsen-classic >/dev/null 2>&1 || true
t1=$(date +%s)
check_eq "run: docker stop -> exit status 0 on SIGTERM, before the 10 s kill" "0 fast" \
  "$(dk inspect -f '{{.State.ExitCode}}' onsen-classic 2>&1) $([ $((t1 - t0)) -lt 9 ] && echo fast || echo "slow ($((t1 - t0)) s)")"
dk rm -v onsen-classic >/dev/null 2>&1 || true
out=$(run_classic 2>&1) || true
check_eq "run: a new container on the same bind mounts starts (/v2/ -> 401)" 401 "$out"
out=$(curl -su "$DEPLOY_USER:$DEPLOY_PASS" --cacert "$RN/certs/$REGISTRY_NAME.crt" -m 30 \
  --resolve "$REGISTRY_NAME:$RPORT:127.0.0.1" "https://$REGISTRY_NAME:$RPORT/v2/deploy/app/tags/list" 2>&1) || true
check_eq "run: the images pushed before are still there (tags/list)" '["v1","v2"]' "$(jq -c .tags <<<"$out" 2>&1)"
still_running run-again onsen-classic

summary
