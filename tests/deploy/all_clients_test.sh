#!/usr/bin/env bash
# Issue 9's acceptance test: the seed's deployment (the six REGISTRY_* variables, TLS, htpasswd)
# and every real client — curl, skopeo, podman, the Docker engine, containerd's ctr — against ONE
# Onsen server, all from one address (127.0.0.1; the Docker engine reaches it through a forwarder
# on [::1], so Onsen sees 127.0.0.1 too), as several jobs on one CI runner or users behind one NAT
# do. First every client tries a wrong password for the same user (each its own, so every one is a
# new failure on record); each must report an authentication error, never 429 Too Many Requests.
# Then each succeeds with the right password. Usage: bash all_clients_test.sh PATH-TO-ONSEN
set -euo pipefail
# The private Docker engine (its own containerd, which ctr uses too) and its helpers.
# shellcheck source=tests/deploy/docker_engine_test.sh
source "$(dirname "${BASH_SOURCE[0]}")/docker_engine_test.sh"
deploy_init "$@"
docker_engine_install || abort "install docker.io, skopeo (apt)"
deploy_install_deps podman containerd || abort "install podman, containerd (apt)"

W=$(tmpdir onsen)
PORT=$(free_port)
start_onsen_classic "$ONSEN_BIN" "$W" "$PORT" || abort "onsen starts (env-only, TLS + htpasswd)"
HP=$ONSEN_HOSTPORT
forward_start ::1 "$PORT" 127.0.0.1 "$PORT" || abort "forwarder [::1]:$PORT -> 127.0.0.1:$PORT"
docker_engine_start || abort "private dockerd starts"
docker_trust_ca "$HP" "$ONSEN_CA"

E=$(tmpdir clients)
L=$(tmpdir layout)
make_image "$L" v1 --seed all-clients >/dev/null || abort "generate the test image"
D1=$(oci_index_digest "$L" v1)
IMG=$HP/deploy/all-clients

# skopeo: private policy, registries.conf and auth file; nothing from /etc/containers or $HOME.
mkdir -p "$E/sk-home" "$E/sk-run" "$E/sk-certs" "$E/registries.d"
chmod 700 "$E/sk-run"
echo '{"default":[{"type":"insecureAcceptAnything"}]}' >"$E/policy.json"
printf 'unqualified-search-registries = []\nshort-name-mode = "disabled"\n' >"$E/registries.conf"
cp "$ONSEN_CA" "$E/sk-certs/ca.crt"
sk() {
  env HOME="$E/sk-home" XDG_RUNTIME_DIR="$E/sk-run" CONTAINERS_REGISTRIES_CONF="$E/registries.conf" \
    timeout 180 skopeo --policy "$E/policy.json" --registries.d "$E/registries.d" "$@"
}
# podman (root storage): the CA through /etc/containers/certs.d, a private auth file.
if [ ! -e /etc/containers/policy.json ]; then
  mkdir -p /etc/containers
  cp "$E/policy.json" /etc/containers/policy.json
  deploy_on_exit rm -f /etc/containers/policy.json
fi
mkdir -p "/etc/containers/certs.d/$HP"
deploy_on_exit rm -rf "/etc/containers/certs.d/$HP"
cp "$ONSEN_CA" "/etc/containers/certs.d/$HP/ca.crt"
deploy_on_exit bash -c "podman rmi -f '$IMG:v1' >/dev/null 2>&1"
pm() { timeout 180 podman "$@"; }
# ctr: the private engine's containerd, a namespace of its own, a hosts dir that trusts the CA.
mkdir -p "$E/ctr-hosts/$HP"
cat >"$E/ctr-hosts/$HP/hosts.toml" <<EOF
server = "https://$HP"

[host."https://$HP"]
  capabilities = ["pull", "resolve", "push"]
  ca = "$ONSEN_CA"
EOF
ctr_() { timeout 180 ctr -a "$DKD_DIR/containerd.sock" -n all-clients "$@"; }

# ---------------------------------------------------------------- one wrong password each
code=$(http_req "$E/curl" --cacert "$ONSEN_CA" -u "$DEPLOY_USER:wrong-curl" "$ONSEN_URL/v2/_catalog") || true
body=$(cat "$E/curl.body" 2>/dev/null)
check_auth_refused "curl with a wrong password: 401 UNAUTHORIZED" "$([ "$code" = 200 ] && echo 0 || echo 1)" \
  "$code $body" '^401 .*UNAUTHORIZED'
out=$(sk login --authfile "$E/sk-auth.json" --cert-dir "$E/sk-certs" -u "$DEPLOY_USER" -p wrong-skopeo "$HP" 2>&1) && rc=0 || rc=$?
check_auth_refused "skopeo login with a wrong password: invalid username/password" "$rc" "$out" 'invalid username/password'
out=$(pm login --authfile "$E/pm-auth.json" -u "$DEPLOY_USER" -p wrong-podman "$HP" 2>&1) && rc=0 || rc=$?
check_auth_refused "podman login with a wrong password: invalid username/password" "$rc" "$out" 'invalid username/password'
rc=0; out=$(printf '%s' wrong-docker | dk login "$HP" -u "$DEPLOY_USER" --password-stdin 2>&1) || rc=$?
check_auth_refused "docker login with a wrong password: unauthorized" "$rc" "$out" 'unauthorized'
out=$(ctr_ images pull --hosts-dir "$E/ctr-hosts" --user "$DEPLOY_USER:wrong-ctr" "$IMG:v1" 2>&1) && rc=0 || rc=$?
check_auth_refused "ctr pull with a wrong password: 401 Unauthorized" "$rc" "$out" '401 Unauthorized'

# ---------------------------------------------------------------- then the right one
code=$(http_req "$E/curl-ok" --cacert "$ONSEN_CA" -u "$DEPLOY_USER:$DEPLOY_PASS" "$ONSEN_URL/v2/") || true
check_eq "curl with the right password: 200" 200 "$code"
out=$(sk login --authfile "$E/sk-auth.json" --cert-dir "$E/sk-certs" -u "$DEPLOY_USER" -p "$DEPLOY_PASS" "$HP" 2>&1) && rc=0 || rc=$?
check_eq "skopeo login with the right password" "0 Login Succeeded!" "$rc $out"
check "skopeo copy oci:layout:v1 -> registry" \
  sk copy --authfile "$E/sk-auth.json" --dest-cert-dir "$E/sk-certs" --retry-times 0 "oci:$L:v1" "docker://$IMG:v1"
out=$(pm login --authfile "$E/pm-auth.json" -u "$DEPLOY_USER" -p "$DEPLOY_PASS" "$HP" 2>&1) && rc=0 || rc=$?
check_eq "podman login with the right password" "0 Login Succeeded!" "$rc $out"
check "podman pull of the image skopeo pushed" pm pull -q --authfile "$E/pm-auth.json" "$IMG:v1"
rc=0; out=$(printf '%s' "$DEPLOY_PASS" | dk login "$HP" -u "$DEPLOY_USER" --password-stdin 2>&1) || rc=$?
check_contains "docker login with the right password: Login Succeeded" "Login Succeeded" "$rc $out"
rc=0; out=$(dk pull "$IMG:v1" 2>&1) || rc=$?
check_contains "docker pull of the image skopeo pushed" "Digest: $D1" "$rc $out"
out=$(ctr_ images pull --hosts-dir "$E/ctr-hosts" --user "$DEPLOY_USER:$DEPLOY_PASS" "$IMG:v1" 2>&1) && rc=0 || rc=$?
check_eq "ctr pull with the right password" 0 "$rc"
[ "$rc" = 0 ] || log "$(printf '%s' "$out" | tail -n 5)"
check_eq "ctr pulled the pushed digest" "$D1" \
  "$(ctr_ images ls 2>/dev/null | awk -v r="$IMG:v1" '$1 == r { print $3 }')"

check_not_contains "onsen blocked nobody" "blocked for" "$(cat "$ONSEN_LOG")"
check "onsen is still running" kill -0 "$ONSEN_PID"
stop_onsen || fail "onsen stops on SIGTERM within 15 s"
summary
