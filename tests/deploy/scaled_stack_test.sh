#!/usr/bin/env bash
# shellcheck disable=SC2317  # functions are called through check/deploy_on_exit, which shellcheck cannot follow
# The scaled-out stack (deploy/docker-compose.scaled.yml) under Docker Swarm, the way the
# walkthrough in deploy/README.md ("Scaled out") sets it up, with a PRIVATE dockerd (see
# docker_engine_test.sh, whose helpers this script sources) and no network beyond this machine:
#   - a throw-away Ceph RGW (tests/s3/start-ceph-rgw.sh) seen by the containers at an address on a
#     bridge of this test (RGW listens on loopback; a forwarder carries that address to it), and
#     the bucket made with a signed curl PUT;
#   - the images built FROM scratch: onsen:latest (scripts/stage-image.sh) and onsen-redis:latest
#     (scripts/stage-redis-image.sh, Debian's redis-server);
#   - `docker swarm init`, the three secrets (self-signed certificate, bcrypt htpasswd made by
#     `docker run onsen:latest htpasswd -Bbn`), `docker stack deploy -c` the compose file unchanged
#     (its variables set as the walkthrough sets them): 3 registry replicas + Redis;
#   - through the published port: docker login, push, pull, curl _catalog; requests landed on more
#     than one replica (service logs); every replica subscribed to Redis and lists the tags;
#     `docker kill` of one replica, then a push and a pull still work and Swarm starts a new one;
#     the password file swapped for a new secret (rolling update): the new user logs in, the old
#     one no longer; docker logout; then stack, secrets, swarm and Ceph removed (bridge, dockerd
#     on exit).
# The routing mesh (ingress) needs IPVS in the kernel and iptables NAT, which the private dockerd
# leaves alone (--iptables=false: the host's firewall is not the test's): when the published port
# does not answer, the reason is printed (skip line) and the clients go through a round-robin TCP
# balancer that connects from inside each replica's network namespace, as the mesh would, and
# skips a replica that is gone.
# Usage: bash scaled_stack_test.sh PATH-TO-ONSEN
set -euo pipefail
# The walkthrough's names (certificate, secrets), so its commands are the ones run here.
REGISTRY_NAME_OVERRIDE=${REGISTRY_NAME_OVERRIDE:-registry.onsen.lan}
# shellcheck source=tests/deploy/docker_engine_test.sh
source "$(dirname "${BASH_SOURCE[0]}")/docker_engine_test.sh"

T0=$(date +%s)
DK_TIMEOUT=${DK_TIMEOUT:-120}
deploy_init "$@"
docker_engine_install || abort "install docker.io, skopeo (apt)"
deploy_install_deps redis-server || abort "install redis-server (apt)"
COMPOSE=deploy/docker-compose.scaled.yml
[ -f "$REPO_ROOT/$COMPOSE" ] || abort "$COMPOSE exists"
STACK=registry SVC=registry_registry REPLICAS=3

# ================================================================ S3: Ceph RGW on a test bridge
echo "# S3: Ceph RGW, reached by the containers at an address of a bridge of this test"
BR=onsens3-$$
S3_ADDR=""
for ((i = 0; i < 20; i++)); do
  a=198.18.$((RANDOM % 254 + 1)).1    # RFC 2544 benchmarking range: no one's real network
  ip -4 -o addr show | grep -q -F " ${a%.1}." || { S3_ADDR=$a; break; }
done
[ -n "$S3_ADDR" ] || abort "a free 198.18.X.0/24 for the test bridge"
ip link add "$BR" type bridge || abort "ip link add $BR type bridge"
deploy_on_exit ip link del "$BR"
if ! { ip addr add "$S3_ADDR/24" dev "$BR" && ip link set "$BR" up; }; then abort "address $S3_ADDR on $BR"; fi

CEPH_DIR=$(tmpdir ceph)
deploy_on_exit env "CEPH_DIR=$CEPH_DIR" "$REPO_ROOT/tests/s3/stop-ceph-rgw.sh"
base=$((20000 + RANDOM % 400 * 100))
rc=0
ceph_env=$(CEPH_DIR=$CEPH_DIR RGW_PORT=$(free_port) CEPH_MON_PORT=$(free_port) CEPH_MON_PORT_V1=$(free_port) \
  CEPH_OSD_PORT_MIN=$base CEPH_OSD_PORT_MAX=$((base + 99)) CEPH_START_TIMEOUT=90 \
  timeout 300 "$REPO_ROOT/tests/s3/start-ceph-rgw.sh" 2>"$TMP_ROOT/ceph-start.log") || rc=$?
[ "$rc" -eq 0 ] || abort "tests/s3/start-ceph-rgw.sh (exit $rc)" "$(tail -n 20 "$TMP_ROOT/ceph-start.log")"
eval "$ceph_env"
RGW_PORT=${S3_ENDPOINT##*:}
forward_start "$S3_ADDR" "$RGW_PORT" 127.0.0.1 "$RGW_PORT" || abort "forwarder $S3_ADDR:$RGW_PORT -> RGW"
S3_URL=http://$S3_ADDR:$RGW_PORT
pass "Ceph RGW started ($(($(date +%s) - T0)) s into the test); containers reach it at $S3_URL"

# The walkthrough's bucket creation, as a user does it with curl (any S3 client works).
BUCKET=registry
code=$(curl -s -o /dev/null -w '%{http_code}' -m 30 -X PUT --aws-sigv4 "aws:amz:us-east-1:s3" \
  --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' \
  "$S3_URL/$BUCKET") || true
check_eq "curl --aws-sigv4 -X PUT $S3_URL/$BUCKET: the bucket exists" 200 "$code"

# ================================================================ engine, images
docker_engine_start || abort "private dockerd starts"
pass "private dockerd: $(dk version -f '{{.Server.Version}}' 2>&1)"
build_image() { # TAG STAGE-COMMAND...: stage a build context, docker build it
  local tag=$1 ctx; shift
  ctx=$(tmpdir "image-${tag%%:*}")
  "$@" "$ctx" >"$ctx.log" 2>&1 || { cat "$ctx.log"; return 1; }
  dk build -t "$tag" "$ctx" >>"$ctx.log" 2>&1 || { tail -n 20 "$ctx.log"; return 1; }
}
check "scripts/stage-image.sh + docker build -t onsen:latest" build_image onsen:latest "$REPO_ROOT/scripts/stage-image.sh" "$ONSEN_BIN"
check "scripts/stage-redis-image.sh + docker build -t onsen-redis:latest (FROM scratch, Debian's redis-server)" \
  build_image onsen-redis:latest "$REPO_ROOT/scripts/stage-redis-image.sh"
out=$(dk run --rm --network none onsen-redis:latest redis-server --version 2>&1) || true
check_contains "docker run onsen-redis:latest redis-server --version ($(dk image inspect -f '{{.Size}}' onsen-redis:latest |
  awk '{ printf "%.1f MB", $1 / 1e6 }'))" "Redis server v=" "$out"

# Two images to push: the first before a replica is killed, the second after.
for n in 1 2; do
  L=$(tmpdir "layout$n")
  make_image "$L" v1 --seed "scaled-stack-$n" --layers 3 --layer-size 300000 >/dev/null || abort "generate test image $n"
  make_docker_archive "$L" v1 "deploy/app$n:v1" "$TMP_ROOT/app$n.tar" || abort "docker-archive of test image $n"
  out=$(dk load -i "$TMP_ROOT/app$n.tar" 2>&1) || true
  check_contains "docker load -i app$n.tar" "Loaded image: deploy/app$n:v1" "$out"
done

# ================================================================ swarm, secrets, stack
echo "# swarm: secrets, docker stack deploy -c $COMPOSE"
SWARM_PORT=$(free_port)
out=$(dk swarm init --advertise-addr 127.0.0.1 --listen-addr "127.0.0.1:$SWARM_PORT" 2>&1) ||
  abort "docker swarm init --advertise-addr 127.0.0.1" "$out"
pass "docker swarm init"
# The containers reach this host (the test bridge's address) and nothing beyond it: no forwarding
# out of Swarm's gateway bridge while the test runs (dockerd has --iptables=false: no NAT either).
if iptables -w 10 -I FORWARD -i docker_gwbridge -j DROP 2>/dev/null; then
  deploy_on_exit iptables -w 10 -D FORWARD -i docker_gwbridge -j DROP
  pass "iptables: nothing forwarded from docker_gwbridge (the containers stay on this host)"
else
  skip "iptables: no forwarding from docker_gwbridge" "iptables -I FORWARD failed; without NAT the containers' packets get no answer from beyond this host anyway"
fi
# In a directory of its own, with the walkthrough's relative paths.
W=$(tmpdir walkthrough)
cd "$W"
make_tls certs "$REGISTRY_NAME" || abort "self-signed certificate certs/$REGISTRY_NAME.crt"
mkdir auth
CA=$W/certs/$REGISTRY_NAME.crt
dk run --rm --network none onsen:latest htpasswd -Bbn "$DEPLOY_USER" "$DEPLOY_PASS" >auth/htpasswd 2>"$TMP_ROOT/htpasswd.err" || true
check "docker run --rm onsen:latest htpasswd -Bbn USER PASS > auth/htpasswd (bcrypt)" htpasswd -vb auth/htpasswd "$DEPLOY_USER" "$DEPLOY_PASS"
check "docker secret create registry.onsen.lan.crt" dk secret create registry.onsen.lan.crt "certs/$REGISTRY_NAME.crt"
check "docker secret create registry.onsen.lan.key" dk secret create registry.onsen.lan.key "certs/$REGISTRY_NAME.key"
check "docker secret create registry.htpasswd" dk secret create registry.htpasswd auth/htpasswd

PUB=$(free_port)
cd "$REPO_ROOT"
rc=0
out=$(REGISTRY_PORT=$PUB REDIS_IMAGE=onsen-redis:latest S3_ENDPOINT=$S3_URL S3_BUCKET=$BUCKET S3_REGION=us-east-1 \
  S3_ACCESS_KEY=$AWS_ACCESS_KEY_ID S3_SECRET_KEY=$AWS_SECRET_ACCESS_KEY \
  dk stack deploy --resolve-image never -c "$COMPOSE" "$STACK" 2>&1) || rc=$?
[ "$rc" -eq 0 ] || abort "docker stack deploy -c $COMPOSE $STACK" "$out"
pass "docker stack deploy -c $COMPOSE $STACK (REGISTRY_PORT=$PUB)"

# running_tasks: the running replicas' container ids, one a line.
running_tasks() { dk ps -q --filter "label=com.docker.swarm.service.name=$SVC" --filter status=running 2>/dev/null; }
# replica_curl CID CURL-ARGS... PATH: curl from inside the replica's network namespace to its :5000.
replica_curl() {
  local cid=$1 pid; shift
  pid=$(dk inspect -f '{{.State.Pid}}' "$cid" 2>/dev/null) || return 1
  local path=${*: -1}
  nsenter -t "$pid" -n curl -s -m 10 --cacert "$CA" --resolve "$REGISTRY_NAME:5000:127.0.0.1" \
    "${@:1:$#-1}" "https://$REGISTRY_NAME:5000$path"
}
# wait_replicas N [EXCEPT-CID]: N running replicas (none of them EXCEPT-CID) each answering /v2/
# with 401, within 120 s; prints their ids.
wait_replicas() {
  local want=$1 except=${2:-} ids c ok i
  for ((i = 0; i < 240; i++)); do
    ids=$(running_tasks | grep -v -x -F -e "${except:-none}" || true)
    if [ "$(grep -c . <<<"$ids")" -eq "$want" ]; then
      ok=1
      for c in $ids; do
        [ "$(replica_curl "$c" -o /dev/null -w '%{http_code}' /v2/ 2>/dev/null)" = 401 ] || ok=0
      done
      [ "$ok" = 1 ] && { echo "$ids"; return 0; }
    fi
    sleep 0.5
  done
  dk service ps --no-trunc --format '{{.Name}} {{.CurrentState}}: {{.Error}}' "$SVC" >&2 || true
  dk service logs --tail 10 "$SVC" >&2 || true
  return 1
}
IDS=$(wait_replicas "$REPLICAS") || abort "$REPLICAS replicas of $SVC running, each answering /v2/ -> 401"
pass "$REPLICAS replicas running and answering TLS on :5000 ($(($(date +%s) - T0)) s into the test)"
# A replica counts once its healthcheck (`onsen probe` of /debug/ready, every 10 s) has passed.
for ((i = 0; i < 120; i++)); do
  ls_line=$(dk service ls --format '{{.Name}} {{.Replicas}}' 2>&1 | sort | tr '\n' ' ' | sed 's/ $//')
  [ "$ls_line" = "${STACK}_redis 1/1 $SVC $REPLICAS/$REPLICAS" ] && break
  sleep 0.5
done
check_eq "docker service ls: ${SVC} $REPLICAS/$REPLICAS (each healthy: onsen probe of /debug/ready), ${STACK}_redis 1/1" \
  "${STACK}_redis 1/1 $SVC $REPLICAS/$REPLICAS" "$ls_line"
check_eq "no placement constraint on $SVC" "null" \
  "$(dk service inspect -f '{{json .Spec.TaskTemplate.Placement.Constraints}}' "$SVC" 2>&1)"
# subscribed_replicas: how many distinct replicas logged their Redis subscription.
subscribed_replicas() {
  dk service logs "$SVC" 2>/dev/null | grep -F 'redis: subscribed to' | cut -d' ' -f1 | sort -u | grep -c . || true
}
# check_subscribed NAME N: N replicas subscribed within 20 s (what they logged about Redis if not).
check_subscribed() {
  local i n
  for ((i = 0; i < 40; i++)); do [ "$(subscribed_replicas)" -ge "$2" ] && break; sleep 0.5; done
  n=$(subscribed_replicas)
  if [ "$n" -eq "$2" ]; then pass "$1"; else
    fail "$1" "$n replicas subscribed, $2 expected" "$(dk service logs "$SVC" 2>&1 | grep -i redis | tail -n 4 | cut -c1-300)"; fi
}
check_subscribed "every replica subscribed to Redis at redis:6379 (docker service logs: 'redis: subscribed to')" "$REPLICAS"

# ================================================================ the published port
NSLIST=$TMP_ROOT/replica-netns
write_nslist() { # the running replicas' network namespaces, for the balancer
  local c tmp=$NSLIST.tmp
  : >"$tmp"
  for c in $(running_tasks); do echo "/proc/$(dk inspect -f '{{.State.Pid}}' "$c")/ns/net" >>"$tmp"; done
  mv "$tmp" "$NSLIST"
}
# Without the mesh, a round-robin balancer over the replicas' namespaces stands in.
mesh_target scaled "$PUB" "$CA" 127.0.0.1 5000 "@$NSLIST" || write_nslist
# dockerd treats 127.0.0.0/8 as insecure (no certificate check): the clients use [::1].
FPORT=$(free_port)
forward_start ::1 "$FPORT" "${FWD[@]}" || abort "forwarder [::1]:$FPORT -> ${FWD[*]}"
HP=$REGISTRY_NAME:$FPORT
docker_trust_ca "$HP" "$CA"
CURL=(curl -s -m 30 --cacert "$CA" --resolve "$HP:[::1]")

# ================================================================ clients
echo "# clients through https://$HP"
rc=0; out=$(printf '%s' "$DEPLOY_PASS" | dk login "$HP" -u "$DEPLOY_USER" --password-stdin 2>&1) || rc=$?
check_contains "docker login $HP (exit $rc)" "Login Succeeded" "$out"
# push_ok N TAG: docker push deploy/appN:TAG through the balancer; sets DIGEST.
push_ok() {
  local ref=$HP/deploy/app$1:$2 rc=0 out
  dk tag "deploy/app$1:v1" "$ref" >/dev/null 2>&1 || true
  out=$(dk push "$ref" 2>&1) || rc=$?
  DIGEST=$(sed -n 's/^.*: digest: \(sha256:[0-9a-f]\{64\}\) size: [0-9]*$/\1/p' <<<"$out")
  if [ "$rc" -eq 0 ] && [ -n "$DIGEST" ]; then pass "docker push $ref ($DIGEST)"; else fail "docker push $ref" "exit $rc" "$out"; fi
}
# pull_ok N TAG DIGEST: the image removed from the engine (every tag: its layers are fetched
# again), pulled back with the same digest and image ID, tagged deploy/appN:v1 again.
pull_ok() {
  local ref=$HP/deploy/app$1:$2 src=deploy/app$1:v1 rc=0 out id
  id=$(dk image inspect -f '{{.Id}}' "$src" 2>&1) || true
  dk rmi -f "$id" >/dev/null 2>&1 || true
  dk image inspect "$id" >/dev/null 2>&1 && fail "image $id removed from the engine before the pull"
  out=$(dk pull "$ref" 2>&1) || rc=$?
  if [ "$rc" -eq 0 ] && grep -q "Digest: $3" <<<"$out" && [ "$(dk image inspect -f '{{.Id}}' "$ref" 2>&1)" = "$id" ]; then
    pass "docker pull $ref (Digest: $3, the pushed image)"
  else
    fail "docker pull $ref: the pushed image" "exit $rc, image $(dk image inspect -f '{{.Id}}' "$ref" 2>&1), pushed $id" "$out"
  fi
  dk tag "$ref" "$src" >/dev/null 2>&1 || true
}
push_ok 1 v1; D1=$DIGEST
pull_ok 1 v1 "$D1"
out=$(curl -su "$DEPLOY_USER:$DEPLOY_PASS" --cacert "$CA" --resolve "$HP:[::1]" -m 30 "https://$HP/v2/_catalog" 2>&1) || true
check_eq "curl -su user:pass https://$HP/v2/_catalog" '{"repositories":["deploy/app1"]}' "$(jq -c . <<<"$out" 2>&1)"
code=$("${CURL[@]}" -o /dev/null -w '%{http_code}' "https://$HP/v2/_catalog") || true
check_eq "_catalog without credentials -> 401" 401 "$code"

# served_by: how many distinct replicas logged a /v2/deploy/ request (service logs: one
# "registry_registry.N.<task>@<node> | ..." prefix a task).
served_by() { dk service logs "$SVC" 2>/dev/null | grep -F '"' | grep -F ' /v2/deploy/' | cut -d' ' -f1 | sort -u | grep -c . || true; }
n=$(served_by)
if [ "$n" -gt 1 ]; then pass "the push and pull were served by $n replicas (docker service logs)"; else
  fail "the push and pull were served by more than one replica" "$n" "$(dk service logs "$SVC" 2>&1 | grep -F ' /v2/deploy/' | tail -n 5)"; fi
n=$(dk service logs "$SVC" 2>/dev/null | grep -c -E '"GET /v2/deploy/app1/blobs/sha256:[0-9a-f]{64} HTTP/1\.[01]" 307 ' || true)
if [ "$n" -gt 0 ]; then pass "blob GETs answered 307 to $S3_URL, and dockerd followed ($n in the service logs)"; else
  fail "blob GETs answered 307 (presigned URLs on the S3 endpoint)" "$(dk service logs "$SVC" 2>&1 | grep -F '/blobs/sha256:' | tail -n 3)"; fi
key=registry/docker/registry/v2/repositories/deploy/app1/_manifests/tags/v1/current/link
out=$(curl -s -m 30 --aws-sigv4 "aws:amz:us-east-1:s3" --user "$AWS_ACCESS_KEY_ID:$AWS_SECRET_ACCESS_KEY" \
  -H 'x-amz-content-sha256: UNSIGNED-PAYLOAD' "$S3_URL/$BUCKET/$key" 2>&1) || true
check_eq "the bucket holds the tag, under rootdirectory /registry in Distribution's layout" "$D1" "$out"
# Every replica answers for what any of them stored (the tags listing included).
for c in $IDS; do
  out=$(replica_curl "$c" -u "$DEPLOY_USER:$DEPLOY_PASS" /v2/deploy/app1/tags/list 2>&1) || true
  check_eq "replica ${c:0:12}: tags/list of deploy/app1" '["v1"]' "$(jq -c .tags <<<"$out" 2>&1)"
done

# ---------------------------------------------------------------- one replica killed
KILLED=$(head -n1 <<<"$IDS")
KILLED_PID=$(dk inspect -f '{{.State.Pid}}' "$KILLED" 2>/dev/null) || KILLED_PID=none
check "docker kill ${KILLED:0:12} (one replica)" dk kill "$KILLED"
push_ok 2 v1; D2=$DIGEST
pull_ok 2 v1 "$D2"
pull_ok 1 v1 "$D1"
if [ "${FWD[2]:-}" = "@$NSLIST" ]; then
  n=$(grep -c -F "skip /proc/$KILLED_PID/" "$TMP_ROOT/forward-$FPORT.log" || true)
  if [ "$n" -gt 0 ]; then pass "the balancer found the killed replica gone ($n connections went to the others)"; else
    fail "the balancer met the killed replica" "$(tail -n 5 "$TMP_ROOT/forward-$FPORT.log")"; fi
fi
IDS=$(wait_replicas "$REPLICAS" "$KILLED") || fail "Swarm starts a new replica in place of the killed one (3 running)"
if [ -n "$IDS" ]; then
  pass "Swarm restarted the killed replica: $REPLICAS running again ($(dk service ps -q "$SVC" 2>/dev/null | grep -c .) tasks in the service's history)"
  check_subscribed "the new replica subscribed to Redis too" $((REPLICAS + 1))
  [ "${FWD[2]:-}" = "@$NSLIST" ] && write_nslist
  for c in $IDS; do
    out=$(replica_curl "$c" -u "$DEPLOY_USER:$DEPLOY_PASS" /v2/_catalog 2>&1) || true
    check_eq "replica ${c:0:12}: _catalog" '["deploy/app1","deploy/app2"]' "$(jq -c .repositories <<<"$out" 2>&1)"
  done
  push_ok 1 v2
  # A tag added through one replica is listed by every replica within 1 s (Redis carries the
  # change; without it the bound is 1 s plus a walk of the bucket).
  for c in $IDS; do
    t1=$(date +%s%N) out=""
    while [ $(($(date +%s%N) - t1)) -lt 1000000000 ]; do
      out=$(replica_curl "$c" -u "$DEPLOY_USER:$DEPLOY_PASS" /v2/deploy/app1/tags/list 2>&1) || true
      [ "$(jq -c .tags <<<"$out" 2>&1)" = '["v1","v2"]' ] && break
      sleep 0.05
    done
    check_eq "replica ${c:0:12}: tags/list of deploy/app1 lists v2 within 1 s (after $((($(date +%s%N) - t1) / 1000000)) ms)" \
      '["v1","v2"]' "$(jq -c .tags <<<"$out" 2>&1)"
  done
  pull_ok 2 v1 "$D2"
fi

# ---------------------------------------------------------------- users changed: a new secret
# Secrets never change: the walkthrough's way to change users is a new secret swapped in under
# the same target (a rolling update, one replica at a time).
USER2=carol PASS2=Carol-Pa55word
dk run --rm --network none onsen:latest htpasswd -Bbn "$USER2" "$PASS2" >"$W/auth/htpasswd.2" 2>&1 || true
check "docker secret create registry.htpasswd.2 (only $USER2)" dk secret create registry.htpasswd.2 "$W/auth/htpasswd.2"
rc=0
out=$(dk service update --secret-rm registry.htpasswd \
  --secret-add source=registry.htpasswd.2,target=registry.htpasswd "$SVC" 2>&1) || rc=$?
check_eq "docker service update --secret-rm registry.htpasswd --secret-add source=registry.htpasswd.2,target=registry.htpasswd" \
  0 "$rc"
if IDS=$(wait_replicas "$REPLICAS"); then
  pass "after the rolling update: $REPLICAS replicas answering again"
  [ "${FWD[2]:-}" = "@$NSLIST" ] && write_nslist
else
  fail "after the rolling update: $REPLICAS replicas answering again"
fi
rc=0; out=$(printf '%s' "$PASS2" | dk login "$HP" -u "$USER2" --password-stdin 2>&1) || rc=$?
check_contains "docker login as $USER2, the new secret's user (exit $rc)" "Login Succeeded" "$out"
rc=0; out=$(printf '%s' "$DEPLOY_PASS" | dk login "$HP" -u "$DEPLOY_USER" --password-stdin 2>&1) || rc=$?
if [ "$rc" -ne 0 ] && grep -qi unauthorized <<<"$out"; then pass "docker login as $DEPLOY_USER, no longer in the secret: unauthorized"; else
  fail "docker login as $DEPLOY_USER, no longer in the secret: unauthorized" "exit $rc" "$out"; fi
printf '%s' "$PASS2" | dk login "$HP" -u "$USER2" --password-stdin >/dev/null 2>&1 || true
pull_ok 1 v2 "$D1"

rc=0; out=$(dk logout "$HP" 2>&1) || rc=$?
check_contains "docker logout $HP (exit $rc)" "Removing login credentials" "$out"
dk rmi "$HP/deploy/app1:v1" deploy/app1:v1 >/dev/null 2>&1 || true
rc=0; out=$(dk pull "$HP/deploy/app1:v1" 2>&1) || rc=$?
if [ "$rc" -ne 0 ] && grep -qiE 'no basic auth credentials|unauthorized' <<<"$out"; then
  pass "docker pull after logout refused: $(tail -n1 <<<"$out" | cut -c1-120)"
else
  fail "docker pull after logout refused" "exit $rc" "$out"
fi

# ================================================================ removal
echo "# removal"
check "docker stack rm $STACK" dk stack rm "$STACK"
for ((i = 0; i < 120; i++)); do
  [ -z "$(dk ps -aq --filter "label=com.docker.stack.namespace=$STACK" 2>/dev/null)" ] && break
  sleep 0.5
done
check_eq "no container of the stack left" "" "$(dk ps -aq --filter "label=com.docker.stack.namespace=$STACK" 2>&1)"
check "docker secret rm (the four secrets)" dk secret rm registry.onsen.lan.crt registry.onsen.lan.key registry.htpasswd registry.htpasswd.2
check_eq "no secret left" "" "$(dk secret ls -q 2>&1)"
check "docker swarm leave --force" dk swarm leave --force
ceph_pids=$(cat "$CEPH_DIR"/run/*.pid 2>/dev/null | tr '\n' ' ')
check "tests/s3/stop-ceph-rgw.sh (this test's Ceph)" env "CEPH_DIR=$CEPH_DIR" "$REPO_ROOT/tests/s3/stop-ceph-rgw.sh"
# A daemon left: a live (not zombie) process whose command line names this test's Ceph.
ceph_alive() {
  local p
  for p in $ceph_pids; do
    case $(awk '{ print $3 }' "/proc/$p/stat" 2>/dev/null) in ''|Z|X) continue ;; esac
    tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | grep -q -F "$CEPH_DIR/" && echo "$p"
  done
  true
}
check_eq "no Ceph daemon of this test left (pids: $ceph_pids)" "" "$(ceph_alive)"
pass "run time: $(($(date +%s) - T0)) s (dockerd and the bridge go on exit)"

summary
