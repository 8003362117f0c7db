#!/usr/bin/env bash
# podman (as root, its default storage) against the classic env-only deployment (htpasswd + TLS):
# CA trusted through /etc/containers/certs.d/<host:port>/ca.crt; login, push, rmi, pull, search,
# logout; a two-platform manifest list (manifest create/add/push --all) pulled back with
# --platform linux/arm64; wrong password (tried first: an authentication error, not 429), no
# login and an untrusted CA are refused.
# Everything this script adds to /etc/containers and to podman's storage is removed on exit.
# Usage: bash podman_test.sh PATH-TO-ONSEN
set -euo pipefail
source "$(dirname "$0")/lib.sh"
deploy_init "$@"
deploy_install_deps podman || abort "install dependencies"

W=$(tmpdir onsen)
PORT=$(free_port)
start_onsen_classic "$ONSEN_BIN" "$W" "$PORT" || abort "onsen starts (env-only, TLS + htpasswd)"
HP=$ONSEN_HOSTPORT
E=$(tmpdir podman)

# ---------------------------------------------------------------- host configuration
if [ ! -e /etc/containers/policy.json ]; then
  mkdir -p /etc/containers
  echo '{"default":[{"type":"insecureAcceptAnything"}]}' >/etc/containers/policy.json
  deploy_on_exit rm -f /etc/containers/policy.json
  log "podman: created /etc/containers/policy.json (removed on exit)"
fi
CERTS_D=/etc/containers/certs.d/$HP
mkdir -p "$CERTS_D"
deploy_on_exit rm -rf "$CERTS_D"
cp "$ONSEN_CA" "$CERTS_D/ca.crt"
# podman's default auth file for root; only this registry's entry is touched (and logged out).
unset REGISTRY_AUTH_FILE
deploy_on_exit podman logout "$HP"
# Images this script creates in podman's storage are removed on exit.
cleanup_images() {
  local ids
  ids=$(podman images --format '{{.Repository}}:{{.Tag}}' 2>/dev/null | grep -F -e "$HP/" -e "localhost/deploy-podman-$PORT" || true)
  [ -z "$ids" ] || podman rmi -f $ids >/dev/null 2>&1 || true
  podman manifest rm "$HP/deploy/multi:latest" >/dev/null 2>&1 || true
}
deploy_on_exit cleanup_images
CREATED_IDS=()
# shellcheck disable=SC2016  # expanded at exit
deploy_on_exit eval 'for i in "${CREATED_IDS[@]}"; do podman rmi -f "$i"; done'
# load_layout_image TAG [--arch A]: pulls oci:$L:TAG into podman's storage, drops the name podman
# derives from the layout path, prints the image id.
load_layout_image() {
  local tag=$1 out id; shift
  out=$(pm pull -q "$@" "oci:$L:$tag" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
  id=$(printf '%s\n' "$out" | tail -n 1)
  CREATED_IDS+=("$id")
  podman untag "$id" >/dev/null 2>&1 || true
  printf '%s\n' "$id"
}
pm() { timeout 180 podman "$@"; }

L=$(tmpdir layout)
make_image "$L" v1 --seed podman >/dev/null
make_image "$L" multi --seed podman-multi --platforms linux/amd64,linux/arm64 >/dev/null
CONFIG1=$(jq -r .config.digest "$L/blobs/sha256/$(oci_index_digest "$L" v1 | cut -d: -f2)")
IMG=$HP/deploy/podman

# ---------------------------------------------------------------- refusals
# A wrong password first (issue 9): an authentication error, never 429; the right one follows.
out=$(pm login -u "$DEPLOY_USER" -p wrong-password "$HP" 2>&1) && rc=0 || rc=$?
check_auth_refused "podman login with a wrong password: invalid username/password" "$rc" "$out" 'invalid username/password'
mkdir -p "$E/other-ca"
make_tls "$E/other-ca" "$REGISTRY_NAME" && rm -f "$E/other-ca/$REGISTRY_NAME.key"
out=$(pm login --cert-dir "$E/other-ca" -u "$DEPLOY_USER" -p "$DEPLOY_PASS" "$HP" 2>&1) && rc=0 || rc=$?
if [ $rc != 0 ]; then pass "podman login trusting a different CA is refused"; else fail "podman login trusting a different CA is refused" "$out"; fi
check_contains "wrong CA: x509 error" "x509: certificate signed by unknown authority" "$out"

# Load the generated image into podman's storage (from the OCI layout; no network).
ID1=$(load_layout_image v1 2>&1) || true
check_eq "podman pull oci:LAYOUT:v1 loads the image (image id = config digest)" "${CONFIG1#sha256:}" "$ID1"
check "podman tag" pm tag "$ID1" "$IMG:v1"

echo '{"auths":{}}' >"$E/empty-auth.json"
out=$(pm push --authfile "$E/empty-auth.json" "$IMG:v1" 2>&1) && rc=0 || rc=$?
if [ $rc != 0 ]; then pass "push without login is refused"; else fail "push without login is refused" "$out"; fi
check_contains "no login: authentication required" "authentication required" "$out"
# A push sends several requests at once (config and layers) with the same wrong password.
out=$(pm push --authfile "$E/empty-auth.json" --creds "$DEPLOY_USER:wrong-password" "$IMG:v1" 2>&1) && rc=0 || rc=$?
check_auth_refused "push with --creds and a wrong password: authentication error" "$rc" "$out"

# ---------------------------------------------------------------- login, push, pull
out=$(printf '%s\n' "$DEPLOY_PASS" | pm login -u "$DEPLOY_USER" --password-stdin "$HP" 2>&1) && rc=0 || rc=$?
check_eq "podman login (CA from /etc/containers/certs.d)" "0 Login Succeeded!" "$rc $out"
check "podman push" pm push --digestfile "$E/v1.digest" "$IMG:v1"
D1=$(cat "$E/v1.digest" 2>/dev/null || true)
code=$(ocurl -o /dev/null -w '%{http_code}' -H "Accept: application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json" \
  "$ONSEN_URL/v2/deploy/podman/manifests/$D1") || true
check_eq "pushed manifest is in the registry under podman's digest" 200 "$code"
check "podman rmi" pm rmi "$IMG:v1"
check_fail "image is gone locally" podman image exists "$IMG:v1"
check "podman pull $IMG:v1" pm pull -q "$IMG:v1"
check_eq "pulled image has the original image id" "$ID1" "$(podman image inspect --format '{{.Id}}' "$IMG:v1" 2>&1)"
check_eq "pulled image records the pushed digest" "$D1" "$(podman image inspect --format '{{.Digest}}' "$IMG:v1" 2>&1)"
out=$(pm search --format '{{.Name}}' "$HP/deploy" 2>&1) || true
check_contains "podman search lists the repository (via /v2/_catalog)" "$HP/deploy/podman" "$out"
# (podman 4.3 ignores --format with --list-tags: a NAME TAG table)
out=$(pm search --list-tags "$IMG" 2>&1) || true
check_eq "podman search --list-tags" "$IMG v1" "$(printf '%s\n' "$out" | awk 'NR > 1 { print $1, $2 }')"

# ---------------------------------------------------------------- multi-arch manifest list
# Platform images go in first (each pulled from the layout's index with --arch), then a list
# referencing them is built and pushed with --all.
ok=1
declare -A ARCH_ID=()
for arch in amd64 arm64; do
  id=$(load_layout_image multi --arch "$arch" 2>&1) || { ok=0; fail "load the linux/$arch image from the layout" "$id"; continue; }
  got=$(podman image inspect --format '{{.Architecture}}' "$id" 2>&1)
  [ "$got" = "$arch" ] || { ok=0; fail "loaded image is $arch" "got $got"; }
  if ! { pm tag "$id" "$HP/deploy/multi:$arch" && pm push -q "$HP/deploy/multi:$arch" >/dev/null 2>&1; }; then
    ok=0; fail "push the $arch image"
  fi
  ARCH_ID[$arch]=$id
done
[ $ok = 1 ] && pass "pushed one image per platform (amd64, arm64)"
LIST=$HP/deploy/multi:latest
check "podman manifest create" pm manifest create "$LIST"
check "podman manifest add (amd64, from the registry)" pm manifest add "$LIST" "docker://$HP/deploy/multi:amd64"
check "podman manifest add (arm64, from the registry)" pm manifest add --arch arm64 "$LIST" "docker://$HP/deploy/multi:arm64"
out=$(podman manifest inspect "$LIST" 2>&1) || true
check_eq "local list has both platforms" "amd64 arm64" "$(printf '%s' "$out" | jq -r '[.manifests[].platform.architecture] | sort | join(" ")' 2>&1)"
check "podman manifest push --all" pm manifest push --all --digestfile "$E/list.digest" "$LIST" "docker://$LIST"
DL=$(cat "$E/list.digest" 2>/dev/null || true)
ocurl -o "$E/list.json" -H "Accept: application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json" \
  "$ONSEN_URL/v2/deploy/multi/manifests/latest" || true
check_eq "registry serves the list with both platforms" "amd64 arm64" \
  "$(jq -r '[.manifests[].platform.architecture] | sort | join(" ")' "$E/list.json" 2>&1)"
check_eq "registry's list bytes match podman's digest" "$DL" "$(sha256_file "$E/list.json")"
pm manifest rm "$LIST" >/dev/null 2>&1 || true
pm rmi -f "$HP/deploy/multi:amd64" "$HP/deploy/multi:arm64" >/dev/null 2>&1 || true
out=$(pm pull -q --platform linux/arm64 "$LIST" 2>&1) && rc=0 || rc=$?
check_eq "podman pull --platform linux/arm64 of the list" 0 "$rc"
check_eq "pulled image is the arm64 one" "arm64 ${ARCH_ID[arm64]:-?}" \
  "$(podman image inspect --format '{{.Architecture}} {{.Id}}' "$LIST" 2>&1)"
pm rmi -f "$LIST" >/dev/null 2>&1 || true
out=$(pm pull -q --platform linux/amd64 "$LIST" 2>&1) || true
check_eq "podman pull --platform linux/amd64 of the list" "amd64 ${ARCH_ID[amd64]:-?}" \
  "$(podman image inspect --format '{{.Architecture}} {{.Id}}' "$LIST" 2>&1)"

# ---------------------------------------------------------------- logout
out=$(pm logout "$HP" 2>&1) && rc=0 || rc=$?
check_eq "podman logout" 0 "$rc"
pm rmi -f "$IMG:v1" >/dev/null 2>&1 || true
out=$(pm pull "$IMG:v1" 2>&1) && rc=0 || rc=$?
if [ $rc != 0 ]; then pass "pull after logout is refused"; else fail "pull after logout is refused" "$out"; fi
check_contains "after logout: 401 unauthorized" "unauthorized" "$out"
out=$(pm pull --cert-dir "$E/other-ca" --creds "$DEPLOY_USER:$DEPLOY_PASS" "$IMG:v1" 2>&1) && rc=0 || rc=$?
if [ $rc != 0 ]; then pass "pull with valid credentials but an untrusted CA is refused"; else fail "pull with an untrusted CA is refused" "$out"; fi
check_contains "untrusted CA: x509 error" "x509: certificate signed by unknown authority" "$out"
check "pull with --creds (no login) works" pm pull -q --creds "$DEPLOY_USER:$DEPLOY_PASS" "$IMG:v1"

check "onsen is still running" kill -0 "$ONSEN_PID"
stop_onsen || fail "onsen stops on SIGTERM within 15 s"
summary
